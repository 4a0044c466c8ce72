"""pbnn.plot: every plot returns a Figure with the expected panels and writes a PNG."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

import pbnn
from pbnn import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def test_pred(quick_fit, small_moons):
    return quick_fit.predict(small_moons.X_test)


def assert_png(fig, path, n_axes):
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_uncertainty_map_with_an_epistemic_panel(quick_fit, small_moons, tmp_path):
    _, X_te, _, y_te = small_moons
    fig = plot.uncertainty_map(quick_fit, X_te, y_te, resolution=30, epistemic=True, path=tmp_path / "map.png")
    assert_png(fig, tmp_path / "map.png", 6)  # 3 panels, 3 colour bars
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "posterior predictive mean", "uncertainty (std over draws)", "epistemic uncertainty",
    ]


def test_elbo_trace(quick_fit, tmp_path):
    fig = plot.elbo_trace(quick_fit, path=tmp_path / "elbo.png")
    assert_png(fig, tmp_path / "elbo.png", 2)
    n_steps = quick_fit.idata["sample_stats"].sizes["step"]
    assert len(fig.axes[0].lines[0].get_xdata()) == n_steps
    assert fig.axes[1].get_title() == f"last {4 * n_steps // 10} steps: the windows pbnn.diagnose compares"


def test_reliability_diagram(test_pred, small_moons, tmp_path):
    fig = plot.reliability_diagram(test_pred, small_moons.y_test, path=tmp_path / "rel.png")
    assert_png(fig, tmp_path / "rel.png", 2)
    s = test_pred.scores(small_moons.y_test)
    assert fig.axes[0].get_title() == f"ECE {float(s['ece']):.3f}, accuracy {float(s['accuracy']):.3f}"
    counts = [patch.get_height() for patch in fig.axes[1].patches]
    assert counts == s["bin_count"].values.tolist()


def test_probability_vs_uncertainty(quick_fit, test_pred, tmp_path):
    far = quick_fit.predict(np.random.default_rng(0).uniform(4, 6, size=(50, 2)))  # far from the data
    fig = plot.probability_vs_uncertainty({"test": test_pred, "far away": far}, path=tmp_path / "pu.png")
    assert_png(fig, tmp_path / "pu.png", 1)
    offsets = [c.get_offsets() for c in fig.axes[0].collections]
    assert [len(o) for o in offsets] == [100, 50]
    np.testing.assert_allclose(offsets[0][:, 1], test_pred.uncertainty()["std"].sel({"class": 1}))


def test_predictive_histogram(test_pred, tmp_path):
    fig = plot.predictive_histogram(test_pred, [0, 5, 9], path=tmp_path / "hist.png")
    assert_png(fig, tmp_path / "hist.png", 3)
    draws = test_pred.draws()[:, 5, 1]
    assert fig.axes[1].get_title() == f"point 5: {draws.mean():.2f} ± {draws.std():.2f}"
    with pytest.raises(ValueError, match=re.escape("points: expected indices in 0..99, got [100]")):
        plot.predictive_histogram(test_pred, [100])


def test_weight_densities(quick_fit, tmp_path):
    fig = plot.weight_densities(quick_fit, path=tmp_path / "w.png")
    assert_png(fig, tmp_path / "w.png", 3)
    assert [ax.get_title() for ax in fig.axes] == ["layer 1", "layer 2", "layer 3"]


def test_confusion_matrix(test_pred, small_moons, tmp_path):
    fig = plot.confusion_matrix(test_pred, small_moons.y_test, normalize=False, path=tmp_path / "cm.png")
    assert_png(fig, tmp_path / "cm.png", 2)
    cells = sum(int(t.get_text()) for t in fig.axes[0].texts)
    assert cells == 100
    assert fig.axes[0].get_title() == f"accuracy {test_pred.accuracy(small_moons.y_test):.3f}"


def test_ood_histograms(quick_fit, test_pred, tmp_path):
    far = quick_fit.predict(np.random.default_rng(0).uniform(4, 6, size=(50, 2)))
    fig = plot.ood_histograms({"test": test_pred, "far away": far}, score="entropy", path=tmp_path / "ood.png")
    assert_png(fig, tmp_path / "ood.png", 1)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["test", f"far away, AUROC {pbnn.ood_auroc(test_pred, far, score='entropy'):.3f}"]


def test_plots_reject_what_they_cannot_draw(quick_fit, test_pred):
    with pytest.raises(TypeError, match=re.escape("preds: expected Predictions or a mapping of labels to Predictions")):
        plot.probability_vs_uncertainty({"a": np.zeros(3)})
    with pytest.raises(ValueError, match=re.escape("score: unknown score 'variance' for classification")):
        plot.ood_histograms({"test": test_pred}, score="variance")
