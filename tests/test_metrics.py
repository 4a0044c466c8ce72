"""Tests for pbnn.metrics: known answers on hand-made arrays and references."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from pbnn import metrics as M

LOG2 = np.log(2.0)


def _one_hot(labels, k):
    return np.eye(k)[np.asarray(labels)]


# --------------------------------------------------------------------------
# entropies and mutual information
# --------------------------------------------------------------------------


def test_identical_one_hot_draws_have_zero_uncertainty():
    # S=6 draws, N=4 points, K=3: every draw says the same one-hot class
    probs = np.tile(_one_hot([0, 2, 1, 2], 3)[None], (6, 1, 1))
    for f in (M.total_entropy, M.expected_entropy, M.mutual_information):
        out = f(probs)
        assert out.shape == (4,)
        np.testing.assert_array_equal(out, 0.0)
    np.testing.assert_array_equal(M.predictive_std(probs), 0.0)


def test_opposite_one_hot_draws_are_purely_epistemic():
    probs = np.concatenate([np.tile([[[1.0, 0.0]]], (5, 1, 1)), np.tile([[[0.0, 1.0]]], (5, 1, 1))])
    np.testing.assert_allclose(M.total_entropy(probs), [LOG2], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(M.expected_entropy(probs), [0.0])
    np.testing.assert_allclose(M.mutual_information(probs), [LOG2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(M.predictive_mean(probs), [[0.5, 0.5]])
    np.testing.assert_allclose(M.predictive_std(probs), [[0.5, 0.5]])


@pytest.mark.parametrize("k", [2, 3, 10])
def test_uniform_draws_are_purely_aleatoric(k):
    probs = np.full((7, 3, k), 1.0 / k)
    np.testing.assert_allclose(M.total_entropy(probs), np.log(k), rtol=1e-14)
    np.testing.assert_allclose(M.expected_entropy(probs), np.log(k), rtol=1e-14)
    mi = M.mutual_information(probs)
    assert np.all(mi >= 0.0)  # clipped, not -1e-16
    np.testing.assert_allclose(mi, 0.0, atol=1e-14)


def test_hand_computed_mixed_case():
    # point 0: draws [0.7, 0.2, 0.1] and [0.1, 0.2, 0.7] -> mean [0.4, 0.2, 0.4]
    # point 1: draws [0.5, 0.5, 0.0] and [1.0, 0.0, 0.0] -> mean [0.75, 0.25, 0]
    probs = np.array(
        [
            [[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]],
            [[0.1, 0.2, 0.7], [1.0, 0.0, 0.0]],
        ]
    )
    # H[0.4,0.2,0.4] = -(2*0.4 ln 0.4 + 0.2 ln 0.2); H[0.75,0.25] = -(0.75 ln 0.75 + 0.25 ln 0.25)
    total = [1.0549201679861442, 0.5623351446188083]
    # H[0.7,0.2,0.1] = 0.8018185525433372 for both draws; (ln 2 + 0) / 2
    expected = [0.8018185525433372, 0.34657359027997264]
    np.testing.assert_allclose(M.total_entropy(probs), total, rtol=1e-13)
    np.testing.assert_allclose(M.expected_entropy(probs), expected, rtol=1e-13)
    np.testing.assert_allclose(
        M.mutual_information(probs), [0.25310161544280696, 0.21576155433883565], rtol=1e-12
    )


def test_mutual_information_nonnegative_on_random_draws():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(50, 200))
    mi = M.mutual_information(probs)
    assert mi.shape == (200,)
    assert np.all(mi >= 0.0)
    np.testing.assert_allclose(M.total_entropy(probs), M.expected_entropy(probs) + mi, atol=1e-12)


# --------------------------------------------------------------------------
# chi-square label spread
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4])
def test_chi2_identical_labels_is_maximal_and_balanced_is_zero(k):
    s = 8
    identical = np.full((s, 3), 1)
    np.testing.assert_allclose(M.label_spread_chi2_from_labels(identical, n_classes=k), (k - 1) * s)
    balanced = np.repeat(np.arange(k), s // k)[:, None]  # each class s/k times
    np.testing.assert_allclose(M.label_spread_chi2_from_labels(balanced, n_classes=k), [0.0])


def test_chi2_matches_scipy_on_counts():
    labels = np.array([[0, 1], [0, 2], [1, 2], [0, 2], [0, 0]])  # S=5, N=2, K=3
    expected = [stats.chisquare([4, 1, 0]).statistic, stats.chisquare([1, 1, 3]).statistic]
    np.testing.assert_allclose(M.label_spread_chi2_from_labels(labels, n_classes=3), expected)


def test_chi2_from_probs_seeded():
    s, k = 40, 3
    one_hot = np.tile(_one_hot([2], k)[None], (s, 1, 1))
    np.testing.assert_allclose(M.label_spread_chi2(one_hot, seed=1), [(k - 1) * s])
    np.testing.assert_allclose(M.label_spread_chi2(one_hot, seed=1, n_labels=5), [(k - 1) * s * 5])
    # point 0 certain, point 1 uniform: spread labels give a much smaller statistic
    probs = np.concatenate([one_hot, np.full((s, 1, k), 1.0 / k)], axis=1)
    a = M.label_spread_chi2(probs, seed=123)
    np.testing.assert_array_equal(a, M.label_spread_chi2(probs, seed=123))
    assert a[0] == pytest.approx((k - 1) * s) and a[1] < 20.0


def test_sample_labels_frequencies():
    probs = np.tile([[[0.2, 0.5, 0.3]]], (20000, 1, 1))
    lab = M.sample_labels(probs, seed=0)
    assert lab.shape == (20000, 1)
    freq = np.bincount(lab[:, 0], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)


# --------------------------------------------------------------------------
# regression uncertainty and intervals
# --------------------------------------------------------------------------


def test_regression_uncertainty_decomposition():
    mu = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])  # S=3, N=2
    sigma = np.array([[1.0, 3.0], [2.0, 3.0], [2.0, 3.0]])
    u = M.regression_uncertainty(mu, sigma)
    np.testing.assert_allclose(u.mean, [2.0, 1.0])
    np.testing.assert_allclose(u.epistemic_std, [np.sqrt(8.0 / 3.0), 0.0])
    np.testing.assert_allclose(u.aleatoric_std, [np.sqrt(3.0), 3.0])
    np.testing.assert_allclose(u.total_std, [np.sqrt(8.0 / 3.0 + 3.0), 3.0])
    assert set(u.as_dict()) == {"mean", "epistemic_std", "aleatoric_std", "total_std"}
    # per-draw sigma of shape (S,) broadcasts over points
    u2 = M.regression_uncertainty(mu, np.array([1.0, 2.0, 2.0]))
    np.testing.assert_allclose(u2.aleatoric_std, [np.sqrt(3.0), np.sqrt(3.0)])


def test_interval_single_draw_is_gaussian():
    mu = np.array([[0.0, 1.5, -3.0]])
    sigma = np.array([[1.0, 0.5, 2.0]])
    lo, hi = M.predictive_interval(mu, sigma, prob=0.9)
    z = stats.norm.ppf(0.95)
    assert abs(z - 1.645) < 1e-3
    np.testing.assert_allclose(lo, mu[0] - z * sigma[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hi, mu[0] + z * sigma[0], rtol=1e-12, atol=1e-12)


def test_mixture_quantile_solves_mixture_cdf():
    mu = np.array([[0.0], [3.0]])
    sigma = np.array([[1.0], [0.5]])
    for q in (0.05, 0.5, 0.95):
        x = M.mixture_quantile(mu, sigma, q)
        cdf = 0.5 * (stats.norm.cdf(x, 0.0, 1.0) + stats.norm.cdf(x, 3.0, 0.5))
        np.testing.assert_allclose(cdf, q, atol=1e-9)


def test_mixture_interval_has_stated_coverage():
    rng = np.random.default_rng(42)
    s, n = 20, 100_000
    mu = rng.normal(0.0, 2.0, size=(s, n)) + rng.normal(0.0, 5.0, size=n)
    sigma = rng.uniform(0.3, 2.0, size=(s, n))
    # y from the mixture: pick a draw per point, then its Gaussian
    pick = rng.integers(0, s, size=n)
    cols = np.arange(n)
    y = rng.normal(mu[pick, cols], sigma[pick, cols])
    lo, hi = M.predictive_interval(mu, sigma, prob=0.9)
    assert abs(M.interval_coverage(lo, hi, y) - 0.9) < 0.01
    assert np.all(lo < M.mixture_quantile(mu, sigma, 0.5)) and np.all(hi > lo)


# --------------------------------------------------------------------------
# scores on labelled data
# --------------------------------------------------------------------------


HAND_PROBS = np.array(
    [
        [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]],
        [[0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],
    ]
)  # mean: [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3]]
HAND_Y = np.array([0, 2])


def test_accuracy_brier_lpd_hand_computed():
    assert M.accuracy(HAND_PROBS, HAND_Y) == 0.5
    # point 0: 0.3^2 + 0.2^2 + 0.1^2 = 0.14; point 1: 0.3^2 + 0.4^2 + 0.7^2 = 0.74
    assert M.brier(HAND_PROBS, HAND_Y) == pytest.approx(0.44, abs=1e-15)
    # log of the mean probability (0.7, 0.3), not the mean of the logs
    assert M.log_predictive_density(HAND_PROBS, HAND_Y) == pytest.approx(
        0.5 * (np.log(0.7) + np.log(0.3)), abs=1e-14
    )


def test_lpd_zero_probability_is_finite_and_stable():
    probs = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])
    lpd = M.log_predictive_density(probs, [1])
    assert np.isfinite(lpd) and lpd < -700
    tiny = np.array([[[1 - 1e-200, 1e-200]], [[1 - 1e-250, 1e-250]]])
    expected = np.log(0.5 * (1e-200 + 1e-250))
    assert M.log_predictive_density(tiny, [1]) == pytest.approx(expected, rel=1e-12)


def test_ece_zero_on_perfectly_calibrated_toy():
    rng = np.random.default_rng(7)
    n = 200_000
    p1 = rng.uniform(size=n)
    y = (rng.uniform(size=n) < p1).astype(int)  # y ~ Bernoulli(p1)
    probs = np.stack([1 - p1, p1], axis=-1)[None]  # S=1
    assert M.expected_calibration_error(probs, y) < 0.01
    t = M.calibration_table(probs, y)
    assert t["count"].sum() == n
    assert np.all(t["count"][:5] == 0)  # top-label confidence is >= 0.5
    np.testing.assert_allclose(t["accuracy"][5:], t["confidence"][5:], atol=0.01)


def test_ece_known_value_on_miscalibrated_case():
    probs = np.tile([[[0.9, 0.1]]], (3, 10, 1))
    y = np.array([0] * 6 + [1] * 4)
    assert M.expected_calibration_error(probs, y) == pytest.approx(0.3, abs=1e-12)
    t = M.calibration_table(probs, y, n_bins=10)
    assert t["count"].tolist() == [0] * 9 + [10]
    assert t["confidence"][9] == pytest.approx(0.9) and t["accuracy"][9] == pytest.approx(0.6)
    assert np.isnan(t["accuracy"][0])


def test_rmse_and_gaussian_ll_single_draw_match_scipy():
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(1, 50))
    sigma = rng.uniform(0.5, 2.0, size=(1, 50))
    y = rng.normal(size=50)
    assert M.rmse(mu, y) == pytest.approx(np.sqrt(np.mean((mu[0] - y) ** 2)), rel=1e-14)
    assert M.gaussian_log_likelihood(mu, sigma, y) == pytest.approx(
        np.mean(stats.norm.logpdf(y, mu[0], sigma[0])), rel=1e-13
    )
    assert M.rmse(np.array([[1.0, 2.0], [3.0, 4.0]]), [2.0, 5.0]) == pytest.approx(np.sqrt(2.0))


def test_gaussian_ll_two_draw_mixture_by_hand():
    mu = np.array([[0.0], [1.0]])
    sigma = np.array([1.0, 2.0])
    # 0.5 * (phi(0) / 1 + phi(0.5) / 2), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    dens = 0.5 * (1.0 / np.sqrt(2 * np.pi) + np.exp(-0.125) / (2.0 * np.sqrt(2 * np.pi)))
    assert M.gaussian_log_likelihood(mu, sigma, [0.0]) == pytest.approx(np.log(dens), rel=1e-14)
    # far in the tail logsumexp stays finite where exp underflows
    far = M.gaussian_log_likelihood(np.array([[0.0], [0.0]]), np.array([0.01, 0.01]), [100.0])
    assert far == pytest.approx(stats.norm.logpdf(100.0, 0.0, 0.01), rel=1e-12)


def test_interval_coverage():
    assert M.interval_coverage([0, 0, 0, 0], [1, 1, 1, 1], [0.0, 1.0, -0.1, 1.1]) == 0.5


# --------------------------------------------------------------------------
# OOD and rejection
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    s_in = rng.integers(0, 6, size=300).astype(float)
    s_out = rng.integers(1, 8, size=170).astype(float)
    ref = roc_auc_score(np.r_[np.zeros(300), np.ones(170)], np.r_[s_in, s_out])
    assert abs(M.auroc(s_in, s_out) - ref) < 1e-12


def test_auroc_continuous_and_edge_cases():
    rng = np.random.default_rng(5)
    s_in, s_out = rng.normal(size=1000), rng.normal(0.5, 1.0, size=800)
    ref = roc_auc_score(np.r_[np.zeros(1000), np.ones(800)], np.r_[s_in, s_out])
    assert abs(M.auroc(s_in, s_out) - ref) < 1e-12
    assert M.auroc([0.0, 1.0], [2.0, 3.0]) == 1.0
    assert M.auroc([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert M.auroc([1.0, 1.0], [1.0]) == 0.5


def test_accuracy_coverage_curve():
    rng = np.random.default_rng(11)
    n = 500
    probs = rng.dirichlet(np.ones(3), size=(4, n))
    y = rng.integers(0, 3, size=n)
    correct = probs.mean(0).argmax(-1) == y
    # default score: 1 - max predictive probability
    curve = M.accuracy_coverage_curve(probs, y)
    assert curve.coverage[-1] == 1.0
    assert curve.accuracy[-1] == pytest.approx(M.accuracy(probs, y))
    assert np.all(np.diff(curve.coverage) > 0)
    # a perfect ordering puts all correct points first
    score = np.where(correct, 0.0, 1.0) + rng.uniform(0, 0.5, size=n)
    curve = M.accuracy_coverage_curve(probs, y, score)
    low = curve.coverage <= correct.mean() + 1e-12
    np.testing.assert_array_equal(curve.accuracy[low], 1.0)
    assert curve.accuracy[-1] == pytest.approx(correct.mean())
    # thresholds reproduce the coverage through reject_mask
    i = len(curve.coverage) // 3
    kept = ~M.reject_mask(probs, score=score, max_score=curve.max_score[i])
    assert kept.mean() == pytest.approx(curve.coverage[i])


def test_accuracy_coverage_curve_collapses_ties():
    probs = _one_hot([0, 0, 0, 0], 2)[None]
    curve = M.accuracy_coverage_curve(probs, [0, 1, 0, 1], score=[0.2, 0.1, 0.2, 0.3])
    assert curve.coverage.tolist() == [0.25, 0.75, 1.0]
    assert curve.accuracy.tolist() == [0.0, 2 / 3, 0.5]
    assert curve.max_score.tolist() == [0.1, 0.2, 0.3]


def test_reject_mask():
    probs = np.array([[[0.9, 0.1], [0.55, 0.45], [0.3, 0.7]]])
    assert M.reject_mask(probs, threshold=0.6).tolist() == [False, True, False]
    score = [0.1, 0.5, np.nan]
    assert M.reject_mask(probs, score=score, max_score=0.2).tolist() == [False, True, True]
    assert M.reject_mask(probs, threshold=0.8, score=[0.1, 0.1, 0.1], max_score=0.2).tolist() == [
        False,
        True,
        True,
    ]
    with pytest.raises(ValueError) as e:
        M.reject_mask(probs)
    assert str(e.value) == "give threshold, or score with max_score"
    with pytest.raises(ValueError) as e:
        M.reject_mask(probs, max_score=0.2)
    assert str(e.value) == "score and max_score must be given together"


# --------------------------------------------------------------------------
# shape errors and documentation examples
# --------------------------------------------------------------------------


PROBS = np.full((2, 3, 2), 0.5)
SHAPE_ERRORS = [
    (
        lambda: M.total_entropy(np.ones((3, 2))),
        "probs must have shape (S, N, K); got shape (3, 2)",
    ),
    (
        lambda: M.accuracy(PROBS, [0, 1]),
        "y must have shape (N,) = (3,) to match probs; got shape (2,)",
    ),
    (
        lambda: M.brier(PROBS, [0, 1, 2]),
        "y must contain class labels in [0, 2); got values in [0, 2]",
    ),
    (lambda: M.brier(PROBS, [0.5, 1, 0]), "y must contain integer class labels"),
    (
        lambda: M.regression_uncertainty(np.ones((4, 5)), np.ones(5)),
        "sigma must have shape (S, N) = (4, 5) or (S,) = (4,) to match mu; got shape (5,)",
    ),
    (
        lambda: M.rmse(np.ones(5), np.ones(5)),
        "mu must have shape (S, N) with S >= 1; got shape (5,)",
    ),
    (
        lambda: M.gaussian_log_likelihood(np.ones((4, 5)), np.ones(4), np.ones(4)),
        "y must have shape (N,) = (5,) to match mu; got shape (4,)",
    ),
    (lambda: M.predictive_interval(np.ones((2, 3)), -np.ones(2)), "sigma must be positive"),
    (
        lambda: M.label_spread_chi2_from_labels(np.zeros(4, dtype=int), 2),
        "labels must have shape (S, N) with S >= 1; got shape (4,)",
    ),
    (
        lambda: M.auroc(np.ones((2, 2)), [1.0]),
        "scores_in must have shape (n,) with n >= 1; got shape (2, 2)",
    ),
    (
        lambda: M.auroc([1.0], []),
        "scores_out must have shape (n,) with n >= 1; got shape (0,)",
    ),
    (
        lambda: M.accuracy_coverage_curve(PROBS, [0, 1, 0], score=[1.0, 2.0]),
        "score must have shape (N,) = (3,) to match probs; got shape (2,)",
    ),
    (
        lambda: M.interval_coverage([0.0, 0.0], [1.0], [0.5, 0.5]),
        "upper must have shape (N,) = (2,) to match lower; got shape (1,)",
    ),
]


@pytest.mark.parametrize("call, message", SHAPE_ERRORS)
def test_shape_errors_have_exact_messages(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == message


def test_docstring_examples_run():
    result = doctest.testmod(M, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20
    assert result.failed == 0
