"""ArviZ interoperability: the log_likelihood group, PSIS-LOO and the PyMC model a posterior belongs to."""

from __future__ import annotations

import json
from contextlib import nullcontext

import arviz_stats as azs
import numpy as np
import pymc as pm
import pytensor
import pytest
import xarray as xr
from scipy.special import logsumexp

import pbnn
from pbnn import layers as L
from pbnn.elpd import loo


@pytest.fixture(scope="module")
def sine_fit():
    ds = pbnn.datasets.sine(n_samples=64)
    fit = pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, steps=1500, draws=100, seed=0, progressbar=False)
    return ds, fit


def test_log_likelihood_group_is_pymcs_pointwise_log_likelihood(quick_fit):
    group = quick_fit.idata["log_likelihood"]["y"]
    assert group.dims == ("chain", "draw", "obs")
    assert group.shape == (1, 200, quick_fit.idata["observed_data"].sizes["obs"])
    ll = pm.compute_log_likelihood(quick_fit.idata, model=quick_fit.model(), extend_inferencedata=False,
                                   progressbar=False, compile_kwargs={"mode": "JAX"})
    np.testing.assert_allclose(ll["y"].values, group.values, rtol=0, atol=1e-10)
    result = loo(quick_fit, pointwise=True)
    assert np.isfinite(result.elpd) and result.elpd < 0 and result.pareto_k.shape == (group.sizes["obs"],)
    assert azs.loo(quick_fit.idata).elpd == pytest.approx(result.elpd)


def test_regression_log_likelihood_is_in_the_units_of_y(sine_fit):
    ds, fit = sine_fit
    scale = fit.idata.attrs["pbnn_y_scale"]
    assert scale != pytest.approx(1.0)
    ll = pm.compute_log_likelihood(fit.idata, model=fit.model(), extend_inferencedata=False, progressbar=False,
                                   compile_kwargs={"mode": "JAX"})
    np.testing.assert_allclose(ll["y"].values - np.log(scale), fit.idata["log_likelihood"]["y"].values, atol=1e-10)
    # the held-out group on the training points is the training group
    pred = fit.predict(ds.X_train, ds.y_train)
    np.testing.assert_allclose(pred["log_likelihood"]["y"].values, fit.idata["log_likelihood"]["y"].values, atol=1e-10)
    held_out = fit.predict(ds.X_test, ds.y_test)["log_likelihood"]["y"]
    assert held_out.shape == (1, 100, len(ds.y_test)) and np.isfinite(held_out.values).all()


def test_map_fit_says_why_loo_does_not_apply(small_moons):
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="map", steps=300,
                   seed=0, progressbar=False)
    assert "log_likelihood" not in fit.idata.children
    with pytest.raises(ValueError, match="one draw"):
        loo(fit)
    assert fit.predict(small_moons.X_test, small_moons.y_test)["log_likelihood"]["y"].shape[:2] == (1, 1)


def test_fit_model_takes_pymcs_model_transforms(quick_fit):
    model = quick_fit.model()
    assert all(v is None for v in model.rvs_to_initial_values.values())
    copy = model.copy()
    assert set(copy.named_vars) == set(model.named_vars)
    frozen = pm.model.transform.freeze_dims_and_data(model)
    assert frozen["X"].data.shape == quick_fit.idata["constant_data"]["X"].shape
    fixed = pm.do(model, {"w_3": np.zeros((5, 1))})
    assert "w_3" not in {rv.name for rv in fixed.free_RVs}


def test_predict_checks_the_targets(quick_fit, small_moons):
    with pytest.raises(ValueError, match=r"y: expected one target per row of X"):
        quick_fit.predict(small_moons.X_test, small_moons.y_test[:-1])


def test_variational_draws_are_marked_and_the_elbo_history_kept_apart(quick_fit):
    assert "independent draws" in quick_fit.posterior.attrs["pbnn_draws"]
    assert "step" not in quick_fit.idata["sample_stats"].dims
    assert quick_fit.optimizer_stats["elbo"].dims == ("step",) and quick_fit.optimizer_stats.sizes["step"] == 1500


