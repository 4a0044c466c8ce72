"""ArviZ interoperability: the log_likelihood group, PSIS-LOO and the PyMC model a posterior belongs to."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import pymc as pm
import pytest

import pbnn
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
                                   progressbar=False)
    np.testing.assert_allclose(ll["y"].values, group.values, rtol=0, atol=1e-10)
    result = loo(quick_fit, pointwise=True)
    assert np.isfinite(result.elpd) and result.elpd < 0 and result.pareto_k.shape == (group.sizes["obs"],)
    assert azs.loo(quick_fit.idata).elpd == pytest.approx(result.elpd)


def test_regression_log_likelihood_is_in_the_units_of_y(sine_fit):
    ds, fit = sine_fit
    scale = fit.idata.attrs["pbnn_y_scale"]
    assert scale != pytest.approx(1.0)
    ll = pm.compute_log_likelihood(fit.idata, model=fit.model(), extend_inferencedata=False, progressbar=False)
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
