"""pbnn.diagnose: ArviZ r_hat/ESS/MCSE in weight and function space, divergences, the ELBO verdict."""

from __future__ import annotations

import re

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

import pbnn
from pbnn.diagnostics import Diagnosis, elbo_relative_change
from pbnn.results import Fit


@pytest.fixture(scope="module")
def nuts_fit(small_moons):
    """Two short numpyro chains on 100 moons points (draws = tune = 100)."""
    X_tr, _, y_tr, _ = small_moons
    return pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, method="nuts", sampler="numpyro",
                    draws=100, tune=100, chains=2, seed=1, progressbar=False)


def by_name(d: Diagnosis) -> dict[tuple[str, str], object]:
    return {(c.space, c.name): c for c in d.checks}


def test_nuts_diagnosis_uses_arviz_in_weight_and_function_space(nuts_fit, small_moons):
    X_probe = small_moons.X_test[:40]
    d = pbnn.diagnose(nuts_fit, X_probe)
    checks = by_name(d)
    assert list(checks) == [
        ("sampler", "divergences"), ("function", "r_hat (max)"), ("function", "ESS bulk (min)"),
        ("function", "MCSE of the mean (max)"), ("weights", "r_hat (max)"), ("weights", "ESS bulk (min)"),
        ("weights", "MCSE of the mean (max)"),
    ]
    p = nuts_fit.predict(X_probe)["predictions"]["p"]
    dims = ("chain", "draw")
    assert d.function.sizes == {"obs": 40}
    np.testing.assert_allclose(d.function["r_hat"], azs.rhat(p, sample_dims=dims))
    np.testing.assert_allclose(d.function["ess_bulk"], azs.ess(p, sample_dims=dims, method="bulk"))
    assert checks["function", "r_hat (max)"].value == pytest.approx(float(azs.rhat(p, sample_dims=dims).max()))
    weight_rhat = azs.rhat(nuts_fit.posterior, sample_dims=dims)
    assert checks["weights", "r_hat (max)"].value == pytest.approx(max(float(weight_rhat[v].max()) for v in weight_rhat))
    assert d.weights["variable"].values.tolist() == ["w_1", "w_2", "w_3"]
    assert checks["sampler", "divergences"].value == int(nuts_fit.idata["sample_stats"]["diverging"].sum())
    # the point of function space: symmetric weight modes inflate weight r_hat, not the predictions'
    assert checks["function", "r_hat (max)"].value < checks["weights", "r_hat (max)"].value
    assert checks["function", "ESS bulk (min)"].target == ">= 200"  # 100 per chain
    assert {c.status for (space, _), c in checks.items() if space == "weights"} == {"info"}


def test_verdict_follows_the_checks(nuts_fit):
    strict = pbnn.diagnose(nuts_fit)
    assert strict.function.sizes == {"obs": 100}  # every training point, as there are fewer than 200
    loose = pbnn.diagnose(nuts_fit, rhat_max=2.0, ess_min=1)
    assert loose.ok and loose.verdict == "converged"
    never = pbnn.diagnose(nuts_fit, rhat_max=1.0)
    assert not never.ok
    assert never.verdict.startswith("NOT converged: r_hat (max)")
    table = never.table
    assert table.sizes == {"check": 7}
    assert table["status"].sel(check="divergences").item() in ("ok", "FAIL")
    text = repr(never)
    assert text.splitlines()[0] == f"Diagnosis (nuts): {never.verdict}"
    assert "symmetric modes" in text
    assert "<table>" in never._repr_html_()


def test_advi_verdict_from_the_elbo_history(quick_fit):
    elbo = quick_fit.idata["optimizer_stats"]["elbo"].values
    d = pbnn.diagnose(quick_fit)
    checks = by_name(d)
    assert list(checks) == [
        ("optimizer", "ELBO relative change"), ("optimizer", "ELBO non-finite steps"),
        ("approximation", "Pareto k-hat of p/q"), ("function", "MCSE of the mean (max)"),
    ]
    change = checks["optimizer", "ELBO relative change"].value
    assert change == pytest.approx(elbo_relative_change(elbo, 0.1))
    assert d.weights is None and "r_hat" not in d.function  # independent draws: no chains to compare
    # the verdict turns on the tolerance, on either side of the measured change
    assert pbnn.diagnose(quick_fit, elbo_rtol=2 * change).ok
    assert not pbnn.diagnose(quick_fit, elbo_rtol=change / 2).ok
    mcse = azs.mcse(quick_fit.predict(quick_fit.idata["constant_data"]["X"].values)["predictions"]["p"],
                    sample_dims=("chain", "draw"), method="mean")
    assert checks["function", "MCSE of the mean (max)"].value == pytest.approx(float(mcse.max()))


def test_a_diverged_elbo_fails(quick_fit):
    idata = quick_fit.idata.copy()
    stats = idata["optimizer_stats"].to_dataset()
    elbo = stats["elbo"].values.copy()
    elbo[-5:] = np.nan
    idata["optimizer_stats"] = xr.DataTree(stats.assign(elbo=("step", elbo)))
    d = pbnn.diagnose(Fit(quick_fit.spec, idata), elbo_rtol=1.0)
    assert by_name(d)["optimizer", "ELBO non-finite steps"].value == 5
    assert d.verdict == "NOT converged: ELBO non-finite steps"


def test_elbo_relative_change_known_answer():
    assert elbo_relative_change(np.r_[np.full(80, -500.0), np.full(10, -110.0), np.full(10, -100.0)]) == pytest.approx(0.1)
    assert elbo_relative_change(np.full(50, -3.0)) == 0.0


def test_bad_input_gets_a_clear_error(quick_fit):
    with pytest.raises(TypeError, match=re.escape("fit: expected a pbnn Fit (from pbnn.fit), got str")):
        pbnn.diagnose("runs/x")
    with pytest.raises(ValueError, match=re.escape("elbo_window: expected a fraction of the steps in (0, 0.5], got 0.7")):
        pbnn.diagnose(quick_fit, elbo_window=0.7)
