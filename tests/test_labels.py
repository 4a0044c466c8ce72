"""Class labels as users have them (pbnn.labels): encoding, names in the run and in predictions, scores on names,
and the CLI on a CSV with raw features and a yes/no label."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest

import pbnn
from pbnn import layers as L
from pbnn.cli import main
from pbnn.errors import DataError
from pbnn.labels import ClassLabels, encode_labels


def test_strings_booleans_and_categoricals_become_codes_with_names():
    codes, labels = encode_labels(np.array(["b", "a", "c", "a"], dtype=object), n_classes=3)
    assert codes.tolist() == [1, 0, 2, 0] and labels.names == ("a", "b", "c")
    codes, labels = encode_labels([True, False, True], n_classes=2)
    assert codes.tolist() == [1, 0, 1] and labels.names == (False, True)
    cat = pd.Series(pd.Categorical(["low", "high", "low"], categories=["low", "high"]))
    codes, labels = encode_labels(cat, n_classes=2)  # the categorical's order, not sorted
    assert codes.tolist() == [0, 1, 0] and labels.names == ("low", "high")
    codes, labels = encode_labels(np.array(["no", "yes", "no"]), classes=["yes", "no"], n_classes=2)
    assert codes.tolist() == [1, 0, 1] and labels.names == ("yes", "no")
    y = np.array([0, 1, 1])
    same, none = encode_labels(y, n_classes=2)  # codes already
    assert same is y and none is None


@pytest.mark.parametrize(
    ("y", "kwargs", "message"),
    [
        (["a", None, "b"], {}, "y: expected a label in every row, got 1 missing (None/NaN), the first at index 1"),
        (np.array(["a", 1], dtype=object), {}, "y: expected labels of one type, got a mix of int, str"),
        (["a", "b", "c"], {}, "y: 3 class(es) ('a', 'b', 'c') for a network with 2 output classes; use likelihood 'categorical' with a last Dense(3)"),
        (["a", "a"], {}, "y: 1 class(es) ('a') for a network with 2 output classes; pass classes=[...] naming both"),
        (["a", "d"], {"classes": ["a", "b"]}, "y: labels 'd' are not classes of this model; its classes are 'a', 'b'"),
    ],
)
def test_bad_labels(y, kwargs, message):
    with pytest.raises(DataError, match=re.escape(message)):
        encode_labels(y, n_classes=2, **kwargs)


def test_names_accept_codes_only_when_they_are_not_numbers():
    assert ClassLabels(("no", "yes")).encode(np.array([1, 0])).tolist() == [1, 0]
    with pytest.raises(DataError, match="labels 0 are not classes of this model; its classes are 3, 5"):
        ClassLabels((3, 5)).encode(np.array([0, 3]))


@pytest.fixture(scope="module")
def fruit():
    """Three separable clusters labelled by name."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    codes = np.arange(150) % 3
    X = centres[codes] + 0.5 * rng.normal(size=(150, 2))
    return X, np.array(["pear", "apple", "fig"])[codes]


def test_a_categorical_fit_keeps_class_names_through_predict_scores_and_load(fruit, tmp_path):
    X, y = fruit
    spec = pbnn.BNN([L.Dense(8, activation="tanh"), L.Dense(3)], likelihood="categorical")
    fit = pbnn.fit(spec, X[:100], y[:100], method="map", steps=1500, seed=0, progressbar=False)
    assert fit.idata.attrs["pbnn_classes"] == '["apple", "fig", "pear"]'
    assert set(np.unique(fit.idata["observed_data"]["y"].values)) == {0, 1, 2}  # the likelihood's codes
    pred = fit.predict(X[100:])
    assert pred["predictions"]["p"].coords["class"].values.tolist() == ["apple", "fig", "pear"]
    assert pred.classes().dtype.kind == "U" and pred.accuracy(y[100:]) == 1.0
    assert float(pbnn.scores(pred, y[100:])["accuracy"]) == 1.0
    assert pbnn.uncertainty(pred)["mean"].coords["class"].values.tolist() == ["apple", "fig", "pear"]
    loaded = pbnn.load(fit.save(tmp_path / "run")).predict(X[100:])
    np.testing.assert_array_equal(loaded.classes(), pred.classes())


def test_boolean_labels_and_the_order_of_classes(fruit):
    X, y = fruit
    is_fig = y == "fig"
    spec = pbnn.BNN([L.Dense(8, activation="tanh"), L.Dense(1)], likelihood="bernoulli")
    fit = pbnn.fit(spec, X, is_fig, method="map", steps=1500, seed=0, progressbar=False)
    assert fit.predict(X).classes().dtype == bool and fit.predict(X).accuracy(is_fig) == 1.0
    named = np.where(is_fig, "fig", "other")
    fit = pbnn.fit(spec, X, named, method="map", steps=1500, seed=0, progressbar=False, classes=["other", "fig"])
    p = fit.predict(X).mean().values  # bernoulli's p is the probability of the second class
    assert (p[is_fig] > 0.5).all() and (p[~is_fig] < 0.5).all()


def test_classes_is_for_classifiers():
    with pytest.raises(ValueError, match="classes: only a classifier has classes"):
        pbnn.fit(pbnn.BNN([L.Dense(1)], likelihood="normal"), np.ones((4, 1)), np.ones(4), classes=["a"])


@pytest.mark.slow
def test_cli_on_a_csv_with_raw_features_and_yes_no_labels_matches_logistic_regression(tmp_path, capsys):
    """The issue's new user: 4 features on scales 1 to 1e5, a yes/no label, the CLI only, nothing tuned."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    n = 500
    Z = rng.normal(size=(n, 4))
    X = Z * np.array([1.0, 1e2, 1e4, 1e5]) + np.array([40.0, 300.0, 5e4, 2e5])
    y = np.where(Z @ np.array([1.0, -1.5, 0.8, 1.2]) + rng.logistic(size=n) > 0, "yes", "no")
    path = tmp_path / "my.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "visits", "income", "savings", "label"])
        w.writerows([[*map(repr, row), label] for row, label in zip(X.tolist(), y)])
    run = tmp_path / "runs" / "x"
    code = main(["fit", "two_layer_tanh", "--data", str(path), "--target", "label", "--out", str(run), "-q"])
    assert code == 0
    ds = pbnn.datasets.load(path, target="label")  # the split the CLI used (seed 0)
    names = np.asarray(ds.classes)
    assert ds.classes == ("no", "yes")
    baseline = make_pipeline(StandardScaler(), LogisticRegression()).fit(ds.X_train, names[ds.y_train])
    lr = baseline.score(ds.X_test, names[ds.y_test])
    points = tmp_path / "test.csv"
    np.savetxt(points, ds.X_test, delimiter=",", header="age,visits,income,savings", comments="", fmt="%.17g")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(points), "--out", str(out), "-q"]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["class", "p_no", "p_yes", "entropy", "epistemic"]
    predicted = np.array([r["class"] for r in rows])
    assert set(predicted) <= {"no", "yes"}
    accuracy = float((predicted == names[ds.y_test]).mean())
    assert accuracy >= lr - 0.02, (accuracy, lr)
    assert all((r["class"] == "yes") == (float(r["p_yes"]) > 0.5) for r in rows)
