"""The negative_binomial likelihood: count targets, learned dispersion, predictive functions, rate recovery."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

import pbnn
from pbnn import layers as L
from pbnn.errors import DataError
from pbnn.likelihoods import NegativeBinomial, get_likelihood

SPEC = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], likelihood="negative_binomial")
X = np.random.default_rng(0).normal(size=(6, 2))


def test_bad_counts_raise_clear_errors():
    with pytest.raises(DataError, match=re.escape("y: likelihood 'negative_binomial' expects counts (non-negative integers), got -1 at index 5 (1 negative value(s))")):
        SPEC.build(X, np.array([0, 1, 2, 3, 0, -1]))
    with pytest.raises(DataError, match=re.escape("y: likelihood 'negative_binomial' expects counts (non-negative integers), got 0.5 at index 0 (2 non-integer value(s))")):
        SPEC.build(X, np.array([0.5, 1, 2, 3.25, 0, 1]))


def test_dispersion_prior_is_a_spec_field():
    spec = pbnn.BNN(SPEC.layers, likelihood=NegativeBinomial(alpha_shape=4.0))
    assert "[likelihood]\nname = \"negative_binomial\"\nalpha_shape = 4.0\n" in spec.to_toml()
    assert pbnn.BNN.from_toml(spec.to_toml()) == spec
    model = spec.build(X, np.arange(6))
    assert {"alpha"} == {rv.name for rv in model.free_RVs} - {"w_1", "b_1", "w_2", "b_2"}
    point = model.initial_point(random_seed=0)
    mu = np.exp(np.tanh(X @ point["w_1"] + point["b_1"]) @ point["w_2"] + point["b_2"])[:, 0]
    alpha = np.exp(point["alpha_log__"])
    logp = model.compile_logp(vars=[model["alpha"]], sum=False)(point)[0]  # Gamma(4, 0.1) with its log Jacobian
    assert logp == pytest.approx(stats.gamma.logpdf(alpha, 4.0, scale=10.0) + np.log(alpha))
    obs = model.compile_logp(vars=model.observed_RVs, sum=False)(point)[0]
    np.testing.assert_allclose(obs, stats.nbinom.logpmf(np.arange(6), alpha, alpha / (alpha + mu)))


def test_predictive_functions_agree_with_scipy():
    lik = get_likelihood("negative_binomial")
    out = {"mu": np.array([[0.5, 4.0, 30.0]]), "alpha": np.array([2.0])}
    p = 2.0 / (2.0 + out["mu"][0])
    np.testing.assert_allclose(lik.log_likelihood(out, np.array([0, 3, 28]))[0], stats.nbinom.logpmf([0, 3, 28], 2.0, p))
    lower, upper = lik.interval(out, 0.9)
    np.testing.assert_array_equal(lower, stats.nbinom.ppf(0.05, 2.0, p))
    np.testing.assert_array_equal(upper, stats.nbinom.ppf(0.95, 2.0, p))
    two = {"mu": np.array([[1.0], [50.0]]), "alpha": np.array([2.0, 5.0])}  # a mixture of two draws
    cdf = lambda k: np.mean([stats.nbinom.cdf(k, a, a / (a + m)) for m, a in ((1.0, 2.0), (50.0, 5.0))])  # noqa: E731
    lo = lik.interval(two, 0.5)[0][0]
    assert cdf(lo) >= 0.25 > cdf(lo - 1)
    mean, var = lik.moments(out)
    draws = lik.sample({k: np.repeat(v, 50_000, axis=0) for k, v in out.items()}, np.random.default_rng(0))
    np.testing.assert_allclose(draws.mean(axis=0), mean[0], rtol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), var[0], rtol=0.06)


@pytest.mark.slow
def test_advi_recovers_the_rate_and_dispersion_of_simulated_counts(rate_recovery):
    alpha = 3.0  # var = rate + rate**2 / 3: 3-35x the Poisson variance on these rates
    pred, ratio, coverage = rate_recovery("negative_binomial", lambda rng, rate: rng.negative_binomial(alpha, alpha / (alpha + rate)))
    assert ratio <= 1.1, ratio  # measured 0.999
    assert 0.85 <= coverage <= 0.95, coverage  # measured 0.918 (the true rate's interval: 0.921)
    assert 2.0 < float(pred["predictions"]["alpha"].mean()) < 4.5  # measured 3.35
