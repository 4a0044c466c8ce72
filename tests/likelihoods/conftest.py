"""Count data from a known 1-hidden-layer network, and how well an ADVI fit recovers its rate."""

from __future__ import annotations

import numpy as np
import pytest

import pbnn
from pbnn import layers as L

# the true network: 2 inputs, 3 tanh units, log link; rates 1.9-80, mean 26 on the square [-2, 2]^2
W1 = np.array([[1.5, -1.0, 0.5], [0.5, 1.2, -1.5]])
B1 = np.array([0.3, -0.2, 0.1])
W2 = np.array([0.8, -0.6, 0.5])
B2 = 2.5


def count_data(n: int, seed: int, draw_counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, 2), counts ``y = draw_counts(rng, rate)`` and the true ``rate``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    rate = np.exp(np.tanh(X @ W1 + B1) @ W2 + B2)
    return X, draw_counts(rng, rate), rate


def rate_recovery(likelihood: str, draw_counts, *, n_train: int = 500, seed: int = 0):
    """Fit a 1-hidden-layer BNN by ADVI on ``n_train`` points; on 1000 test points return the fit's
    predictions, the RMSE of its predictive mean over that of the true rate, and the coverage of its
    central 90% predictive interval."""
    X, y, rate = count_data(n_train + 1000, seed, draw_counts)
    spec = pbnn.BNN([L.Dense(8, activation="tanh"), L.Dense(1)], likelihood=likelihood)
    fit = pbnn.fit(spec, X[:n_train], y[:n_train], steps=5000, draws=500, seed=seed, progressbar=False)
    pred = fit.predict(X[n_train:])
    y_test, rate_test = y[n_train:], rate[n_train:]
    rmse = np.sqrt(np.mean((pred.draws("mu").mean(axis=0) - y_test) ** 2))
    ratio = rmse / np.sqrt(np.mean((rate_test - y_test) ** 2))
    u = pred.uncertainty(prob=0.9)
    coverage = np.mean((u["lower"].values <= y_test) & (y_test <= u["upper"].values))
    return pred, float(ratio), float(coverage)


@pytest.fixture(name="rate_recovery")
def rate_recovery_fixture():
    """:func:`rate_recovery`, for the tests of each count likelihood."""
    return rate_recovery
