"""method="flow_vi" (pbnn/inference/flow_vi.py): numpyro's IAF / BNAF on the unconstrained space, by pbnn's loop."""

from __future__ import annotations

import re
import warnings

import jax
import numpy as np
import pymc as pm
import pytest
from scipy.stats import norm

import pbnn
from pbnn.inference import flow_vi, methods
from pbnn.inference.jax_advi import fit_advi


def test_the_untrained_flow_is_advis_starting_gaussian_in_numpyros_parameter_layout():
    assert tuple(flow_vi.FLOWS) == methods.FLOW_KINDS
    loc = np.array([1.0, -2.0, 0.5])
    for kind in flow_vi.FLOWS:
        shape = flow_vi.flow_shape(3, kind, layers=2, hidden=2)
        mine = shape.init(0)
        # the layout of numpyro's own init_fun (traced, not compiled)
        ref = [jax.eval_shape(lambda k, init=init: init(k, (3,))[1], jax.random.key(0)) for init, _ in shape.networks]
        assert jax.tree.structure(ref) == jax.tree.structure(mine)
        assert [a.shape for a in jax.tree.leaves(ref)] == [np.shape(b) for b in jax.tree.leaves(mine)]
        if kind == "bnaf":  # every layer's residual gate: 0.95 x + 0.05 f(x)
            assert all(float(layer[-1]) == flow_vi.BNAF_GATE_LOGIT for layer in mine)
    shape = flow_vi.flow_shape(3, "iaf", layers=2, hidden=2)
    params = {"loc": loc, "rho": np.full(3, np.log(np.expm1(0.1))), "flows": shape.init(0)}
    z, log_q = jax.jit(lambda p: flow_vi._sample(shape, p, jax.random.key(1), 500))(params)
    # the IAF's output layer is zero: exactly N(loc, 0.1^2), ADVI's start
    np.testing.assert_allclose(log_q, norm.logpdf(np.asarray(z), loc, 0.1).sum(axis=1), atol=1e-10)


@pytest.fixture(scope="module")
def banana():
    """x1 ~ N(0, 1), x2 | x1 ~ N(x1^2, 0.5): E x2 = 1, sd(x2) = sqrt(2 + 0.25) = 1.5, a normalised density."""
    with pm.Model() as model:
        x1 = pm.Normal("x1", 0.0, 1.0)
        pm.Normal("x2", x1**2, 0.5)
    return model


