"""Tests for pbnn.inference.loop (the optax loop), pbnn.inference.logdensity's sampler and
pbnn.inference.progress: schedules, the non-finite guard, user optimizers, the worse-than-start warning."""

from __future__ import annotations

import io
import json
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pbnn
from pbnn.errors import DivergenceError
from pbnn.inference import loop, progress
from pbnn.inference.jax_advi import fullrank_step_scale
from pbnn.inference.logdensity import sample_batch


def _quadratic(x, key):
    return jnp.sum((x - 3.0) ** 2)


def test_adam_converges_and_the_bits_do_not_depend_on_the_chunking():
    def noisy(x, key):
        return jnp.sum((x - 3.0 + 0.1 * jax.random.normal(key, x.shape)) ** 2)

    runs = [loop.run(noisy, jnp.zeros(3), steps=700, optimizer=loop.adam(0.05), seed=s, chunk_size=c)
            for s, c in ((1, 1000), (1, 300), (2, 300))]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    np.testing.assert_array_equal(runs[0].params, runs[1].params)
    assert not np.array_equal(runs[0].losses, runs[2].losses)
    assert runs[0].status == "done" and runs[0].steps == 700 and runs[0].losses.shape == (700,)
    np.testing.assert_allclose(runs[0].params, 3.0, atol=0.1)


def test_the_geometric_decay_is_an_optax_schedule():
    schedule = loop.learning_rate_schedule(0.1, 0.001, 5)
    np.testing.assert_allclose([schedule(t) for t in range(5)], 0.1 * 0.1 ** (np.arange(5) / 2), rtol=1e-12)
    assert loop.learning_rate_schedule(0.1, 0.1, 5) == 0.1 and loop.learning_rate_schedule(0.1, None, 5) == 0.1


def test_a_non_finite_step_stops_the_loop_with_the_last_finite_parameters():
    def blows_up(x, key):  # finite while x < 1, NaN (with a zero gradient) beyond; steps of 0.3 get there in 4
        return jnp.where(x[0] < 1.0, -x[0], jnp.nan)

    res = loop.run(blows_up, jnp.zeros(1), steps=100, optimizer=optax.sgd(0.3), seed=0, chunk_size=3)
    assert res.status == "diverged" and res.steps == 4
    np.testing.assert_allclose(res.params, [1.2])  # the point of the failing step; its update was rejected
    assert len(res.losses) == 5 and np.isnan(res.losses[-1]) and np.isfinite(res.losses[:-1]).all()


def test_a_tracker_sees_every_applied_step_and_not_a_rejected_one():
    # state: (steps seen, sum of the iterates, last t); 7 steps in chunks of 3 (the last chunk masked after one step)
    tracker = loop.Tracker(init=lambda p: (jnp.zeros((), jnp.int64), jnp.zeros_like(p), jnp.zeros((), jnp.int64)),
                           update=lambda s, p, t: (s[0] + 1, s[1] + p, t))
    iterates = 3.0 - 3.0 * 0.5 ** np.arange(1, 8)  # sgd(0.25) on (x - 3)^2 halves the distance to 3 every step
    runs = [loop.run(_quadratic, jnp.zeros(1), steps=7, optimizer=optax.sgd(0.25), seed=0, chunk_size=c,
                     tracker=tracker) for c in (3, 1000)]
    for res in runs:
        assert (int(res.tracked[0]), int(res.tracked[2])) == (7, 7)
        np.testing.assert_allclose(res.tracked[1], [iterates.sum()], rtol=1e-12)

    def blows_up(x, key):  # as above: 4 finite steps, the fifth rejected
        return jnp.where(x[0] < 1.0, -x[0], jnp.nan)

    res = loop.run(blows_up, jnp.zeros(1), steps=100, optimizer=optax.sgd(0.3), seed=0, chunk_size=3, tracker=tracker)
    assert res.status == "diverged" and int(res.tracked[0]) == res.steps == 4
    np.testing.assert_allclose(res.tracked[1], [0.3 + 0.6 + 0.9 + 1.2])


def test_the_cholesky_factor_steps_at_one_over_sqrt_d():
    params = {"mu": jnp.zeros(4), "L": jnp.zeros((4, 4))}
    tx = optax.chain(optax.sgd(1.0), fullrank_step_scale(4))
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["mu"], -1.0)
    np.testing.assert_allclose(updates["L"], -0.5)


def test_minibatch_rows_are_drawn_uniformly_with_replacement():
    data = (jnp.arange(10.0), jnp.arange(10.0) * 2)
    x, y = sample_batch(jax.random.key(0), data, 5000)
    np.testing.assert_array_equal(y, 2 * x)  # the same rows of every array
    counts = np.bincount(np.asarray(x, dtype=int), minlength=10)
    assert counts.min() > 420 and counts.max() < 580  # 500 expected per row
    assert sample_batch(jax.random.key(0), data, None) is data


