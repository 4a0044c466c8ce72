"""ADVI vs NUTS (vs Laplace, Pathfinder, ...) side by side: one split, one seed, one report.

:func:`compare` fits every method on the same training data, predicts the same test data and
measures, per method: the test score (accuracy or RMSE), held-out log predictive density, calibration
(ECE or interval coverage), OOD AUROC when an OOD set is given, fit and predict wall time, the
convergence verdict of :func:`pbnn.diagnose` (function-space r_hat and ESS/s for samplers, the ELBO
for VI) and divergences; across methods, how far each method's predictive mean is from the
reference's (NUTS when it is among the methods) and where its predictive spread is smaller than the
reference's (where ADVI under-covers); on the training data, PSIS-LOO (``elpd_loo`` +- se, ``p_loo``, the share of
Pareto k above 0.7) with ArviZ's ranking (``az.compare``) and, for variational fits, the k-hat of their
importance ratios p/q (:func:`pbnn.elpd.vi_khat`).

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=200)
>>> cmp = pbnn.compare(pbnn.zoo.two_layer_tanh(), ds, methods=["advi", "map"], seed=0, progressbar=False,
...                    options={"advi": {"steps": 3000}, "map": {"steps": 2000}})
>>> [row["method"] for row in cmp.table]
['advi', 'map']
"""

from __future__ import annotations

import csv
import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import arviz_stats as azs
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pbnn import datasets as D
from pbnn.diagnostics import Diagnosis, diagnose
from pbnn.inference import METHODS, methods as registry
from pbnn.inference import fit as fit_method
from pbnn.plot import (
    _accuracy_floor, _bin_counts, _confidence_floor, _elbo, _figure, _running_mean, _scatter_data, _show_whole,
)
from pbnn.predict import Predictions
from pbnn.results import Fit
from pbnn.spec import BNN
from pbnn.uncertainty import ood_auroc, scores, uncertainty

#: The reference method, when it is among the compared ones: exact up to Monte Carlo error (the registry's
#: ``reference`` capability).
REFERENCE = registry.reference()

#: A method "under-covers" a test point when its predictive spread is below this fraction of the reference's.
UNDER_COVER_RATIO = 0.5


@dataclass
class MethodResult:
    """One method's fit, its test predictions and what was measured on them."""

    method: str
    fit: Fit
    pred: Predictions
    fit_seconds: float
    predict_seconds: float
    scores: Any
    diagnosis: Diagnosis
    ood_auroc: float | None = None
    spread: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    loo: Any = None  # arviz_stats' ELPDData of the training data (pointwise), None without log_likelihood