@pytest.mark.slow
def test_the_flow_matches_a_banana_better_than_meanfield_advi(banana):
    kw = dict(steps=2000, data_names=(), learning_rate=0.01, n_mc=8, seed=0)
    flow = flow_vi.fit_flow(banana, flow="iaf", **kw)
    z, log_q = flow.sample(4000, seed=1)
    advi = fit_advi(banana, init_scale=0.1, **kw)
    truth = {"mean x2": 1.0, "sd x2": 1.5, "sd x1": 1.0}
    flow_moments = {"mean x2": z[:, 1].mean(), "sd x2": z[:, 1].std(), "sd x1": z[:, 0].std()}
    advi_moments = {"mean x2": advi.mean[1], "sd x2": advi.std[1], "sd x1": advi.std[0]}
    # measured: flow 0.62, 1.06, 0.79; mean-field ADVI 0.19, 0.53, 0.48 (the flow's errors 0.4-0.47 of ADVI's)
    for name, value in truth.items():
        flow_error, advi_error = abs(flow_moments[name] - value), abs(advi_moments[name] - value)
        assert flow_error < 0.45 and flow_error < 0.6 * advi_error, (name, flow_moments[name], advi_moments[name])
    # log p is normalised, so -ELBO is KL(q || p): 0.16 for the flow, 0.54 for mean field
    assert flow.elbo[-200:].mean() > -0.25 > -0.4 > advi.elbo[-200:].mean()
    # the stored log q is the flow's density: numpyro's log_prob, inverting the IAF, agrees
    np.testing.assert_allclose(jax.jit(flow.distribution().log_prob)(z[:100]), log_q[:100], rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_a_warm_start_begins_the_flow_where_meanfield_advi_ends(banana):
    warm = {"steps": 1500, "learning_rate": 0.01, "mc_samples": 8}
    kw = dict(data_names=(), n_mc=8, seed=0)
    _, _, warm_seed = np.random.SeedSequence(0).generate_state(3)
    advi = fit_advi(banana, steps=1500, learning_rate=0.01, init_scale=0.1, data_names=(), n_mc=8,
                    seed=int(warm_seed))
    still = flow_vi.fit_flow(banana, steps=1, learning_rate=1e-12, warm_start=warm, **kw)
    np.testing.assert_allclose(still.params["loc"], advi.mean, atol=1e-9)
    np.testing.assert_allclose(jax.nn.softplus(still.params["rho"]), advi.scale, atol=1e-9)
    flow = flow_vi.fit_flow(banana, steps=1500, learning_rate=0.01, warm_start=warm, **kw)
    # -ELBO is KL(q || p) (p normalised): measured 0.63 for mean field at its end, 0.16 for the flow after it
    advi_kl, flow_kl = -advi.elbo[-200:].mean(), -flow.elbo[-200:].mean()
    assert flow_kl < 0.25 and flow_kl < advi_kl - 0.3, (advi_kl, flow_kl)


def test_the_warm_start_reports_its_steps_first_and_ctrl_c_in_it_keeps_its_gaussian_so_far(banana):
    warm = {"steps": 2000, "learning_rate": 0.01}
    kw = dict(data_names=(), seed=0, chunk_size=500)
    seen = []
    full = flow_vi.fit_flow(banana, steps=1000, learning_rate=0.001, warm_start=warm,
                            callback=lambda done, elbo: seen.append(done), **kw)
    assert seen == [1000, 2000, 2500, 3000] and full.warm_start_steps == 2000  # fit_advi's chunks are 1000 steps

    def ctrl_c_at_1000(done, elbo):
        if done >= 1000:
            raise KeyboardInterrupt
    stopped = flow_vi.fit_flow(banana, steps=1000, learning_rate=0.001, warm_start=warm, callback=ctrl_c_at_1000, **kw)
    assert stopped.warm_start_interrupted and stopped.warm_start_steps == 1000 and stopped.loop_result.steps == 0
    _, _, warm_seed = np.random.SeedSequence(0).generate_state(3)
    advi = fit_advi(banana, steps=1000, learning_rate=0.01, init_scale=0.1, data_names=(), seed=int(warm_seed))
    np.testing.assert_allclose(stopped.params["loc"], advi.mean, atol=1e-12)
    np.testing.assert_allclose(jax.nn.softplus(stopped.params["rho"]), advi.scale, atol=1e-12)


def test_ctrl_c_before_the_warm_starts_first_step_is_not_swallowed(banana, monkeypatch):
    from pbnn.inference import jax_advi

    def compiling(*args, **kwargs):  # Ctrl-C while the loop compiles: no step done, nothing to keep
        raise KeyboardInterrupt
    monkeypatch.setattr(jax_advi, "fit_advi", compiling)
    with pytest.raises(KeyboardInterrupt):
        flow_vi.fit_flow(banana, steps=10, warm_start={"steps": 100}, data_names=(), seed=0)


@pytest.mark.parametrize(("warm", "expected"), [({"steps": 5}, 32), ({"steps": 5, "batch_size": None}, None)])
def test_the_warm_start_minibatches_as_the_flow_unless_told(monkeypatch, warm, expected):
    from pbnn.inference import jax_advi

    seen = {}

    def recording(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(jax_advi, "fit_advi", recording)
    with pm.Model() as model:
        y = pm.Data("y", np.linspace(-1.0, 1.0, 100))
        pm.Normal("obs", pm.Normal("mu"), pm.HalfNormal("sd"), observed=y)
    with pytest.raises(KeyboardInterrupt):
        flow_vi.fit_flow(model, steps=10, batch_size=32, warm_start=warm, data_names=("y",), seed=0)
    assert seen["batch_size"] == expected


def test_pbnn_fits_bar_counts_the_warm_start_and_ctrl_c_in_it_returns_its_gaussian(small_moons, interrupt_at):
    interrupt_at(1000, label="flow VI", value_name="ELBO")
    with pytest.warns(UserWarning, match=re.escape(
            "flow VI interrupted in its warm start after 1000 of 3000 mean-field ADVI steps: returning the flow at "
            "its start (the warm start's Gaussian so far), without a flow step")):
        fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="flow_vi",
                       steps=200, draws=50, warm_start={"steps": 3000, "learning_rate": 0.01}, seed=0,
                       progressbar=False)
    assert fit.posterior.sizes["draw"] == 50 and fit.idata["optimizer_stats"]["elbo"].size == 0
    assert np.isfinite(fit.idata["sample_stats"]["log_q"].values).all()
    assert fit.predict(small_moons.X_test).accuracy(small_moons.y_test) > 0.75


@pytest.mark.slow
def test_moons_fit_runs_through_pbnn_fit_with_the_flows_log_q(small_moons, monkeypatch):
    fitted = []
    original = flow_vi.fit_flow
    monkeypatch.setattr(flow_vi, "fit_flow", lambda *a, **k: fitted.append(original(*a, **k)) or fitted[-1])
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, method="flow_vi", steps=300,
                   draws=200, seed=0, progressbar=False)
    assert fit.method == "flow_vi" and fit.posterior.sizes["draw"] == 200
    elbo = fit.idata["optimizer_stats"]["elbo"].values
    assert elbo.shape == (300,) and np.isfinite(elbo).all() and elbo[-20:].mean() > elbo[0] + 30
    assert fit.idata["optimizer_stats"].attrs["pbnn_run_seconds"] > 0
    assert fit.predict(small_moons.X_test).accuracy(small_moons.y_test) > 0.75
    # log_q of each draw = numpyro's TransformedDistribution.log_prob of that draw (the IAF inverted)
    log_q = fit.idata["sample_stats"]["log_q"]
    assert log_q.dims == ("chain", "draw") and log_q.shape == (1, 200)
    (result,) = fitted
    names = result._fns.value_names  # w_1, w_2, w_3: untransformed, so the draws are the unconstrained values
    flat = np.concatenate([fit.posterior[n].values[0].reshape(200, -1) for n in names], axis=1)
    np.testing.assert_allclose(jax.jit(result.distribution().log_prob)(flat), log_q.values[0], rtol=1e-9)
    khat = pbnn.elpd.vi_khat(fit)
    assert np.isfinite(khat) and khat > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-hat >= 0.7 warns
        pred = fit.predict(small_moons.X_test, reweight="psis")
    assert pred.idata.attrs["pbnn_psis_khat"] == pytest.approx(khat)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"flow": "maf"}, ValueError, "flow: unknown flow 'maf'; expected one of iaf, bnaf"),
        ({"layers": 0}, ValueError, "layers: expected a positive integer, got 0"),
        ({"hidden": 1.5}, ValueError, "hidden: expected a positive integer, got 1.5"),
        ({"mc_samples": 0}, ValueError, "mc_samples: expected a positive integer, got 0"),
        ({"learning_rate": -1}, ValueError, "learning_rate: expected a positive number, got -1"),
        ({"optimizer": "adam"}, TypeError,
         "optimizer: expected an optax.GradientTransformation (e.g. optax.adam(0.01)), got str"),
        ({"tune": 5}, TypeError, "tune: not an option of method 'flow_vi'; its options are flow, layers, hidden, "
         "steps, batch_size, learning_rate, final_learning_rate, mc_samples, draws, init_scale, warm_start, device, "
         "optimizer"),
        ({"warm_start": 2000}, ValueError, "warm_start: expected a mapping of mean-field ADVI options with steps, "
         "e.g. {'steps': 20000, 'learning_rate': 0.003}, got 2000"),
        ({"warm_start": {"steps": 100, "draws": 5}}, ValueError, "warm_start: draws: not an option of the warm "
         "start; it takes steps, batch_size, learning_rate, final_learning_rate, mc_samples, init_scale"),
        ({"warm_start": {"steps": 0}}, ValueError, "warm_start.steps: expected a positive integer, got 0"),
    ],
)
def test_bad_options_name_the_field_and_the_form(small_moons, options, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, "flow_vi", progressbar=False,
                 **options)


def test_a_one_dimensional_posterior_is_sent_to_advi():
    with pytest.raises(ValueError, match=re.escape("flow_vi: an autoregressive flow needs at least 2 unconstrained "
                                                   "dimensions, got 1; use method='advi'")):
        flow_vi.flow_shape(1)
    with pytest.raises(ValueError, match=re.escape("flow: unknown flow 'nvp'; expected one of iaf, bnaf")):
        flow_vi.flow_shape(3, "nvp")
