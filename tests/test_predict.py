"""Predictions: vectorized over draws, chunked over points, equal to a plain numpy forward pass."""

from __future__ import annotations

import re

import numpy as np
import pytest

import pbnn
from pbnn import layers as L
from pbnn import predict as predict_module


def numpy_forward(posterior, X):
    """The two-layer tanh network (no biases) in numpy, per draw: (chain, draw, obs)."""
    w1, w2, w3 = (posterior[k].values for k in ("w_1", "w_2", "w_3"))
    h = np.tanh(np.einsum("ni,cdij->cdnj", X, w1))
    h = np.tanh(np.einsum("cdni,cdij->cdnj", h, w2))
    return 1.0 / (1.0 + np.exp(-np.einsum("cdni,cdij->cdnj", h, w3)[..., 0]))


def network_inputs(fit, X):
    """``X`` as the network sees it: with the fit's feature scaling (pbnn.scaling) applied."""
    from pbnn.scaling import FeatureScaling

    return FeatureScaling.from_attrs(fit.idata.attrs).standardize(X)


def test_predictions_equal_a_numpy_forward_pass(quick_fit, small_moons):
    X_te = small_moons.X_test
    pred = quick_fit.predict(X_te)
    np.testing.assert_allclose(pred["predictions"]["p"].values, numpy_forward(quick_fit.posterior, network_inputs(quick_fit, X_te)), rtol=1e-10)


@pytest.mark.parametrize("backend", ["jax", "numba"])
def test_backends_agree(quick_fit, small_moons, backend):
    X_te = small_moons.X_test[:17]
    ref = numpy_forward(quick_fit.posterior, network_inputs(quick_fit, X_te))
    np.testing.assert_allclose(quick_fit.predict(X_te, backend=backend)["predictions"]["p"].values, ref, rtol=1e-10)


def test_chunking_gives_the_same_numbers(quick_fit, small_moons, monkeypatch):
    X_te = small_moons.X_test
    whole = quick_fit.predict(X_te)["predictions"]["p"].values
    monkeypatch.setattr(predict_module, "CHUNK_ELEMENTS", 37)  # forces many draw and point chunks
    monkeypatch.setattr(predict_module, "JAX_DRAW_CHUNK", 23)  # JAX: 200 draws = 8 chunks of 23 + a padded one
    chunked = quick_fit.predict(X_te)["predictions"]["p"].values
    np.testing.assert_allclose(whole, chunked, rtol=1e-12)


def test_predict_on_data_of_another_length(quick_fit):
    pred = quick_fit.predict(np.zeros((3, 2)))
    assert pred["predictions"]["p"].dims == ("chain", "draw", "obs")
    assert pred["predictions"]["p"].shape == (1, 200, 3)
    assert pred["predictions_constant_data"]["X"].shape == (3, 2)
    assert pred.mean().dims == ("obs",)
    assert pred.classes().shape == (3,)
    assert pred.draws().shape == (200, 3, 2)
    np.testing.assert_allclose(pred.draws().sum(-1), 1.0)


def test_accuracy_and_classes(quick_fit, small_moons):
    _, X_te, _, y_te = small_moons
    pred = quick_fit.predict(X_te)
    manual = ((pred["predictions"]["p"].mean(("chain", "draw")).values > 0.5) == y_te).mean()
    assert pred.accuracy(y_te) == pytest.approx(manual)
    with pytest.raises(ValueError, match=re.escape("y: expected shape (100,) (one label per predicted point), got (3,)")):
        pred.accuracy(y_te[:3])


def test_predict_rejects_wrong_inputs(quick_fit):
    with pytest.raises(pbnn.DataError, match=re.escape("X: expected finite values")):
        quick_fit.predict(np.array([[np.nan, 0.0]]))
    with pytest.raises(pbnn.DataError, match=re.escape("X: expected inputs of shape (2,) (n_samples excluded), as in training, got (1, 2, 2)")):
        quick_fit.predict(np.zeros((2, 1, 2, 2)))
    with pytest.raises(ValueError, match=re.escape("backend: unknown backend 'gpu'; expected one of auto, jax, numba, c")):
        quick_fit.predict(np.zeros((2, 2)), backend="gpu")


def test_categorical_and_regression_outputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    clf = pbnn.BNN([L.Dense(4, activation="tanh"), L.Dense(3)], likelihood="categorical")
    fit = pbnn.fit(clf, X, np.arange(60) % 3, steps=200, draws=10, seed=0, progressbar=False)
    pred = fit.predict(X[:5])
    assert pred["predictions"]["p"].dims == ("chain", "draw", "obs", "class")
    np.testing.assert_allclose(pred["predictions"]["p"].sum("class"), 1.0)
    reg = pbnn.BNN([L.Dense(4, activation="tanh"), L.Dense(1)], likelihood="normal")
    fit = pbnn.fit(reg, X, X[:, 0], steps=200, draws=10, seed=0, progressbar=False)
    pred = fit.predict(X[:5])
    assert pred["predictions"]["mu"].dims == ("chain", "draw", "obs")
    assert pred["predictions"]["sigma"].dims == ("chain", "draw")
    assert pred.mean().shape == (5,)
    with pytest.raises(TypeError, match="classes\\(\\): this is a regression model"):
        pred.classes()
