"""Conformal prediction (pbnn/conformal.py): the finite-sample quantile, APS by hand and on calibrated
probabilities, 90% coverage on held-out regression and classification data, CV+ against its formula."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import pbnn
from pbnn import conformal
from pbnn import layers as L
from pbnn.errors import DataError


def heteroscedastic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(x) + (0.1 + 0.3 |x|) N(0, 1), x ~ U(-3, 3): the noise sd grows 10-fold from the centre out."""
    x = rng.uniform(-3, 3, (n, 1))
    return x, np.sin(x[:, 0]) + (0.1 + 0.3 * np.abs(x[:, 0])) * rng.standard_normal(n)


@pytest.fixture(scope="module")
def regression():
    """A MAP fit of a heteroscedastic net on 400 points; 2000 calibration and 5000 test points."""
    rng = np.random.default_rng(0)
    (X, y), cal, test = heteroscedastic(400, rng), heteroscedastic(2000, rng), heteroscedastic(5000, rng)
    spec = pbnn.BNN([L.Dense(16, activation="tanh"), L.Dense(2)], likelihood="heteroscedastic_normal")
    return pbnn.fit(spec, X, y, method="map", steps=2000, progressbar=False, seed=0), cal, test


@pytest.fixture(scope="module")
def classification():
    """A MAP fit on 400 noisy moons (noise 0.3, test accuracy 0.91) with string labels; 2000 calibration and
    5000 test points."""
    ds = pbnn.datasets.moons(n_samples=7400, noise=0.3, test_size=7000, seed=0)
    names = np.array(["blue", "red"])
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, names[ds.y_train], method="map", steps=2000,
                   progressbar=False, seed=0)
    return fit, (ds.X_test[:2000], names[ds.y_test[:2000]]), (ds.X_test[2000:], names[ds.y_test[2000:]])


def test_conformal_quantile_is_the_ceil_n_plus_1_rank():
    scores = np.random.default_rng(0).permutation(19) + 1.0                 # 1..19
    assert conformal.conformal_quantile(scores, 0.1) == 18.0                 # ceil(20 * 0.9) = 18
    assert conformal.conformal_quantile(scores[:9], 0.1) == np.sort(scores[:9])[-1]   # ceil(10 * 0.9) = 9 = n
    assert conformal.conformal_quantile(scores, 0.5) == 10.0                 # ceil(20 * 0.5) = 10
    # 10 * (1 - 0.7) is 3.0000000000000004 in floats: still the 3rd smallest, not the 4th
    assert conformal.conformal_quantile(np.arange(1.0, 10.0), 0.7) == 3.0
    for n, alpha in [(19, 0.1), (50, 0.05), (33, 0.2)]:
        s = np.random.default_rng(n).normal(size=n)
        level = np.ceil((n + 1) * (1 - alpha)) / n
        assert conformal.conformal_quantile(s, alpha) == np.quantile(s, level, method="inverted_cdf")
    with pytest.raises(ValueError) as err:
        conformal.conformal_quantile(scores[:8], 0.1, "X_cal")
    assert str(err.value) == ("X_cal: 8 calibration points are too few for alpha=0.1: the conformal quantile is "
                              "the ceil((n + 1)(1 - alpha))-th smallest score, 9 > 8; use at least 9 points or a "
                              "larger alpha")
    for bad in (0, 1, 2, -0.1, True, "0.1", float("nan")):
        with pytest.raises(ValueError, match=r"^alpha: expected a number in \(0, 1\), got "):
            conformal.conformal_quantile(scores, bad)
    with pytest.raises(ValueError) as err:
        conformal.check_alpha(2)
    assert str(err.value) == "alpha: expected a number in (0, 1), got 2"


def test_aps_scores_and_sets_by_hand():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    # each label: the probability of the more probable classes plus its own (times u when randomized)
    np.testing.assert_allclose(conformal._label_scores("aps", probs, False, None), [[1.0, 0.5, 0.8], [0.6, 1.0, 0.9]])
    u = np.array([0.5, 0.25])
    np.testing.assert_allclose(conformal._label_scores("aps", probs, True, u),
                               [[0.9, 0.25, 0.65], [0.15, 0.925, 0.675]])
    np.testing.assert_allclose(conformal._label_scores("lac", probs, False, None), 1 - probs)
    # non-randomized: the classes until the one whose probability crosses q = 0.7, that one included
    assert conformal._sets("aps", probs, 0.7, False, None).tolist() == [[False, True, True], [True, False, True]]
    assert conformal._sets("lac", probs, 0.75, False, None).tolist() == [[False, True, True], [True, False, True]]


