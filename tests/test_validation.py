"""Bad input at the public boundary gets an error naming the argument and the expected form."""

from __future__ import annotations

import re

import numpy as np
import pytest

import pbnn
from pbnn import layers as L
from pbnn.errors import DataError

SPEC = pbnn.zoo.two_layer_tanh()
X = np.random.default_rng(0).normal(size=(20, 2))
Y = np.arange(20) % 2


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.where((np.arange(20)[:, None] == 3) & (np.arange(2) == 1), np.nan, X), Y, "X: expected finite values, found 1 NaN/inf (first: NaN at index (3, 1))"),
        (X, np.where(np.arange(20) == 4, np.inf, Y.astype(float)), "y: expected finite values, found 1 NaN/inf (first: inf at index 4)"),
        (X, Y[:-1], "X and y: expected the same number of samples, got 20 rows in X and 19 in y"),
        (X[:, 0], Y, "X: expected a 2-D array (n_samples, n_features) or images (n_samples, channels, height, width), got a 1-D array of shape (20,)"),
        (X[:0], Y[:0], "X: expected at least one sample, got an empty array of shape (0, 2)"),
        (X.astype(str), Y, "X: expected numbers, got an array of dtype <U"),
        (X, np.where(Y == 1, 2.5, 0.0), "y: likelihood 'bernoulli' expects labels in 0..1, got 2.5 (10 bad value(s)) (labels must be 0 or 1)"),
        (X, np.ones((20, 2)), "y: expected a 1-D array (n_samples,), got shape (20, 2)"),
    ],
)
def test_bad_data(X, y, message):
    with pytest.raises(DataError, match=re.escape(message)):
        SPEC.build(X, y)


def test_input_shape_mismatch_names_the_first_layer():
    spec = pbnn.BNN([L.Conv2D(2, 3), L.Dense(1)])
    with pytest.raises(DataError, match=re.escape("do not fit the spec: layers[1] Conv2D(2, 3x3, identity): Conv2D expects images")):
        spec.build(np.ones((4, 2)), np.zeros(4))


def test_categorical_labels_hint():
    spec = pbnn.BNN([L.Dense(3)], likelihood="categorical")
    with pytest.raises(DataError, match=re.escape("y: likelihood 'categorical' expects labels in 0..2, got 3 (1 bad value(s)) (map your labels to 0..K-1, e.g. with sklearn.preprocessing.LabelEncoder)")):
        spec.build(X[:4], np.array([0, 1, 2, 3]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"method": "mcmc"}, ValueError, "method: unknown method 'mcmc'; expected one of advi, fullrank_advi, flow_vi, nuts"),
        ({"method": "advi", "batch_size": 50}, DataError, "batch_size: expected at most the number of samples (20), got 50"),
        ({"method": "advi", "batch_size": 0}, ValueError, "batch_size: expected a positive integer, got 0"),
        ({"method": "advi", "steps": 0}, ValueError, "steps: expected a positive integer, got 0"),
        ({"method": "advi", "draws": -1}, ValueError, "draws: expected a positive integer, got -1"),
        ({"method": "advi", "engine": "torch"}, ValueError, "engine: unknown ADVI engine 'torch'; expected one of auto, jax, pymc"),
        ({"method": "advi", "sampler": "numpyro"}, TypeError, "sampler: not an option of method 'advi'; its options are steps, batch_size, learning_rate"),
        ({"method": "nuts", "sampler": "stan"}, ValueError, "sampler: unknown sampler 'stan'; expected one of pymc, nutpie, numpyro, blackjax"),
        ({"method": "nuts", "chains": 0}, ValueError, "chains: expected a positive integer, got 0"),
        ({"method": "nuts", "draws": 0}, ValueError, "draws: expected a positive integer, got 0"),
        ({"method": "nuts", "target_accept": 1.5}, ValueError, "target_accept: expected a number in (0, 1), got 1.5"),
        ({"seed": -1}, ValueError, "seed: expected a non-negative integer or None, got -1"),
    ],
)
def test_bad_options(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        pbnn.fit(SPEC, X, Y, progressbar=False, **kwargs)


def test_missing_sampler_package_names_the_extra(monkeypatch):
    import importlib.util

    from pbnn.inference import nuts

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a))
    with pytest.raises(ImportError, match=re.escape("sampler='numpyro' needs numpyro, which is not installed; install the extra with: pip install 'pbnn[jax]'")):
        nuts.check_sampler("numpyro")


def test_spec_must_be_a_bnn():
    with pytest.raises(TypeError, match="spec: expected a pbnn.BNN or a pbnn.VAE, got str"):
        pbnn.fit("two_layer_tanh", X, Y)