@dataclass
class Comparison:
    """The result of :func:`compare`: ``results[method]``, a :attr:`table` and a markdown :meth:`report`."""

    spec: BNN
    data: D.Dataset
    results: dict[str, MethodResult]
    seed: int
    #: ``az.compare`` of the methods with a log_likelihood (pandas DataFrame indexed by method), or None.
    loo_table: Any = None

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def reference(self) -> str | None:
        """The method others are compared with: NUTS when present."""
        return REFERENCE if REFERENCE in self.results else None

    @property
    def table(self) -> list[dict[str, Any]]:
        """One row per method: scores, timings, convergence and agreement with the reference."""
        return [self._row(r) for r in self.results.values()]

    def _row(self, r: MethodResult) -> dict[str, Any]:
        s = r.scores
        row: dict[str, Any] = {"method": r.method}
        if self.task == "classification":
            row |= {"accuracy": float(s["accuracy"]), "lpd": float(s["lpd"]), "ece": float(s["ece"]),
                    "brier": float(s["brier"])}
        else:
            row |= {"rmse": float(s["rmse"]), "lpd": float(s["lpd"]), "coverage_90": float(s["coverage"])}
        row["ood_auroc"] = r.ood_auroc
        row |= {"fit_s": r.fit_seconds, "predict_s": r.predict_seconds}
        fn = r.diagnosis.function
        if "r_hat" in fn:
            ess = float(fn["ess_bulk"].min())
            row |= {"rhat_function_max": float(fn["r_hat"].max()), "ess_per_s": ess / r.fit_seconds}
        else:
            row |= {"rhat_function_max": None, "ess_per_s": None}
        stats = r.fit.idata["sample_stats"] if "sample_stats" in r.fit.idata.children else {}
        row["divergences"] = int(stats["diverging"].sum()) if "diverging" in stats else None
        row["converged"] = r.diagnosis.ok
        row |= _loo_columns(r, self.loo_table)
        ref = self.reference
        if ref is not None and r.method != ref:
            refr = self.results[ref]
            row["mean_abs_diff_vs_ref"] = float(np.mean(np.abs(_mean(r.pred) - _mean(refr.pred))))
            row["spread_ratio_vs_ref"] = float(np.median(r.spread / np.maximum(refr.spread, 1e-12)))
            row["under_covered_frac"] = float(np.mean(r.spread < UNDER_COVER_RATIO * refr.spread))
        else:
            row |= {"mean_abs_diff_vs_ref": None, "spread_ratio_vs_ref": None, "under_covered_frac": None}
        return row

    # -- output ----------------------------------------------------------------------------------
    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`table` as CSV (empty cells for numbers that do not apply)."""
        rows = self.table
        path = Path(path)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
        return path

    def report(self) -> str:
        """A markdown report: the data, the table, the convergence verdicts and what the numbers mean."""
        ds = self.data
        lines = [
            f"# {self.spec.name} on {ds.name}: {', '.join(self.results)}",
            "",
            f"{ds.task}, {len(ds.y_train)} training and {len(ds.y_test)} test points, seed {self.seed}. "
            f"Model: {self.spec.summary().splitlines()[0]}",
            "",
            _markdown(self.table),
            "",
            "Columns: `lpd` held-out log predictive density (nats per point, higher is better); "
            + ("`ece` expected calibration error (10 bins); " if self.task == "classification" else
               "`coverage_90` fraction of test targets inside the central 90% interval; ")
            + "`rhat_function_max` and `ess_per_s`: r_hat and bulk ESS per second of the predictions at a probe "
            "set (function space, samplers only); "
            + (f"`mean_abs_diff_vs_ref`: mean |predictive mean - {self.reference}'s| over the test points; "
               f"`spread_ratio_vs_ref`: median ratio of the predictive spread ("
               + ("std of the probabilities over draws" if self.task == "classification" else "total std")
               + f") to {self.reference}'s; `under_covered_frac`: fraction of test points where it is below "
               f"{UNDER_COVER_RATIO:g}x {self.reference}'s." if self.reference else "no reference method (add nuts)."),
            f"`elpd_loo` +- `elpd_loo_se`, `p_loo`: PSIS-LOO on the training data (ArviZ; `loo_rank` 0 is best); "
            f"`k_bad_frac`: share of training points with Pareto k > {K_BAD:g} (their LOO is unreliable); `vi_khat`: "
            "Pareto k-hat of the importance ratios p/q over a variational fit's draws (Yao et al. 2018; below 0.7 "
            "the approximation is usable, above it its spread and LOO are not the posterior's).",
            "",
            "## Convergence",
            "",
        ]
        for r in self.results.values():
            lines += ["```", repr(r.diagnosis), "```", ""]
        return "\n".join(lines)

    def save(self, out: str | Path) -> Path:
        """Write to ``out``: ``<method>/`` (each fit: spec.toml + idata.nc), ``table.csv``, ``report.md`` and PNGs."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for r in self.results.values():
            r.fit.save(out / r.method)
        self.to_csv(out / "table.csv")
        (out / "report.md").write_text(self.report())
        if self.data.X_train.ndim == 2 and self.data.X_train.shape[1] == 2:
            self.plot_maps(path=out / "uncertainty_maps.png")
        if any(_elbo(r.fit) is not None for r in self.results.values()):
            self.plot_elbo(path=out / "elbo.png")
        if self.task == "classification":
            self.plot_reliability(path=out / "reliability.png")
        return out

    # -- figures ---------------------------------------------------------------------------------
    def plot_maps(self, *, resolution: int = 80, margin: float = 0.5, path: str | Path | None = None) -> Figure:
        """Predictive mean (top) and spread (bottom) over a grid around 2-D inputs, one column per method.

        Each row has one colour scale for all methods and its colour bar; the test points are drawn on top.
        """
        X, y = self.data.X_test, self.data.y_test
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"plot_maps: needs 2-D inputs of shape (n, 2), got {X.shape}")
        lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
        g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
        grid = np.column_stack([g0.ravel(), g1.ravel()])
        classes = self.task == "classification"
        means, spreads = [], []
        for r in self.results.values():
            pred = r.fit.predict(grid)
            mean = _mean(pred)
            n_classes = mean.shape[-1] if classes else 0
            if classes:
                mean = mean[:, 1] if n_classes == 2 else mean.max(axis=-1)
            means.append(mean.reshape(g0.shape))
            spreads.append(_spread(pred).reshape(g0.shape))
        binary = n_classes == 2
        if classes:
            mean_label = "P(class 1)" if binary else "probability of the predicted class"
            mean_levels = np.linspace(0 if binary else 1 / n_classes, 1, 21)
        else:
            mean_label = "predictive mean"
            mean_levels = MaxNLocator(20).tick_values(min(m.min() for m in means), max(m.max() for m in means))
        spread_levels = MaxNLocator(20).tick_values(0, max(max(s.max() for s in spreads), 1e-12))
        rows = [  # values, levels, colour map, panel name, colour-bar label
            (means, mean_levels, "RdBu_r" if binary else "viridis", "mean", f"{mean_label} (one scale for all methods)"),
            (spreads, spread_levels, "magma_r", "spread", "predictive spread (one scale for all methods)"),
        ]
        fig = _figure(4.2 * len(self.results) + 1.2, 7.5)
        axes = fig.subplots(2, len(self.results), sharex=True, sharey=True, squeeze=False)
        for i, (values, levels, cmap, what, label) in enumerate(rows):
            for k, method in enumerate(self.results):
                ax = axes[i, k]
                c = ax.contourf(g0, g1, values[k], levels=levels, cmap=cmap, extend="neither")
                _scatter_data(ax, X, y if classes or i == 0 else None, classes=classes, cmap=c.cmap, norm=c.norm)
                ax.set_title(f"{method}: {what}")
            fig.colorbar(c, ax=axes[i, :], label=label, shrink=0.9)
        for ax in axes[1, :]:
            ax.set_xlabel("x1")
        for ax in axes[:, 0]:
            ax.set_ylabel("x2")
        if classes:
            axes[0, 0].legend(loc="upper left", fontsize="small")
        fig.suptitle(f"{self.spec.name} on {self.data.name}: test points over the predictive mean and spread")
        return _save(fig, path)

    def plot_elbo(self, *, path: str | Path | None = None) -> Figure:
        """ELBO histories (running means over 1% of the steps) of the variational methods.

        Left: every method's whole curve (a symmetric log axis when the starts lie far below the ends);
        right: the second half of each run, on limits drawn from all of them.
        """
        curves = {m: _running_mean(e) for m, e in ((m, _elbo(r.fit)) for m, r in self.results.items()) if e is not None}
        if not curves:
            raise ValueError("plot_elbo: no compared method has an ELBO history (optimizer_stats.elbo)")
        fig = _figure(11, 4)
        whole, late = fig.subplots(1, 2)
        for k, (method, (steps, smooth, span)) in enumerate(curves.items()):
            whole.plot(steps, smooth, color=f"C{k}", label=f"{method} (running mean over {span} steps)")
            half = steps > steps[-1] / 2
            late.plot(steps[half], smooth[half], color=f"C{k}", label=method)
        _show_whole(whole, [smooth for _, smooth, _ in curves.values()])
        _show_whole(late, [smooth[steps > steps[-1] / 2] for steps, smooth, _ in curves.values()])
        whole.set(xlabel="step", ylabel="ELBO", title="whole run")
        late.set(xlabel="step", title="second half of each run")
        whole.legend(loc="lower right", fontsize="small")
        fig.suptitle(f"{self.spec.name} on {self.data.name}: ELBO")
        return _save(fig, path)

    def plot_reliability(self, *, path: str | Path | None = None) -> Figure:
        """Reliability diagram: accuracy vs confidence per bin, one line per method, and each bin's count.

        The bins are those of the ECE; the confidence axis starts at ``1 / n_classes`` (0.5 for binary data).
        """
        if self.task != "classification":
            raise ValueError("plot_reliability: needs a classifier; this comparison is of a regression model")
        tables = [r.scores for r in self.results.values()]
        first = next(iter(self.results.values()))
        n_bins = tables[0].sizes["bin"]
        floor = _confidence_floor(first.pred, n_bins)
        fig = _figure(5.5, 6.5)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.2))
        top.plot([floor, 1], [floor, 1], color="0.6", ls="--", label="perfect calibration")
        colors = [f"C{k}" for k in range(len(tables))]
        for r, s, color in zip(self.results.values(), tables, colors):
            top.plot(s["bin_confidence"].values, s["bin_accuracy"].values, marker="o", color=color,
                     label=f"{r.method} (ECE {float(s['ece']):.3f})")
        top.set(ylabel="accuracy", xlim=(floor, 1), ylim=(_accuracy_floor(floor, tables), 1.0),
                title=f"{self.spec.name} on {self.data.name}: calibration")
        top.legend(loc="upper left")
        centers = 0.5 * (tables[0]["bin_lower"].values + tables[0]["bin_upper"].values)
        _bin_counts(bottom, centers, [s["bin_count"].values for s in tables], 0.9 / n_bins, colors)
        bottom.set(xlabel="confidence (predicted class probability)", ylabel="points per bin")
        return _save(fig, path)

    def __repr__(self) -> str:
        keys = ["method", "accuracy" if self.task == "classification" else "rmse", "lpd", "fit_s", "converged"]
        if self.reference:
            keys.append("mean_abs_diff_vs_ref")
        rows = [[k for k in keys]] + [[_fmt(row.get(k)) for k in keys] for row in self.table]
        widths = [max(len(r[i]) for r in rows) for i in range(len(keys))]
        body = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
        return f"Comparison of {self.spec.name!r} on {self.data.name!r}\n{body}"

    def _repr_html_(self) -> str:
        rows = self.table
        head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row.values()) + "</tr>" for row in rows)
        return (f"<p><b>Comparison of {html.escape(self.spec.name)} on {html.escape(self.data.name)}</b></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def compare(
    spec: BNN,
    data: D.Dataset | str,
    methods: Sequence[str] = ("advi", "nuts"),
    *,
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    X_ood: Any = None,
    progressbar: bool = True,
    out: str | Path | None = None,
) -> Comparison:
    """Fit ``spec`` with every method of ``methods`` on ``data`` and compare them (see the module doc).

    ``data``: a :class:`pbnn.datasets.Dataset` or a name/path for :func:`pbnn.datasets.load`.
    ``options[method]``: keyword options for that method's :func:`pbnn.fit`. ``X_ood``: inputs from
    outside the training distribution, for the OOD AUROC (epistemic score). ``out``: also
    :meth:`Comparison.save` there.
    """
    if not isinstance(spec, BNN):
        raise TypeError(f"spec: expected a pbnn.BNN, got {type(spec).__name__}")
    data = D.load(data, seed=seed) if isinstance(data, str | Path) else data
    if not isinstance(data, D.Dataset):
        raise TypeError(f"data: expected a pbnn.datasets.Dataset or a data set name/path, got {type(data).__name__}")
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise ValueError(f"methods: unknown method(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"expected some of {', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods: each method once, got {methods}")
    options = dict(options or {})
    extra = set(options) - set(methods)
    if extra:
        raise ValueError(f"options: given for method(s) not compared: {', '.join(sorted(extra))}")
    results = {}
    for method in methods:
        t0 = time.perf_counter()
        fitted = fit_method(spec, data.X_train, data.y_train, method, seed=seed, progressbar=progressbar,
                            **options.get(method, {}))
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = fitted.predict(data.X_test)
        predict_seconds = time.perf_counter() - t0
        auroc = None
        if X_ood is not None:
            auroc = ood_auroc(pred, fitted.predict(X_ood))
        results[method] = MethodResult(
            method, fitted, pred, fit_seconds, predict_seconds, scores(pred, data.y_test), diagnose(fitted),
            auroc, _spread(pred),
        )
    with_loo = {m: r.fit.idata for m, r in results.items() if "log_likelihood" in r.fit.idata.children}
    for method in with_loo:
        results[method].loo = azs.loo(with_loo[method], pointwise=True)
    loo_table = azs.compare(with_loo) if len(with_loo) > 1 else None
    comparison = Comparison(spec, data, results, seed, loo_table)
    if out is not None:
        comparison.save(out)
    return comparison


#: Pareto k above which a point's PSIS-LOO estimate is unreliable (Vehtari et al. 2024).
K_BAD = 0.7


def _loo_columns(r: MethodResult, loo_table: Any) -> dict[str, Any]:
    """PSIS-LOO numbers of one method (None where they do not apply) and its variational k-hat."""
    khat = next((c.value for c in r.diagnosis.checks if c.name == "Pareto k-hat of p/q"), None)
    if r.loo is None:
        return {"elpd_loo": None, "elpd_loo_se": None, "p_loo": None, "k_bad_frac": None, "loo_rank": None,
                "vi_khat": khat}
    rank = int(loo_table.loc[r.method, "rank"]) if loo_table is not None else 0
    return {"elpd_loo": float(r.loo.elpd), "elpd_loo_se": float(r.loo.se), "p_loo": float(r.loo.p),
            "k_bad_frac": float(np.mean(r.loo.pareto_k.values > K_BAD)), "loo_rank": rank, "vi_khat": khat}


def _mean(pred: Predictions) -> np.ndarray:
    """Predictive mean per test point: class probabilities (obs, class) or the regression mean."""
    return pred.draws().mean(axis=0)


def _spread(pred: Predictions) -> np.ndarray:
    """Predictive spread per point: the largest std over draws of a class probability or the total std."""
    u = uncertainty(pred)
    if pred.task == "classification":
        return u["std"].max("class").values
    return u["total_std"].values


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _markdown(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)
