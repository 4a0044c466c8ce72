"""The poisson likelihood: count targets, the log-link model, its predictive functions, rate recovery."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

import pbnn
from pbnn import layers as L
from pbnn.errors import DataError
from pbnn.likelihoods import get_likelihood

SPEC = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], likelihood="poisson")
X = np.random.default_rng(0).normal(size=(6, 2))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        ([0, 1, -2, 3, 0, -1], "y: likelihood 'poisson' expects counts (non-negative integers), got -2 at index 2 (2 negative value(s))"),
        ([0, 1, 2.5, 3, 0, 1], "y: likelihood 'poisson' expects counts (non-negative integers), got 2.5 at index 2 (1 non-integer value(s))"),
    ],
)
def test_bad_counts_raise_clear_errors(y, message):
    with pytest.raises(DataError, match=re.escape(message)):
        SPEC.build(X, np.array(y))
    with pytest.raises(DataError, match=re.escape(message)):
        pbnn.fit(SPEC, X, np.array(y), steps=10, progressbar=False)


def test_model_has_a_log_link_and_integer_targets():
    model = SPEC.build(X, np.array([0.0, 1.0, 2.0, 3.0, 0.0, 7.0]))  # integral floats are counts
    assert np.issubdtype(model["target"].get_value().dtype, np.integer)
    assert model.named_vars_to_dims["mu"] == ("obs",) and [rv.name for rv in model.observed_RVs] == ["y"]
    point = model.initial_point(random_seed=0)
    mu = np.exp(np.tanh(X @ point["w_1"] + point["b_1"]) @ point["w_2"] + point["b_2"])[:, 0]  # rate = exp(out)
    logp = model.compile_logp(vars=model.observed_RVs, sum=False)(point)[0]
    np.testing.assert_allclose(logp, stats.poisson.logpmf([0, 1, 2, 3, 0, 7], mu))
    assert (mu > 0).all()


def test_predictive_functions_agree_with_scipy():
    lik, mu = get_likelihood("poisson"), np.array([[0.5, 4.0, 30.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(lik.log_likelihood({"mu": mu}, np.array([0, 3, 28])), stats.poisson.logpmf([0, 3, 28], mu))
    lower, upper = lik.interval({"mu": mu[:1]}, 0.9)
    np.testing.assert_array_equal(lower, stats.poisson.ppf(0.05, mu[0]))
    np.testing.assert_array_equal(upper, stats.poisson.ppf(0.95, mu[0]))


@pytest.mark.slow
def test_advi_recovers_the_rate_of_simulated_poisson_counts(rate_recovery):
    pred, ratio, coverage = rate_recovery("poisson", lambda rng, rate: rng.poisson(rate))
    assert ratio <= 1.1, ratio  # measured 1.002
    assert 0.85 <= coverage <= 0.95, coverage  # measured 0.937 (the true rate's interval: 0.926)
    u = pred.uncertainty()
    np.testing.assert_allclose(u["total_std"] ** 2, u["aleatoric_std"] ** 2 + u["epistemic_std"] ** 2)
    np.testing.assert_allclose(u["aleatoric_std"] ** 2, pred.draws("mu").mean(axis=0))  # Poisson: var = mean
