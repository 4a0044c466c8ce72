"""pbnn.uncertainty: known answers on hand-made draws, then the digits out-of-distribution example."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from sklearn.metrics import roc_auc_score

import pbnn
from pbnn import datasets
from pbnn import layers as L
from pbnn import priors as P
from pbnn.predict import Predictions
from pbnn.uncertainty import SCORES, accuracy_coverage, reject

LOG2 = np.log(2.0)


def classifier_predictions(probs) -> Predictions:
    """Predictions of a categorical model whose draws are ``probs`` (draws, obs, class), one chain."""
    probs = np.asarray(probs, dtype=float)
    spec = pbnn.BNN([L.Dense(probs.shape[-1])], likelihood="categorical")
    p = xr.DataArray(probs[None], dims=("chain", "draw", "obs", "class"), coords=_coords(probs.shape[:2]))
    return Predictions(xr.DataTree.from_dict({"predictions": xr.Dataset({"p": p})}), spec)


def _coords(shape) -> dict[str, np.ndarray]:
    return {"chain": [0], "draw": np.arange(shape[0]), "obs": np.arange(shape[1])}


def regression_predictions(mu, sigma) -> Predictions:
    """Predictions of a normal-likelihood model: ``mu`` (draws, obs), ``sigma`` (draws,)."""
    spec = pbnn.BNN([L.Dense(1)], likelihood="normal")
    mu = np.asarray(mu, float)
    data = {"mu": (("chain", "draw", "obs"), mu[None]), "sigma": (("chain", "draw"), np.asarray(sigma, float)[None])}
    return Predictions(xr.DataTree.from_dict({"predictions": xr.Dataset(data, coords=_coords(mu.shape))}), spec)


# -- known answers ------------------------------------------------------------------------------


def test_entropy_splits_into_aleatoric_and_epistemic_on_hand_made_draws():
    # point 0: two draws that disagree completely; point 1: two draws that agree on a coin flip;
    # point 2: three classes, every draw certain of class 2
    probs = [
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]],
        [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]],
    ]
    u = pbnn.uncertainty(classifier_predictions(probs))
    np.testing.assert_allclose(u["entropy"], [LOG2, LOG2, 0.0], atol=1e-12)
    np.testing.assert_allclose(u["aleatoric"], [0.0, LOG2, 0.0], atol=1e-12)
    np.testing.assert_allclose(u["epistemic"], [LOG2, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(u["std"].sel({"class": 0}), [0.5, 0.0, 0.0])
    assert u["predicted"].values.tolist() == [0, 0, 2]
    np.testing.assert_allclose(u["confidence"], [0.5, 0.5, 1.0])
    assert u["label_spread_chi2"].values[2] == pytest.approx(2 * 2)  # (K - 1) * S: all draws agree
    assert u["entropy"].attrs["units"] == "nats"


def test_uncertainty_dataset_dims_and_shapes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(30, 7))  # 30 draws, 7 points, 4 classes
    u = classifier_predictions(probs).uncertainty()
    assert u.attrs["task"] == "classification"
    assert {name: u[name].dims for name in u.data_vars} == {
        "mean": ("obs", "class"), "std": ("obs", "class"), "predicted": ("obs",), "confidence": ("obs",),
        "confidence_std": ("obs",), "entropy": ("obs",), "aleatoric": ("obs",), "epistemic": ("obs",),
        "label_spread_chi2": ("obs",),
    }
    assert u.sizes == {"obs": 7, "class": 4}
    np.testing.assert_allclose(u["mean"], probs.mean(axis=0))
    np.testing.assert_allclose(u["entropy"], u["aleatoric"] + u["epistemic"], rtol=1e-12)


def test_regression_uncertainty_and_scores():
    mu = [[0.0, 1.0], [2.0, 1.0]]  # 2 draws, 2 points
    pred = regression_predictions(mu, sigma=[1.0, 1.0])
    u = pbnn.uncertainty(pred, prob=0.9)
    assert u.sizes == {"obs": 2}
    np.testing.assert_allclose(u["mean"], [1.0, 1.0])
    np.testing.assert_allclose(u["epistemic_std"], [1.0, 0.0])
    np.testing.assert_allclose(u["aleatoric_std"], [1.0, 1.0])
    np.testing.assert_allclose(u["total_std"], [np.sqrt(2.0), 1.0])
    np.testing.assert_allclose([u["lower"][1], u["upper"][1]], [1 - 1.6448536, 1 + 1.6448536], atol=1e-6)
    s = pbnn.scores(pred, [1.0, 3.0])
    assert float(s["rmse"]) == pytest.approx(np.sqrt(2.0))
    assert float(s["coverage"]) == 0.5  # 3.0 is outside 1 ± 1.645
    log_norm = -0.5 * np.log(2 * np.pi)
    expected_lpd = np.mean([np.log(np.mean(np.exp(log_norm - 0.5 * np.array([1.0, 1.0])))), log_norm - 2.0])
    assert float(s["lpd"]) == pytest.approx(expected_lpd)


def test_ece_is_zero_on_a_perfectly_calibrated_toy():
    # 20 points at confidence 0.75 with 15 right, 20 at 0.65 with 13 right: accuracy = confidence per bin
    probs = np.array([[0.75, 0.25]] * 20 + [[0.35, 0.65]] * 20)[None]
    y = np.array([0] * 15 + [1] * 5 + [1] * 13 + [0] * 7)
    s = classifier_predictions(probs).scores(y, n_bins=10)
    assert float(s["ece"]) == pytest.approx(0.0, abs=1e-12)
    assert float(s["accuracy"]) == pytest.approx(0.7)
    assert s["bin_count"].values.tolist() == [0, 0, 0, 0, 0, 0, 20, 20, 0, 0]
    np.testing.assert_allclose(s["bin_accuracy"].values[[6, 7]], [0.65, 0.75])
    np.testing.assert_allclose(s["bin_confidence"].values[[6, 7]], [0.65, 0.75])
    right, wrong = 2 * 0.25**2, 2 * 0.75**2  # Brier of a 0.75 prediction, right or wrong
    right_65, wrong_65 = 2 * 0.35**2, 2 * 0.65**2
    assert float(s["brier"]) == pytest.approx((15 * right + 5 * wrong + 13 * right_65 + 7 * wrong_65) / 40)
    log_p = np.log([0.75] * 15 + [0.25] * 5 + [0.65] * 13 + [0.35] * 7)
    assert float(s["lpd"]) == pytest.approx(log_p.mean())


def test_ece_of_an_overconfident_toy():
    probs = np.array([[0.9, 0.1]] * 10)[None]  # always 90% sure, right 60% of the time
    s = pbnn.scores(classifier_predictions(probs), [0] * 6 + [1] * 4)
    assert float(s["ece"]) == pytest.approx(0.3)


@pytest.mark.parametrize("score", ["epistemic", "mutual_info", "entropy", "aleatoric", "std", "confidence", "label_spread_chi2"])
def test_ood_auroc_equals_scikit_learn(score):
    rng = np.random.default_rng(1)
    sharp = rng.dirichlet([8.0, 1.0, 1.0], size=(40, 25))  # in-distribution: draws agree on class 0
    vague = rng.dirichlet([1.0, 1.0, 1.0], size=(40, 20))  # out-of-distribution: draws disagree
    vague[:, :3] = sharp[:, :3]  # a few OOD points look in-distribution (ties for chi2 and others)
    pred_in, pred_out = classifier_predictions(sharp), classifier_predictions(vague)
    chosen = SCORES["classification"][score]
    values = np.concatenate([pred_in.uncertainty()[chosen.variable], pred_out.uncertainty()[chosen.variable]])
    labels = np.r_[np.zeros(25), np.ones(20)]
    expected = roc_auc_score(labels, values if chosen.higher_is_uncertain else -values)
    assert pbnn.ood_auroc(pred_in, pred_out, score=score) == pytest.approx(expected, abs=1e-12)
    assert expected > 0.8  # the scores do separate the two sets


def test_reject_by_confidence_and_by_score():
    probs = [[[0.95, 0.05], [0.6, 0.4], [1.0, 0.0]], [[0.95, 0.05], [0.6, 0.4], [0.0, 1.0]]]
    pred = classifier_predictions(probs)  # point 2: draws disagree completely, mean (0.5, 0.5)
    refused = pred.reject(0.9)
    assert refused.dims == ("obs",) and refused.attrs == {"by": "confidence", "threshold": 0.9}
    assert refused.values.tolist() == [False, True, True]
    assert reject(pred, 0.1, by="epistemic").values.tolist() == [False, False, True]
    # chi-square: low is uncertain; with 2 draws the values are 2 (agree) or 0 (split)
    chi2 = pred.uncertainty()["label_spread_chi2"].values
    assert reject(pred, 1.0, by="label_spread_chi2").values.tolist() == (chi2 < 1.0).tolist()


def test_accuracy_coverage_ends_at_the_accuracy():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet([2.0, 1.0], size=(20, 50))
    y = rng.integers(0, 2, size=50)
    pred = classifier_predictions(probs)
    curve = accuracy_coverage(pred, y, by="epistemic")
    assert curve["coverage"].values[-1] == 1.0
    assert curve["accuracy"].values[-1] == pytest.approx(pred.accuracy(y))
    assert np.all(np.diff(curve["coverage"].values) > 0)
    assert curve["threshold"].values[-1] == pytest.approx(pred.uncertainty()["epistemic"].max())
    by_conf = pred.accuracy_coverage(y)  # thresholds in probability units, falling as coverage grows
    assert by_conf["threshold"].values[0] == pytest.approx(pred.uncertainty()["confidence"].max())


def test_bad_input_gets_a_clear_error():
    pred = classifier_predictions(np.full((2, 3, 2), 0.5))
    with pytest.raises(TypeError, match=re.escape("pred: expected pbnn Predictions (from fit.predict(X)), got ndarray")):
        pbnn.uncertainty(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=re.escape(
        "score: unknown score 'variance' for classification; expected one of epistemic, mutual_info, entropy, "
        "aleatoric, std, confidence, label_spread_chi2"
    )):
        pbnn.ood_auroc(pred, pred, score="variance")
    with pytest.raises(ValueError, match=re.escape("y: expected shape (3,) (one label per predicted point), got (2,)")):
        pbnn.scores(pred, [0, 1])
    with pytest.raises(ValueError, match=re.escape("threshold: expected a finite number, got 'high'")):
        pred.reject("high")
    with pytest.raises(TypeError, match=re.escape("accuracy_coverage(): needs a classifier; this is a regression model")):
        regression_predictions([[0.0]], [1.0]).accuracy_coverage([0.0])


# -- the worked example: digits 3 vs 5, shown 4s and noise (seeds/000) --------------------------


@pytest.fixture(scope="module")
def digits_3_5_4():
    ds, fours = datasets.digits_ood(ood_classes=[4], train_classes=[3, 5])
    noise = np.random.default_rng(0).random((200, 1, 8, 8))
    return ds, fours, noise


OOD_FITS = {
    "advi": {"steps": 3000, "draws": 200},
    "nuts": {"sampler": "numpyro", "draws": 100, "tune": 100, "chains": 2},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", list(OOD_FITS))
def test_digits_out_of_distribution(digits_3_5_4, method):
    ds, fours, noise = digits_3_5_4
    spec = pbnn.BNN([L.Flatten(), L.Dense(8, activation="tanh"), L.Dense(1)], prior=P.Normal(sigma=1.0),
                    likelihood="bernoulli")
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=0, progressbar=False, **OOD_FITS[method])
    test, held_out, static = fit.predict(ds.X_test), fit.predict(fours), fit.predict(noise)
    assert test.accuracy(ds.y_test) > 0.95  # measured 0.975 for both methods
    epistemic = {name: float(p.uncertainty()["epistemic"].mean()) for name, p in
                 (("test", test), ("fours", held_out), ("noise", static))}
    # measured (advi, nuts): test 0.060, 0.043; fours 0.222, 0.298; noise 0.414, 0.402 nats
    assert epistemic["fours"] > 3 * epistemic["test"]
    assert epistemic["noise"] > 3 * epistemic["test"]
    # measured AUROC for fours (advi, nuts): 0.884, 0.973; for noise 0.988, 0.999
    assert pbnn.ood_auroc(test, held_out, score="mutual_info") > 0.8
    assert pbnn.ood_auroc(test, static, score="mutual_info") > 0.95
    # refused at a 0.9 cut-off, measured (advi, nuts): test 0.098, 0.115; noise 0.995, 1.0
    assert float(static.reject(0.9).mean()) > 0.9 > 0.2 > float(test.reject(0.9).mean())
