"""pbnn.plot: every plot returns a Figure with the expected panels and writes a PNG."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import pbnn
from pbnn import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def test_pred(quick_fit, small_moons):
    return quick_fit.predict(small_moons.X_test)


@pytest.fixture(scope="module")
def comparison(small_moons):
    options = {"advi": {"steps": 1500, "draws": 100}, "map": {"steps": 500}}
    return pbnn.compare(pbnn.zoo.two_layer_tanh(), small_moons, methods=["advi", "map"], options=options, seed=0,
                        progressbar=False)


@pytest.fixture(scope="module")
def sine_fit():
    ds = pbnn.datasets.sine(n_samples=64, seed=0)
    return ds, pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, steps=1500, draws=100, seed=0, progressbar=False)


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
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == ["x1"] * 3 and fig.axes[0].get_ylabel() == "x2"
    # each class has its own marker, white with a black edge or black with a white edge: visible on any colour
    points = fig.axes[0].collections[-2:]
    assert [len(c.get_offsets()) for c in points] == [np.sum(y_te == 0), np.sum(y_te == 1)]
    faces = [tuple(c.get_facecolor()[0][:3]) for c in points]
    edges = [tuple(c.get_edgecolor()[0][:3]) for c in points]
    assert faces == [(1, 1, 1), (0, 0, 0)] and edges == [(0, 0, 0), (1, 1, 1)]


def test_elbo_trace(quick_fit, tmp_path):
    fig = plot.elbo_trace(quick_fit, path=tmp_path / "elbo.png")
    assert_png(fig, tmp_path / "elbo.png", 2)
    n_steps = quick_fit.idata["optimizer_stats"].sizes["step"]
    assert len(fig.axes[0].lines[0].get_xdata()) == n_steps
    assert fig.axes[1].get_title() == f"last {4 * n_steps // 10} steps: the windows pbnn.diagnose compares"


def test_reliability_diagram(test_pred, small_moons, tmp_path):
    fig = plot.reliability_diagram(test_pred, small_moons.y_test, path=tmp_path / "rel.png")
    assert_png(fig, tmp_path / "rel.png", 2)
    s = test_pred.scores(small_moons.y_test)
    assert fig.axes[0].get_title() == f"ECE {float(s['ece']):.3f}, accuracy {float(s['accuracy']):.3f}"
    counts = [patch.get_height() for patch in fig.axes[1].patches]
    assert counts == s["bin_count"].values.tolist()
    assert [t.get_text() for t in fig.axes[1].texts] == [str(c) for c in s["bin_count"].values if c]
    assert fig.axes[0].get_xlim() == (0.5, 1.0)  # binary data: the confidence is at least 0.5


def test_elbo_trace_shows_a_start_decades_below_the_end(quick_fit):
    idata = quick_fit.idata.copy()
    steps = np.arange(idata["optimizer_stats"].sizes["step"])
    elbo = -100.0 - 1e5 * np.exp(-steps / 50) + np.random.default_rng(0).normal(0, 2, steps.size)
    idata["optimizer_stats"] = idata["optimizer_stats"].to_dataset().assign(elbo=("step", elbo))
    fig = plot.elbo_trace(pbnn.results.Fit(quick_fit.spec, idata))
    whole = fig.axes[0]
    smooth = whole.lines[1].get_ydata()
    lo, hi = whole.get_ylim()
    assert whole.get_yscale() == "symlog" and lo <= smooth.min() and hi >= smooth.max()
    assert smooth.min() < -1e4  # the running mean starts decades below where it ends


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


def test_compare_maps_are_labelled_with_a_colour_bar_per_row(comparison, tmp_path):
    fig = comparison.plot_maps(resolution=20, path=tmp_path / "maps.png")
    assert_png(fig, tmp_path / "maps.png", 6)  # 2 x 2 maps, 2 colour bars
    maps, bars = fig.axes[:4], fig.axes[4:]
    assert [ax.get_title() for ax in maps] == ["advi: mean", "map: mean", "advi: spread", "map: spread"]
    assert [ax.get_xlabel() for ax in maps[2:]] == ["x1", "x1"]
    assert [maps[0].get_ylabel(), maps[2].get_ylabel()] == ["x2", "x2"]
    assert [ax.get_ylabel() for ax in bars] == [
        "P(class 1) (one scale for all methods)", "predictive spread (one scale for all methods)",
    ]
    assert bars[0].get_ylim() == (0.0, 1.0)
    n_test = len(comparison.data.y_test)
    assert all(sum(len(c.get_offsets()) for c in ax.collections[-2:]) == n_test for ax in maps)


def test_compare_elbo_shows_every_curve_whole(comparison, tmp_path):
    fig = comparison.plot_elbo(path=tmp_path / "elbo.png")
    assert_png(fig, tmp_path / "elbo.png", 2)
    whole, late = fig.axes
    assert [line.get_label() for line in late.lines] == ["advi"]  # MAP has no ELBO
    elbo = comparison.results["advi"].fit.idata["optimizer_stats"]["elbo"].values
    span = len(elbo) // 100
    smooth = np.convolve(elbo, np.ones(span) / span, mode="valid")
    np.testing.assert_allclose(whole.lines[0].get_ydata(), smooth)
    for ax, shown in ((whole, smooth), (late, late.lines[0].get_ydata())):
        lo, hi = ax.get_ylim()
        assert lo <= shown.min() and hi >= shown.max()


def test_compare_reliability_gives_the_bin_counts(comparison, tmp_path):
    fig = comparison.plot_reliability(path=tmp_path / "rel.png")
    assert_png(fig, tmp_path / "rel.png", 2)
    top, counts = fig.axes
    assert top.get_xlim() == (0.5, 1.0)
    expected = [str(c) for r in comparison.results.values() for c in r.scores["bin_count"].values if c]
    assert [t.get_text() for t in counts.texts] == expected
    assert [bar.get_height() for bar in counts.patches] == [
        c for r in comparison.results.values() for c in r.scores["bin_count"].values.tolist()
    ]


def _band(collection):
    """(x, lower, upper) of a fill_between area."""
    vertices = collection.get_paths()[0].vertices
    x = np.unique(vertices[:, 0])
    return x, *(np.array([f(vertices[vertices[:, 0] == xi, 1]) for xi in x]) for f in (np.min, np.max))


def test_regression_band_draws_the_predictions(sine_fit, tmp_path):
    ds, fit = sine_fit
    grid = np.linspace(-1.5, 1.5, 31)
    fig = plot.regression_band(fit, ds.X_train, ds.y_train, grid=grid, prob=0.8, path=tmp_path / "band.png")
    assert_png(fig, tmp_path / "band.png", 1)
    ax = fig.axes[0]
    pred = fit.predict(grid[:, None])
    u = pred.uncertainty(prob=0.8)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), u["mean"].values)
    total, epistemic = (_band(c) for c in ax.collections[:2])
    np.testing.assert_allclose(total[0], grid)
    np.testing.assert_allclose(total[1:], [u["lower"].values, u["upper"].values])
    np.testing.assert_allclose(epistemic[1:], np.quantile(pred.draws("mu"), [0.1, 0.9], axis=0))
    np.testing.assert_allclose(ax.collections[2].get_offsets(), np.column_stack([ds.X_train[:, 0], ds.y_train]))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "80% predictive (total)", "80% of the mean (epistemic)", "predictive mean", "data",
    ]


def test_regression_band_one_panel_per_fit_and_bad_input(sine_fit, quick_fit):
    ds, fit = sine_fit
    fig = plot.regression_band({"first": fit, "second": fit}, ds.X_train[:, 0], resolution=25)
    assert [ax.get_title() for ax in fig.axes] == ["first", "second"]
    assert len(fig.axes[0].lines[0].get_xdata()) == 25
    with pytest.raises(ValueError, match=re.escape("fit 'advi': regression_band needs a regression fit on 1-D inputs")):
        plot.regression_band(quick_fit, ds.X_train)
    with pytest.raises(ValueError, match=re.escape("X: regression_band needs 1-D inputs of shape (n,) or (n, 1)")):
        plot.regression_band(fit, np.zeros((64, 2)))
    with pytest.raises(ValueError, match=re.escape("y: expected one target per point of X, shape (64,), got (3,)")):
        plot.regression_band(fit, ds.X_train, np.zeros(3))


def test_figures_display_as_png_and_stay_out_of_pyplot(quick_fit, test_pred, small_moons):
    from IPython.core.formatters import DisplayFormatter

    before = plt.get_fignums()
    figures = [
        plot.elbo_trace(quick_fit),
        plot.reliability_diagram(test_pred, small_moons.y_test),
        plot.predictive_histogram(test_pred, [0]),
    ]
    assert plt.get_fignums() == before  # never registered: not shown twice, freed with the last reference
    for fig in figures:
        assert fig._repr_png_()[:8] == PNG_MAGIC
    data, _ = DisplayFormatter().format(figures[0])  # what a notebook cell returning the figure shows
    assert data["image/png"][:8] == PNG_MAGIC