def test_posterior_predictive_replicates_y_and_plots(quick_fit):
    import arviz_plots as azp

    fit = pbnn.Fit(quick_fit.spec, quick_fit.idata.copy())
    replicates = fit.posterior_predictive(seed=1)
    assert replicates["y"].dims == ("chain", "draw", "obs") and replicates["y"].shape == (1, 200, 100)
    assert set(np.unique(replicates["y"].values)) == {0, 1}
    assert float(replicates["y"].mean()) == pytest.approx(float(fit.idata["observed_data"]["y"].mean()), abs=0.1)
    assert "posterior_predictive" in fit.idata.children and "posterior_predictive" not in quick_fit.idata.children
    assert azp.plot_ppc_dist(fit.idata, num_samples=20) is not None


def test_regression_replicates_are_in_the_units_of_y(sine_fit):
    ds, fit = sine_fit
    replicates = pbnn.Fit(fit.spec, fit.idata.copy()).posterior_predictive(seed=0)["y"]
    assert float(replicates.mean()) == pytest.approx(float(np.mean(ds.y_train)), abs=0.2 * np.std(ds.y_train))
    assert float(replicates.std()) == pytest.approx(float(np.std(ds.y_train)), rel=0.3)


def test_prior_predictive(small_moons):
    import arviz_plots as azp

    tree = pbnn.prior_predictive(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, draws=40)
    assert tree["prior_predictive"]["y"].shape == (1, 40, len(small_moons.y_train))
    assert tree["prior"]["w_1"].dims == ("chain", "draw", "input", "hidden_1")
    assert azp.plot_ppc_dist(tree, group="prior_predictive", num_samples=10) is not None


@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
def test_vi_khat_is_finite_and_in_diagnose(small_moons, method):
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method=method, steps=1500,
                   draws=200, seed=0, progressbar=False)
    log_q = fit.idata["sample_stats"]["log_q"]
    assert log_q.dims == ("chain", "draw") and np.isfinite(log_q.values).all()
    khat = pbnn.elpd.vi_khat(fit)
    assert np.isfinite(khat) and khat > 0
    # moons' model has no transforms: log p(theta, y) is the Normal prior of the weights plus the log-likelihood
    from scipy.stats import norm

    prior = sum(norm.logpdf(fit.posterior[name].values, 0.0, fit.spec.prior.sigma).reshape(1, 200, -1).sum(-1)
                for name in ("w_1", "w_2", "w_3"))
    expected = prior + fit.idata["log_likelihood"]["y"].sum("obs").values
    np.testing.assert_allclose(pbnn.elpd.log_joint(fit).values, expected, rtol=1e-10)
    row = {c.name: c for c in pbnn.diagnose(fit).checks}["Pareto k-hat of p/q"]
    assert row.value == pytest.approx(khat) and row.status == ("ok" if khat < 0.7 else "WARN")


def _pymc_probabilities(model, idata, X):
    """PyMC's own ``p`` of every draw of ``idata`` at inputs ``X`` (the model's Deterministic)."""
    with model:
        pm.set_data({"X": X, "target": np.zeros(len(X), dtype=np.int64)}, coords={"obs": range(len(X))})
        return pm.compute_deterministics(idata["posterior"].to_dataset(), var_names=["p"], progressbar=False,
                                         compile_kwargs={"mode": "JAX"})["p"].values


def test_fit_from_pm_fit_predicts_as_pymc(small_moons):
    spec = pbnn.zoo.two_layer_tanh()
    model = spec.build(small_moons.X_train, small_moons.y_train)
    with model, pytensor.config.change_flags(mode="FAST_COMPILE"):  # small graphs: quick to compile on a cold cache
        idata = pm.fit(300, progressbar=False, random_seed=0).sample(40, random_seed=1)
    fit = pbnn.Fit.from_pymc(spec, idata, small_moons.X_train, small_moons.y_train)
    assert fit.method == "advi" and fit.idata["log_likelihood"]["y"].shape == (1, 40, len(small_moons.y_train))
    p = fit.predict(small_moons.X_test)["predictions"]["p"].values
    np.testing.assert_allclose(p, _pymc_probabilities(model, idata, small_moons.X_test), rtol=0, atol=1e-10)
    assert fit.predict(small_moons.X_test).uncertainty()["entropy"].sizes["obs"] == len(small_moons.y_test)
    assert pbnn.diagnose(fit).checks


def test_fit_from_pymc_names_missing_parameters(small_moons):
    import xarray as xr

    idata = xr.DataTree.from_dict({"posterior": xr.Dataset({"w_1": (("chain", "draw", "a", "b"), np.zeros((1, 2, 2, 5)))})})
    with pytest.raises(pbnn.DataError, match="the posterior lacks w_2, w_3"):
        pbnn.Fit.from_pymc(pbnn.zoo.two_layer_tanh(), idata, small_moons.X_train, small_moons.y_train)


