"""pbnn.sklearn: scikit-learn's conformance suite, pipelines, cross-validation and the spec adaptation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import pbnn
from pbnn import layers as L
from pbnn.sklearn import BNNClassifier, BNNRegressor

#: Tiny fits: the conformance suite fits each estimator about a hundred times.
TINY = {"steps": 200, "draws": 20}


@parametrize_with_checks([BNNClassifier(**TINY), BNNRegressor(**TINY)])
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_pipeline_cross_val_score_on_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), BNNClassifier("two_layer_tanh", steps=1000, draws=100))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.95, scores  # measured 0.979


def test_labels_of_any_type_and_a_categorical_output():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = make_pipeline(StandardScaler(), BNNClassifier(steps=2000, draws=100, seed=1)).fit(X, names)
    bnn = clf[-1]
    assert list(bnn.classes_) == ["setosa", "versicolor", "virginica"]
    assert bnn.spec_.likelihood == "categorical" and bnn.spec_.output_units == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, names) > 0.9
    assert set(clf.predict(X)) <= set(names)


def test_classifier_uncertainty_decomposes():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = BNNClassifier(steps=2000, draws=100).fit(X, y)
    total, aleatoric, epistemic = (clf.predict_uncertainty(X, kind) for kind in ("total_entropy", "expected_entropy", "mutual_information"))
    assert epistemic.shape == (150,) and (epistemic >= 0).all()
    np.testing.assert_allclose(total, aleatoric + epistemic, atol=1e-12)
    with pytest.raises(ValueError, match=re.escape("kind: unknown uncertainty 'std'; expected one of mutual_information, expected_entropy, total_entropy")):
        clf.predict_uncertainty(X, "std")


def test_regressor_recovers_the_noise_level():
    """A regression spec is kept; the learned noise sd comes back in y's units."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(300, 1))
    y = 10 + 5 * np.sin(X[:, 0]) + rng.normal(0, 0.5, size=300)  # noise sd 0.5 in y's units
    spec = pbnn.BNN([L.Dense(20, activation="tanh"), L.Dense(1)], likelihood="normal")
    reg = BNNRegressor(spec, steps=4000, draws=200).fit(X, y)
    assert reg.spec_ == spec
    assert reg.score(X, y) > 0.97  # measured 0.980
    aleatoric = reg.predict_uncertainty(X, "aleatoric")
    assert 0.45 < aleatoric.mean() < 0.65, aleatoric.mean()  # measured 0.583
    total, epistemic = reg.predict_uncertainty(X), reg.predict_uncertainty(X, "epistemic")
    np.testing.assert_allclose(total**2, epistemic**2 + aleatoric**2)


def test_grid_search_over_fit_options():
    X, y = load_iris(return_X_y=True)
    grid = GridSearchCV(BNNClassifier(draws=20), {"steps": [10, 1000]}, cv=2).fit(StandardScaler().fit_transform(X), y)
    assert grid.best_params_ == {"steps": 1000}
    assert grid.best_estimator_.pbnn_fit_.idata["optimizer_stats"]["elbo"].size == 1000


def test_params_are_stored_unchanged_and_cloned():
    spec = pbnn.zoo.hierarchical()
    clf = BNNClassifier(spec, method="nuts", draws=10, sampler="numpyro", seed=None)
    assert clf.get_params()["model"] is spec
    copy = clone(clf.set_params(chains=2))
    assert copy.get_params() == {**clf.get_params(), "chains": 2}
    assert not hasattr(copy, "pbnn_fit_")


def test_output_layer_adapts_to_the_task():
    from pbnn.sklearn import _classification_spec, _with_output

    spec = pbnn.BNN([L.Dense(4, activation="relu"), L.Dense(1)], likelihood="bernoulli")
    five = _classification_spec(spec, 5)
    assert (five.likelihood, five.layers[-1], five.layers[0]) == ("categorical", L.Dense(5), L.Dense(4, activation="relu"))
    assert _classification_spec(five, 2) == spec
    assert _with_output(spec, "normal", 1).likelihood == "normal"
    conv_last = pbnn.BNN([L.Conv2D(2, 3), L.Flatten(), L.Dense(1)])
    assert _classification_spec(conv_last, 3).layers[-1] == L.Dense(3)


def test_bad_model_and_option_names():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=re.escape("zoo: unknown model 'resnet'; expected one of")):
        BNNClassifier("resnet").fit(X, y)
    with pytest.raises(TypeError, match=re.escape("model: expected a pbnn.BNN or a zoo name (")):
        BNNClassifier(3).fit(X, y)
    with pytest.raises(TypeError, match=re.escape("steps: not an option of method 'nuts'")):
        BNNClassifier(method="nuts", steps=100).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("y: a classifier needs at least 2 classes, got one class (np.int64(1))")):
        BNNClassifier().fit(X, np.ones(20, dtype=int))