def test_aps_on_calibrated_probabilities_covers_90_percent_and_finds_the_oracle_threshold():
    """Labels drawn from the probabilities themselves: the oracle's APS threshold is 1 - alpha (Romano et al.
    2020, eq. 4), randomized sets cover exactly 90%, the non-randomized ones at least that."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=25_000)
    y = (rng.random((len(probs), 1)) > np.cumsum(probs, axis=1)).sum(axis=1)
    cal, test = slice(0, 5000), slice(5000, None)
    u, rows = rng.random(5000), np.arange(5000)
    q = conformal.conformal_quantile(conformal._label_scores("aps", probs[cal], True, u)[rows, y[cal]], 0.1)
    assert abs(q - 0.9) < 0.01
    sets = conformal._sets("aps", probs[test], q, True, np.random.default_rng(1))
    assert abs(sets[np.arange(20_000), y[test]].mean() - 0.9) < 0.01
    q_plain = conformal.conformal_quantile(conformal._label_scores("aps", probs[cal], False, None)[rows, y[cal]], 0.1)
    plain = conformal._sets("aps", probs[test], q_plain, False, None)
    assert plain[np.arange(20_000), y[test]].mean() >= 0.9 and plain.sum(axis=1).min() >= 1
    assert plain.sum(axis=1).mean() > sets.sum(axis=1).mean()


@pytest.mark.slow
def test_regression_intervals_cover_90_percent_of_held_out_points(regression):
    fit, (X_cal, y_cal), (X_test, y_test) = regression
    for score in ("normalized", "absolute"):
        conf = conformal.calibrate(fit, X_cal, y_cal, alpha=0.1, score=score)
        assert conf.n_calibration == 2000 and conf.score == score
        assert abs(conf.coverage(X_test, y_test) - 0.9) < 0.03
        region = conf.predict(X_test)
        assert list(region.data_vars) == ["mean", "lower", "upper"] and region["lower"].dims == ("obs",)
        width = (region["upper"] - region["lower"]).values
        edge = np.abs(X_test[:, 0]) > 2.5
        if score == "normalized":   # follows the noise sd, 0.85-1 at the edges against 0.1-0.25 at the centre
            assert width[edge].mean() > 3 * width[np.abs(X_test[:, 0]) < 0.5].mean()
        else:
            np.testing.assert_allclose(width, 2 * conf.quantile)
    table = conformal.report(conf, X_test, y_test)
    assert table["kind"].values.tolist() == ["conformal", "bayesian"]
    bayesian = pbnn.scores(fit.predict(X_test), y_test)["coverage"]   # the same central interval, seed 0
    assert float(table["coverage"].sel(kind="bayesian")) == float(bayesian)
    assert float(table["coverage"].sel(kind="conformal")) == conf.coverage(X_test, y_test)
    assert table.attrs["target"] == 0.9 and table.attrs["n_test"] == 5000


@pytest.mark.slow
def test_classification_sets_cover_90_percent_of_held_out_points(classification):
    fit, (X_cal, y_cal), (X_test, y_test) = classification
    for score in ("aps", "lac"):
        conf = conformal.calibrate(fit, X_cal, y_cal, alpha=0.1, score=score, seed=0)
        result = conf.evaluate(X_test, y_test)
        assert abs(float(result["coverage"]) - 0.9) < 0.03
        sets = conf.predict(X_test)
        assert sets["set"].dims == ("obs", "class") and sets["class"].values.tolist() == ["blue", "red"]
        np.testing.assert_array_equal(sets["size"], sets["set"].sum("class"))
        assert float(result["size"]) == pytest.approx(float(sets["size"].mean()))
    plain = conformal.calibrate(fit, X_cal, y_cal, randomized=False)
    assert plain.coverage(X_test, y_test) >= 0.9 and int(plain.predict(X_test)["size"].min()) >= 1
    table = conformal.report(conformal.calibrate(fit, X_cal, y_cal), X_test, y_test)
    # the Bayesian set (classes until 0.9 of the probability) overcovers on two classes: both classes or one
    assert float(table["coverage"].sel(kind="bayesian")) > 0.95
    assert set(table.data_vars) == {"coverage", "size", "empty"}


@pytest.mark.slow
def test_bad_input_is_refused_with_the_field_named(classification, regression):
    fit, (X_cal, y_cal), _ = classification

    def message(call, *args, **kwargs) -> str:
        with pytest.raises((ValueError, TypeError)) as err:
            call(*args, **kwargs)
        return str(err.value)

    assert message(conformal.calibrate, fit, X_cal, y_cal, alpha=1.5) == "alpha: expected a number in (0, 1), got 1.5"
    assert message(conformal.calibrate, fit, X_cal, y_cal, score="absolute") == (
        "score: unknown score 'absolute' for classification; expected one of aps, lac")
    assert message(conformal.calibrate, fit, X_cal, np.where(y_cal == "red", "green", y_cal)) == (
        "y_cal: labels 'green' are not classes of this model; its classes are 'blue', 'red'")
    assert message(conformal.calibrate, fit, X_cal, y_cal[:-1]) == (
        "y_cal: expected one label per row of X, shape (2000,), got (1999,)")
    assert message(conformal.calibrate, fit, X_cal[:, :1], y_cal) == (
        "X_cal: expected inputs of shape (2,) (n_samples excluded), as in training, got (1,)")
    assert message(conformal.calibrate, fit, X_cal[:5], y_cal[:5]).startswith(
        "X_cal: 5 calibration points are too few for alpha=0.1")
    assert message(conformal.calibrate, fit.idata, X_cal, y_cal) == (
        "fit: expected a pbnn Fit (from pbnn.fit), got DataTree")
    assert message(conformal.calibrate, fit, X_cal, y_cal, seed=-1).startswith(
        "seed: expected a non-negative integer")
    reg_fit, (X_r, y_r), _ = regression
    y_nan = y_r.copy()
    y_nan[3] = np.nan
    assert message(conformal.calibrate, reg_fit, X_r, y_nan) == "y_cal: expected finite values, found 1 NaN/inf"
    assert message(conformal.cv_plus, fit.spec, X_cal, y_cal) == (
        "spec: CV+ is for regression; this is a classification spec (use pbnn.conformal.calibrate for prediction "
        "sets)")
    assert message(conformal.cv_plus, reg_fit.spec, X_r, y_r, folds=1) == (
        "folds: expected 2 to n_samples (2000) folds, got 1")
    assert message(conformal.cv_plus, reg_fit.spec, X_r[:8], y_r[:8]) == (
        "X: 8 training points are too few for CV+ at alpha=0.1: it needs floor(alpha (n + 1)) >= 1; use at least 9 "
        "points or a larger alpha")


@pytest.mark.slow
def test_cv_plus_intervals_follow_the_paper_and_cover_90_percent():
    rng = np.random.default_rng(10)
    x = rng.uniform(-3, 3, (4200, 1))
    y = np.sin(x[:, 0]) + 0.3 * rng.standard_normal(4200)
    spec = pbnn.BNN([L.Dense(16, activation="tanh"), L.Dense(1)], likelihood="normal")
    cv = conformal.cv_plus(spec, x[:200], y[:200], folds=5, alpha=0.1, seed=0, method="map", steps=2000)
    assert len(cv.fits) == 5 and np.bincount(cv.fold).tolist() == [40] * 5
    # the residual of each training point comes from the fit that did not see it
    for k, fit in enumerate(cv.fits):
        held_out = cv.fold == k
        mean = fit.predict(x[:200][held_out]).mean().values
        np.testing.assert_allclose(cv.residuals[held_out], np.abs(y[:200][held_out] - mean))
    X_new = x[200:207]
    region = cv.predict(X_new)
    means = np.stack([fit.predict(X_new).mean().values for fit in cv.fits])   # (folds, points)
    for j in range(len(X_new)):   # eq. 6: the floor(0.1 * 201) = 20th and ceil(0.9 * 201) = 181st smallest
        assert region["lower"][j] == np.sort(means[cv.fold, j] - cv.residuals)[19]
        assert region["upper"][j] == np.sort(means[cv.fold, j] + cv.residuals)[180]
    assert abs(cv.coverage(x[200:], y[200:]) - 0.9) < 0.03


@pytest.mark.slow
def test_module_docstring_runs():
    assert doctest.testmod(conformal, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