@pytest.mark.slow
def test_advi_fullrank_and_nuts_compare_with_arviz(small_moons):
    X, y = small_moons.X_train, small_moons.y_train
    spec = pbnn.zoo.two_layer_tanh()
    fits = {m: pbnn.fit(spec, X, y, method=m, steps=4000, draws=400, seed=0, progressbar=False)
            for m in ("advi", "fullrank_advi")}
    fits["nuts"] = pbnn.fit(spec, X, y, method="nuts", sampler="numpyro", draws=200, tune=300, chains=2, seed=0,
                            progressbar=False)
    table = azs.compare({m: f.idata for m, f in fits.items()})
    assert set(table.index) == set(fits) and np.isfinite(table["elpd"]).all() and table["rank"].min() == 0
    # log p of the draws is the model's logp with the Jacobian: NUTS's sample_stats.lp
    nuts = fits["nuts"]
    np.testing.assert_allclose(pbnn.elpd.log_joint(nuts).values, nuts.idata["sample_stats"]["lp"].values, atol=1e-6)
    for m in ("advi", "fullrank_advi"):
        assert np.isfinite(pbnn.elpd.vi_khat(fits[m]))


@pytest.mark.slow
def test_fit_from_pm_sample_predicts_as_pymc(small_moons):
    spec = pbnn.zoo.two_layer_tanh()
    model = spec.build(small_moons.X_train, small_moons.y_train)
    with model:
        idata = pm.sample(draws=50, tune=100, chains=2, nuts_sampler="numpyro", random_seed=0, progressbar=False)
    fit = pbnn.Fit.from_pymc(spec, idata, small_moons.X_train, small_moons.y_train)
    assert fit.method == "nuts"
    p = fit.predict(small_moons.X_test)["predictions"]["p"].values
    np.testing.assert_allclose(p, _pymc_probabilities(model, idata, small_moons.X_test), rtol=0, atol=1e-10)
    assert "r_hat (max)" in {c.name for c in pbnn.diagnose(fit).checks}
    assert np.isfinite(azs.loo(fit.idata).elpd)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:nuts. function-space r_hat")  # 1.02 for these two short chains (warned)
def test_loo_of_a_nuts_regression_fit_agrees_with_the_held_out_log_likelihood():
    # raw diabetes (353 training, 89 test patients), an 8-unit tanh network, NUTS numpyro 2 x (200 + 200).
    # Measured: elpd_loo -1909.1 +- 12.2 (-5.408 +- 0.035 per point), no k > 0.7 (max 0.60); held-out
    # log predictive density -5.504 +- 0.104 per point: 0.096 apart, within the 0.110 se of the difference.
    ds = pbnn.datasets.diabetes(seed=0, scaled=False)
    spec = pbnn.BNN([L.Dense(8, activation="tanh"), L.Dense(1)], likelihood="normal")
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, method="nuts", sampler="numpyro", draws=200, tune=200, chains=2,
                   seed=0, progressbar=False)
    result = loo(fit, pointwise=True)
    n = len(ds.y_train)
    assert np.isfinite(result.elpd) and np.mean(np.asarray(result.pareto_k) > 0.7) < 0.1
    held_out = fit.predict(ds.X_test, ds.y_test)["log_likelihood"]["y"].values.reshape(-1, len(ds.y_test))
    lpd = logsumexp(held_out, axis=0) - np.log(len(held_out))  # per test point
    se = np.hypot(result.se / n, lpd.std(ddof=1) / np.sqrt(len(lpd)))
    assert abs(result.elpd / n - lpd.mean()) < se, (result.elpd / n, lpd.mean(), se)


@pytest.mark.parametrize("q_sd, khat_range", [(0.5, (0.55, 0.95)), (0.3, (0.7, 1.1)), (2.0, (-np.inf, 0.5))])
def test_psis_weights_follow_the_tail_of_p_over_q(q_sd, khat_range):
    # p = N(0, 1), q = N(0, q_sd): for q_sd < 1 the ratios' tail has k = 1 - q_sd^2 (0.75, 0.91); for q_sd > 1
    # they are bounded. In a heavy tail the largest smoothed weight stays with the largest ratio.
    from scipy.stats import norm

    theta = np.random.default_rng(0).normal(0.0, q_sd, size=(2, 2000))
    ratios = xr.DataArray(norm.logpdf(theta) - norm.logpdf(theta, 0.0, q_sd), dims=("chain", "draw"))
    log_w, khat = pbnn.elpd.psis_weights(ratios)
    assert khat_range[0] < khat < khat_range[1]
    assert log_w.dims == ("chain", "draw")
    if q_sd < 1:
        assert np.argmax(log_w.values) == np.argmax(ratios.values)