@pytest.mark.parametrize("method", ["advi", "map", "mc_dropout"])
def test_a_too_large_learning_rate_warns_and_names_it(small_moons, method):
    """Measured on 200 moons points: lr 10 ends 15-20x worse than the first step for all three; lr 0.01 improves."""
    X_tr, _, y_tr, _ = small_moons
    options = {"steps": 1000, "seed": 0, "progressbar": False, "method": method}
    if method != "map":
        options["draws"] = 10
    with pytest.warns(UserWarning, match=r"ended worse than it started .* learning_rate \(now 10.0\)"):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, learning_rate=10.0, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, learning_rate=0.01, **options)


@pytest.mark.parametrize("method", ["advi", "fullrank_advi", "map", "mc_dropout"])
def test_a_users_optax_optimizer_replaces_adam(small_moons, method):
    X_tr, _, y_tr, _ = small_moons
    options = {"steps": 300, "seed": 0, "progressbar": False, "method": method}
    if method != "map":
        options["draws"] = 5
    stat = {"map": "lp", "mc_dropout": "loss"}.get(method, "elbo")
    adam = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, learning_rate=0.01, **options).idata["optimizer_stats"][stat].values
    # the optimizer overrides learning_rate: with lr=10 alone these runs end far worse (see above)
    same = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, optimizer=optax.adam(0.01), learning_rate=10.0,
                    **options).idata["optimizer_stats"][stat].values
    np.testing.assert_allclose(same, adam, rtol=1e-9)
    sgd = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, optimizer=optax.sgd(1e-4), **options)
    assert not np.allclose(sgd.idata["optimizer_stats"][stat].values, adam)
    with pytest.raises(TypeError, match=re.escape("optimizer: expected an optax.GradientTransformation")):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, optimizer="adam", **options)


def test_maps_final_learning_rate_is_adam_on_the_geometric_decay(small_moons):
    X_tr, _, y_tr, _ = small_moons
    options = {"method": "map", "steps": 300, "seed": 0, "progressbar": False}
    decayed = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, learning_rate=0.05, final_learning_rate=0.005,
                       **options)
    by_hand = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, **options,
                       optimizer=optax.adam(optax.exponential_decay(0.05, 299, 0.1)))
    lp = decayed.idata["optimizer_stats"]["lp"].values
    np.testing.assert_allclose(lp, by_hand.idata["optimizer_stats"]["lp"].values, rtol=1e-9)
    constant = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, learning_rate=0.05, **options)
    assert not np.allclose(lp, constant.idata["optimizer_stats"]["lp"].values)
    assert json.loads(decayed.idata.attrs["pbnn_options"])["final_learning_rate"] == 0.005
    with pytest.raises(ValueError, match=re.escape("final_learning_rate: expected a positive number, got 0")):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, final_learning_rate=0, **options)


def test_a_diverging_map_raises_with_the_last_finite_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = 3 * X[:, 0] + rng.normal(size=50)
    spec = pbnn.BNN([pbnn.layers.Dense(3, activation="tanh"), pbnn.layers.Dense(1)], likelihood="normal")
    with pytest.raises(DivergenceError, match=r"MAP diverged: .* at step \d+ of 3000\. Try a lower learning_rate "
                                              r"\(now 1000000.0\)") as info:
        pbnn.fit(spec, X, y, method="map", steps=3000, learning_rate=1e6, seed=0, progressbar=False)
    lp = info.value.fit.idata["optimizer_stats"]["lp"].values
    assert not np.isfinite(lp[-1]) and np.isfinite(lp[:-1]).all()
    assert np.isfinite(info.value.fit.posterior["w_1"].values).all()


def test_ctrl_c_returns_the_map_fit_so_far(small_moons, interrupt_at):
    X_tr, _, y_tr, _ = small_moons
    interrupt_at(1000)
    with pytest.warns(UserWarning, match=re.escape("MAP interrupted after 1000 of 3000 steps")):
        fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, method="map", steps=3000, seed=0)
    assert fit.idata["optimizer_stats"]["lp"].shape == (1000,)


def test_the_progress_bar_ends_with_the_elapsed_time():
    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    bar = Progress(progress._TimeColumn(), console=console)
    done, stopped, running = (bar.add_task(n, total=10) for n in ("done", "stopped", "running"))
    bar.start_task(running)
    bar.update(done, completed=10)
    bar.update(stopped, completed=4, stopped=True)
    bar.update(running, completed=4)
    text = {t.description: str(progress._TimeColumn().render(t)) for t in bar.tasks}
    assert text["done"].endswith("elapsed") and text["stopped"].endswith("elapsed")
    assert text["running"].endswith("left") or text["running"] == "-:--:--"


def test_jupyter_without_ipywidgets_gets_a_text_bar_and_no_warning(small_moons, monkeypatch, capsys):
    X_tr, _, y_tr, _ = small_moons
    monkeypatch.setattr(progress, "_in_jupyter", lambda: True)
    monkeypatch.setattr(progress, "_has_ipywidgets", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, method="map", steps=2000, seed=0)
    out = capsys.readouterr().out
    assert "\rMAP [###############---------------] 1000/2000 lp " in out
    assert re.search(r"\rMAP \[#{30}\] 2000/2000 lp -?\d+\.\d\d 0:00:\d\d elapsed\n$", out), out
