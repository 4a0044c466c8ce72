"""pbnn.inference.sgmcmc: SGLD and SGHMC (blackjax) on the minibatch log density; schedules, thinning, faults."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pymc as pm
import pytest

import pbnn
from pbnn.errors import DataError, DivergenceError
from pbnn.inference import fitting, sgmcmc
from pbnn.inference.logdensity import model_cache
from pbnn.inference.methods import get_method

SIGMA = 0.5  # the known noise sd of the linear regression
# short moons fits: their chains disagree (the first test checks the warning)
pytestmark = pytest.mark.filterwarnings("ignore:sgld. function-space r_hat:UserWarning")


@pytest.fixture(scope="module")
def regression():
    """Bayesian linear regression, w ~ N(0, I), y ~ N(X w, 0.5): the model and its exact posterior mean and sd."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X @ np.array([1.0, -0.5]) + SIGMA * rng.normal(size=40)
    with pm.Model(coords={"input": [0, 1]}) as model:
        X_data, target = pm.Data("X", X), pm.Data("target", y)
        w = pm.Normal("w", 0.0, 1.0, dims="input")
        pm.Normal("y", X_data @ w, SIGMA, observed=target)
    cov = np.linalg.inv(np.eye(2) + X.T @ X / SIGMA**2)  # posterior precision: eigenvalues 124 and 179
    return model, cov @ X.T @ y / SIGMA**2, np.sqrt(np.diag(cov))


def _run(kind, model, **options):
    defaults = {"chains": 4, "batch_size": 20, "seed": 0, "progressbar": False}
    return sgmcmc.run(kind, model, **{**defaults, **options})


@pytest.mark.parametrize(("kind", "options"), [
    ("sgld", {"step_size": 1.2e-4}),  # h * largest curvature 0.02
    ("sghmc", {"step_size": 0.01, "alpha": 20.0}),
])
def test_the_chains_agree_with_the_exact_gaussian_posterior(regression, kind, options):
    """4 chains of 10_500 steps on batches of 20 of 40 rows: means within 0.15 posterior sd of the exact ones, sds
    within 15% (measured: SGLD 0.04 sd and +6%, SGHMC 0.01 sd and +11%: minibatch noise and the step heat them)."""
    model, mean, sd = regression
    res = _run(kind, model, draws=1000, burn_in=500, thin=10, **options)
    assert res.fault is None
    w = res.posterior["w"].values  # (chain, draw, 2)
    np.testing.assert_array_less(np.abs(w.reshape(-1, 2).mean(0) - mean) / sd, 0.15)
    np.testing.assert_allclose(w.reshape(-1, 2).std(0) / sd, 1.0, atol=0.15)
    chain_means = w.mean(1)
    assert np.all(np.abs(chain_means - mean) / sd < 0.4)  # every chain agrees...
    assert len({tuple(np.round(w[c, 0], 12)) for c in range(4)}) == 4  # ...from its own start and noise
    assert res.sample_stats["lp"].dims == ("chain", "draw") and np.isfinite(res.sample_stats["lp"]).all()


def test_schedules_are_their_formulas():
    t = np.array([0, 1, 10, 999, 1000, 5000])
    poly = sgmcmc.step_size_schedule("polynomial", 0.01, total_steps=6000, gamma=0.55, decay_steps=1000.0)
    a, b = 0.01 * 1000.0**0.55, 1000.0  # Welling & Teh's a (b + t)^-gamma
    np.testing.assert_allclose(poly(t), a * (b + t) ** -0.55, rtol=1e-12)
    cyc = sgmcmc.step_size_schedule("cyclical", 0.01, total_steps=6000, cycles=4)
    length = 1500  # ceil(6000 / 4)
    np.testing.assert_allclose(cyc(t), 0.01 / 2 * (np.cos(np.pi * (t % length) / length) + 1), rtol=1e-12)
    np.testing.assert_allclose(cyc(np.array([0, 1500, 3000])), 0.01)  # each cycle restarts at step_size
    np.testing.assert_allclose(sgmcmc.step_size_schedule("constant", 0.01, total_steps=10)(t), 0.01)


