"""SWAG (pbnn/inference/swag.py): its moments are those of the collected iterates, its draws have its covariance,
the SWA mean finds the optimum of a Gaussian, the options are checked, and pbnn.fit returns its draws."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pbnn
from pbnn.inference import loop, swag
from pbnn.inference.methods import get_method

OPTIMUM = np.array([1.0, -2.0, 0.5])
CURVATURE = np.array([1.0, 4.0, 0.25])


def _noisy_gaussian(x, key):
    """A Gaussian negative log density whose gradient carries unit noise per coordinate (SGD on minibatches)."""
    noise = jax.random.normal(key, x.shape)
    return jnp.sum(0.5 * CURVATURE * (x - OPTIMUM) ** 2 + noise * x)


def _every_collected_iterate(steps, burn_in, collect_every):
    """A tracker keeping each collected iterate, at SWAG's schedule."""
    n_max = len(swag.collected_steps(steps, burn_in, collect_every))

    def update(state, params, t):
        collect = (t > burn_in) & ((t - burn_in) % collect_every == 0)
        kept = state["kept"].at[state["n"]].set(params)
        return {"n": state["n"] + collect, "kept": jnp.where(collect, kept, state["kept"])}

    return loop.Tracker(lambda p: {"n": jnp.zeros((), jnp.int64), "kept": jnp.zeros((n_max, *p.shape))}, update)


SETTINGS = dict(steps=20_000, optimizer=optax.sgd(0.05), seed=3)


@pytest.fixture(scope="module")
def moments_and_iterates():
    out, moments = swag.fit_moments(_noisy_gaussian, jnp.zeros(3), burn_in=2000, collect_every=20, rank=6, **SETTINGS)
    kept = loop.run(_noisy_gaussian, jnp.zeros(3), tracker=_every_collected_iterate(20_000, 2000, 20), **SETTINGS)
    return moments, kept.tracked["kept"]


def test_the_moments_are_those_of_the_collected_iterates(moments_and_iterates):
    moments, iterates = moments_and_iterates  # the same seed: the same iterates
    assert moments.collected == len(iterates) == 900 and moments.deviations.shape == (6, 3)
    np.testing.assert_allclose(moments.mean, iterates.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.diagonal, iterates.var(axis=0), rtol=1e-8)
    running_means = np.cumsum(iterates, axis=0) / np.arange(1, len(iterates) + 1)[:, None]
    last = (iterates - running_means)[-6:]  # the deviations of the last rank collections, in ring-buffer order
    np.testing.assert_allclose(np.sort(moments.deviations, axis=0), np.sort(last, axis=0), rtol=1e-10)


def test_draws_have_the_swag_covariance_within_monte_carlo_error(moments_and_iterates):
    moments, _ = moments_and_iterates
    n = 40_000
    draws = moments.sample(n, seed=0)
    cov = moments.covariance
    k = moments.deviations.shape[0]
    expected = (np.diag(moments.diagonal) + moments.deviations.T @ moments.deviations / (k - 1)) / 2
    np.testing.assert_allclose(cov, expected, rtol=1e-12)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)  # sd of a Gaussian sample covariance
    assert np.all(np.abs(np.cov(draws, rowvar=False) - cov) < 4 * se)
    assert np.all(np.abs(draws.mean(axis=0) - moments.mean) < 4 * np.sqrt(np.diag(cov) / n))


def test_the_swa_mean_lands_at_the_optimum_of_a_gaussian(moments_and_iterates):
    moments, iterates = moments_and_iterates
    # SGD's iterates scatter around the optimum (sd ~ sqrt(lr / (2 a)): 0.08 to 0.32); their average, over about
    # 100 independent iterates (autocorrelation time 1 / (lr a) <= 80 steps), is within 0.1 of it (3 standard errors)
    np.testing.assert_allclose(iterates.std(axis=0), np.sqrt(0.05 / (CURVATURE * (2 - 0.05 * CURVATURE))), rtol=0.15)
    np.testing.assert_allclose(moments.mean, OPTIMUM, atol=0.1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rank": 1}, "rank: expected an integer >= 2 (the covariance divides by rank - 1), got 1"),
        ({"burn_in": -1}, "burn_in: expected a non-negative integer, got -1"),
        ({"steps": 1000, "burn_in": 900}, "steps: SWAG collects (steps - burn_in) // collect_every = 4 iterates, "
                                          "fewer than rank 20; raise steps, or lower burn_in, collect_every or rank"),
        ({"swa_learning_rate": 0}, "swa_learning_rate: expected a positive number, got 0"),
    ],
)
def test_bad_options_name_the_field(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_method("swag").resolve(options)


@pytest.mark.slow  # the first model of the module: built and compiled here
def test_a_swag_fit_holds_draws_of_its_gaussian(small_moons, short_swag):
    X_tr, X_te, y_tr, y_te = small_moons
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, "swag", **short_swag, draws=50, seed=0, progressbar=False)
    assert dict(fit.posterior.sizes)["chain"] == 1 and dict(fit.posterior.sizes)["draw"] == 50
    assert fit.posterior.attrs["pbnn_draws"] == swag.SWAG_DRAWS
    assert fit.idata["log_likelihood"]["y"].shape == (1, 50, len(y_tr))
    assert fit.optimizer_stats["lp"].shape == (800,)
    pred = fit.predict(X_te)
    assert pred.accuracy(y_te) > 0.85
    spread = float(pred["predictions"]["p"].std(("chain", "draw")).mean())
    assert 0.005 < spread < 0.2, spread  # draws that differ, around a fit that predicts
