"""pbnn.inference.chunked_nuts: numpyro's NUTS in compiled chunks; Ctrl-C stops it and keeps the draws so far."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

import pbnn
from pbnn.inference import chunked_nuts


def _nuts(small_moons, **sizes):
    X_tr, _, y_tr, _ = small_moons
    return pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, method="nuts", sampler="numpyro", seed=0, **sizes)


def test_ctrl_c_after_tuning_keeps_the_draws_of_every_chain(small_moons, interrupt_at):
    tune = chunked_nuts.CHUNK
    # chains take turns per chunk: the second chain's first kept chunk is iteration 4 * CHUNK over both chains
    interrupt_at(4 * chunked_nuts.CHUNK, label="NUTS")
    with pytest.warns(UserWarning, match=re.escape(
            f"NUTS interrupted after {chunked_nuts.CHUNK} of 100 draws per chain: returning the draws so far")):
        fit = _nuts(small_moons, tune=tune, draws=100, chains=2)
    assert (fit.posterior.sizes["chain"], fit.posterior.sizes["draw"]) == (2, chunked_nuts.CHUNK)
    stats = fit.idata["sample_stats"]
    assert set(stats.data_vars) >= {"acceptance_rate", "step_size", "diverging", "energy", "n_steps", "tree_depth", "lp"}
    assert stats["diverging"].dtype == bool and (stats["tree_depth"] >= 1).all()
    assert np.isfinite(fit.predict(small_moons.X_test)["predictions"]["p"].values).all()


def test_ctrl_c_while_tuning_stops_the_fit(small_moons, interrupt_at):
    interrupt_at(1, label="NUTS")
    with pytest.raises(KeyboardInterrupt):
        _nuts(small_moons, tune=2 * chunked_nuts.CHUNK, draws=50, chains=2)


def test_the_same_seed_gives_the_same_draws(small_moons):
    a, b = (_nuts(small_moons, tune=30, draws=20, chains=1, progressbar=False) for _ in range(2))
    np.testing.assert_array_equal(a.posterior["w_1"].values, b.posterior["w_1"].values)
    assert a.posterior.sizes["draw"] == 20


SCRIPT = textwrap.dedent("""
    import signal  # Ctrl-C as a terminal's interpreter gets it: the test worker may ignore or block SIGINT
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import pbnn, warnings
    from pbnn.inference import progress
    real = progress.progress_bar

    def announcing(enabled, total, label="", value_name=""):  # prints each chunk, so the parent knows
        import contextlib
        @contextlib.contextmanager
        def bar():
            def advance(done, values):
                print("iterations", done, flush=True)
            yield advance
        return bar()

    progress.progress_bar = announcing
    ds = pbnn.datasets.moons(n_samples=200)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="nuts", sampler="numpyro",
                       tune=25, draws=1_000_000, chains=1, seed=0)
    print("draws kept", fit.posterior.sizes["draw"], flush=True)
    print(*[str(w.message) for w in seen], sep="\\n", flush=True)
""")


@pytest.mark.slow
def test_a_real_sigint_stops_a_million_draw_run_within_seconds(sigint_child):
    """SIGINT, as Ctrl-C sends it, to a process sampling 10**6 draws: it returns the draws so far at once
    (pm.sample's numpyro path, one XLA call for the whole chain, was still running 120 s later)."""
    returncode, out, err, waited = sigint_child(  # once a chunk is kept: tuning (25 iterations) is done
        SCRIPT, lambda line: line.startswith("iterations") and int(line.split()[1]) >= 50)
    assert returncode == 0, err[-2000:]
    kept = int(re.search(r"draws kept (\d+)", out).group(1))
    assert 25 <= kept < 1_000_000
    assert f"NUTS interrupted after {kept} of 1000000 draws per chain" in out
    assert waited < 60, waited  # measured seconds: one chunk plus the fit's log-likelihood and diagnostics