@pytest.mark.parametrize("schedule", ["polynomial", "cyclical"])
def test_burn_in_and_thinning_keep_every_thin_th_step(regression, schedule):
    """150 burn-in steps (a call of 100 and one of 50), then 130 draws of 3 steps (calls of 100 and 30): draw k is
    the state after step 150 + 3 (k + 1), whose step size the sample stats record."""
    model, _, _ = regression
    res = _run("sgld", model, draws=130, burn_in=150, thin=3, step_size=1e-4, schedule=schedule,
               decay_steps=50.0, cycles=3)
    assert (res.posterior.sizes["chain"], res.posterior.sizes["draw"]) == (4, 130)
    total = 150 + 130 * 3
    steps = 150 + 3 * (np.arange(130) + 1) - 1  # 0-based index of each draw's last step
    expected = sgmcmc.step_size_schedule(schedule, 1e-4, total_steps=total, decay_steps=50.0, cycles=3)(steps)
    np.testing.assert_allclose(res.sample_stats["step_size"].values, np.broadcast_to(expected, (4, 130)), rtol=1e-12)


def test_a_too_large_step_size_is_reported_as_diverged(regression):
    model, _, _ = regression
    res = _run("sgld", model, draws=200, burn_in=0, thin=1, step_size=0.1)  # h * curvature 18: |1 - 18| per step
    assert res.fault == "diverged"
    assert re.fullmatch(r"SGLD diverged: chain \d's log density, gradient or state became NaN/inf at step \d+ of "
                        r"200: lower step_size \(now 0\.1, constant schedule\)\. exc\.fit holds the \d+ draws per "
                        r"chain before it\.", res.message), res.message
    assert np.isfinite(res.posterior["w"].values).all() and 1 <= res.posterior.sizes["draw"] < 200


# -- pbnn.fit on the moons BNN ------------------------------------------------------------------------------------

MOONS = {"chains": 2, "batch_size": 10, "seed": 0, "progressbar": False}


def _fit(small_moons, **options):
    return pbnn.fit(pbnn.zoo.two_layer_tanh(), small_moons.X_train, small_moons.y_train, "sgld", **{**MOONS, **options})


@pytest.mark.slow  # 5-6 s: compiles the moons chunk
def test_a_fit_is_diagnosed_as_chains_and_a_second_fit_does_not_recompile(small_moons):
    with pytest.warns(UserWarning, match=r"sgld: function-space r_hat \d\.\d+ > 1\.01 at the training inputs: the "
                      r"chains disagree; run longer \(tune or burn_in, and draws\)"):
        fit = _fit(small_moons, draws=100, burn_in=200, thin=5, step_size=1e-3)
    assert fit.idata["sample_stats"]["step_size"].dims == ("chain", "draw") and "log_likelihood" in fit.idata.children
    assert "pbnn_draws" not in fit.posterior.attrs  # Markov chains, not independent draws
    checks = {(c.space, c.name): c for c in pbnn.diagnose(fit).checks}
    assert {("function", "r_hat (max)"), ("function", "ESS bulk (min)"), ("weights", "r_hat (max)")} <= set(checks)
    assert checks[("function", "r_hat (max)")].value > 1.0
    (model,) = [m for key, m in fitting._models.items() if key[:2] == (fit.spec, small_moons.X_train.shape)]
    (chunk,) = [fn for key, fn in model_cache(model).items() if key[0] == "sgmcmc"]
    again = _fit(small_moons, draws=30, burn_in=0, thin=2, step_size=5e-4, schedule="cyclical", seed=1)
    assert again.posterior.sizes["draw"] == 30
    assert chunk._cache_size() == 1  # another step size, schedule, length and seed: the same compiled chunk


def test_a_diverged_fit_raises_naming_step_size_with_the_draws_before(small_moons):
    with pytest.raises(DivergenceError, match=r"SGLD diverged: .* lower step_size \(now 1000, constant") as err:
        _fit(small_moons, draws=50, burn_in=0, thin=1, step_size=1e3)
    assert np.isfinite(err.value.fit.posterior["w_1"].values).all()