def test_psis_reweighted_predictions_resample_the_draws(quick_fit, small_moons):
    khat = pbnn.elpd.vi_khat(quick_fit)
    resampled, psis_khat = pbnn.elpd.psis_posterior(quick_fit)
    assert psis_khat == pytest.approx(khat) and resampled["w_1"].shape == quick_fit.posterior["w_1"].shape
    original = quick_fit.posterior["w_1"].values.reshape(200, -1)
    picked = resampled["w_1"].values.reshape(200, -1)
    index = [int(np.flatnonzero((original == row).all(axis=1))[0]) for row in picked]  # every draw is an original one
    log_w, _ = pbnn.elpd.psis_weights(pbnn.elpd.log_joint(quick_fit) - quick_fit.idata["sample_stats"]["log_q"])
    assert np.bincount(index, minlength=200).argmax() == np.argmax(log_w.values.ravel())  # the heaviest draw most often
    with pytest.warns(UserWarning, match=r"reweight='psis': Pareto k-hat [\d.]+ >= 0.7") if khat >= 0.7 else nullcontext():
        pred = quick_fit.predict(small_moons.X_test, reweight="psis")
    plain = quick_fit.predict(small_moons.X_test)["predictions"]["p"].values[0]
    np.testing.assert_array_equal(pred["predictions"]["p"].values[0], plain[index])
    assert pred.idata.attrs["pbnn_psis_khat"] == pytest.approx(khat)
    with pytest.raises(ValueError, match=r"^reweight: expected None or 'psis', got 'is'$"):
        quick_fit.predict(small_moons.X_test, reweight="is")


def test_a_map_fit_cannot_be_reweighted(small_moons):
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="map", steps=300,
                   seed=0, progressbar=False)
    with pytest.raises(ValueError, match=r"^reweight: a map fit cannot be reweighted: PSIS reweights draws of an "
                                         r"approximation with their log q \(advi, fullrank_advi, flow_vi, laplace\)$"):
        fit.predict(small_moons.X_test, reweight="psis")
    with pytest.raises(ValueError, match="vi_khat: this map fit has no log q"):
        pbnn.elpd.vi_khat(fit)


@pytest.mark.slow
def test_laplace_log_q_is_its_gaussians_density_and_gives_a_khat(small_moons):
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="laplace", draws=400,
                   seed=0, progressbar=False)
    log_q = fit.idata["sample_stats"]["log_q"]
    assert log_q.dims == ("chain", "draw") and np.isfinite(log_q.values).all()
    # -2 log q of a Gaussian's own draws is chi^2 with D = 40 degrees of freedom plus a constant: var(log q) = D/2
    # (a draw laid out in the wrong order would not be)
    assert 0.7 * 20 < float(log_q.var()) < 1.3 * 20
    khat = pbnn.elpd.vi_khat(fit)
    row = {c.name: c for c in pbnn.diagnose(fit).checks}["Pareto k-hat of p/q"]
    assert np.isfinite(khat) and row.value == pytest.approx(khat)


@pytest.mark.slow
def test_pathfinder_khat_is_pymc_extras_own(small_moons):
    # backend="python": nothing to compile (8 s on a cold PyTensor cache, as CI's; numba 139 s)
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="pathfinder",
                   draws=100, backend="python", seed=0, progressbar=False)
    assert json.loads(fit.idata.attrs["pbnn_options"])["backend"] == "python"
    stored = fit.idata["sample_stats"].attrs["pareto_k"]
    assert np.isfinite(stored) and pbnn.elpd.vi_khat(fit) == stored
    assert {c.name: c for c in pbnn.diagnose(fit).checks}["Pareto k-hat of p/q"].value == pytest.approx(stored)
    with pytest.raises(ValueError, match="^reweight: a pathfinder fit cannot be reweighted: its draws are already "
                                         "resampled by PSIS$"):
        fit.predict(small_moons.X_test, reweight="psis")