def test_ctrl_c_returns_the_draws_so_far_and_during_burn_in_stops(small_moons, interrupt_at):
    interrupt_at(100 + sgmcmc.CHUNK * 2, label="SGLD", value_name="lp")  # after the first call of draws
    with pytest.warns(UserWarning, match=re.escape(
            f"SGLD interrupted after {sgmcmc.CHUNK} of 300 draws per chain: returning the draws so far")):
        fit = _fit(small_moons, draws=300, burn_in=100, thin=2)
    assert (fit.posterior.sizes["chain"], fit.posterior.sizes["draw"]) == (2, sgmcmc.CHUNK)
    interrupt_at(1, label="SGLD", value_name="lp")
    with pytest.raises(KeyboardInterrupt):
        _fit(small_moons, draws=300, burn_in=100, thin=2)


@pytest.mark.parametrize(("method", "options", "error", "message"), [
    ("sgld", {"gamma": 2}, ValueError, "gamma: expected a number in (0.5, 1], got 2"),
    ("sgld", {"schedule": "linear"}, ValueError,
     "schedule: unknown step-size schedule 'linear'; expected one of constant, polynomial, cyclical"),
    ("sgld", {"burn_in": -1}, ValueError, "burn_in: expected a non-negative integer, got -1"),
    ("sgld", {"step_size": 0}, ValueError, "step_size: expected a positive number, got 0"),
    ("sgld", {"schedule": "cyclical", "cycles": 10**6, "draws": 10, "burn_in": 0, "thin": 1}, ValueError,
     "cycles: expected at most the 10 steps per chain (burn_in + draws * thin), got 1000000"),
    ("sgld", {"alpha": 1.0}, TypeError, "alpha: not an option of method 'sgld'; its options are draws, burn_in"),
    ("sghmc", {"alpha": 200.0}, ValueError, "alpha: expected alpha * step_size < 1 (the momentum's decay per step), "
                                            "got 200 * 0.01"),
])
def test_bad_options_name_the_field_and_the_form(method, options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        get_method(method).resolve(options)


def test_cycles_bound_only_the_cyclical_schedule():
    assert get_method("sgld").resolve({"draws": 1, "burn_in": 0, "thin": 1}).cycles == 4  # one step, constant
    assert get_method("sghmc").resolve({"schedule": "cyclical", "draws": 4, "burn_in": 0, "thin": 1}).total_steps == 4


def test_the_default_batch_size_meets_small_data_with_a_clear_error():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(DataError, match=re.escape("batch_size: expected at most the number of samples (20), got 32")):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X, y, "sghmc", progressbar=False)


SCRIPT = textwrap.dedent("""
    import signal  # Ctrl-C as a terminal's interpreter gets it: the test worker may ignore or block SIGINT
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import pbnn, warnings
    from pbnn.inference import progress

    def announcing(enabled, total, label="", value_name=""):  # prints each call, so the parent knows
        import contextlib
        @contextlib.contextmanager
        def bar():
            yield lambda done, values: print("steps", done, flush=True)
        return bar()

    progress.progress_bar = announcing
    ds = pbnn.datasets.moons(n_samples=200)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="sgld", draws=1_000_000,
                       burn_in=0, thin=100, chains=2, batch_size=10, seed=0)
    print("draws kept", fit.posterior.sizes["draw"], flush=True)
    print(*[str(w.message) for w in seen], sep="\\n", flush=True)
""")


@pytest.mark.slow
def test_a_real_sigint_stops_a_long_run_with_the_draws_so_far(sigint_child):
    """SIGINT, as Ctrl-C sends it, to a process asked for 10**8 steps per chain: the draws so far come back."""
    returncode, out, err, waited = sigint_child(  # once two calls of kept draws are done
        SCRIPT, lambda line: line.startswith("steps") and int(line.split()[1]) >= 2 * sgmcmc.CHUNK * 100)
    assert returncode == 0, err[-2000:]
    kept = int(re.search(r"draws kept (\d+)", out).group(1))
    assert 2 * sgmcmc.CHUNK <= kept < 1_000_000
    assert f"SGLD interrupted after {kept} of 1000000 draws per chain" in out
    assert waited < 60, waited
