"""Every zoo model with its own defaults, ``pbnn.fit(spec, X, y, seed=s)``, on its data set against its bar.

The settings come from each model's ``[fit]`` table (or pbnn.fit's defaults); nothing here is tuned. The
conv models run 5 seeds on 2 splits of digits, the others 5 seeds on one split. ``tests/test_zoo.py`` runs
seed 0 of each against the same bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import pbnn
from benchmarks.common import table

TITLE = "The zoo with its defaults: each model on its data set, pbnn.fit(spec, X, y, seed=s)"


@dataclass(frozen=True)
class Bar:
    """A zoo model's data set (``load(split)``), its score and the bar it must meet."""

    data: str
    load: Callable[[int], pbnn.datasets.Dataset]
    score: str  # "accuracy" (>= bar) or "rmse" (<= bar)
    bar: float
    splits: tuple[int, ...] = (0,)

    def measure(self, fit: pbnn.Fit, ds: pbnn.datasets.Dataset) -> float:
        X, y = ds.X_test, ds.y_test
        if self.data.startswith("sine"):  # the test grid reaches beyond the training interval [-0.5, 0.5]
            inside = np.abs(X[:, 0]) <= 0.5
            X, y = X[inside], y[inside]
        pred = fit.predict(X)
        if self.score == "accuracy":
            return pred.accuracy(y)
        return float(np.sqrt(np.mean((pred.draws("mu").mean(axis=0) - y) ** 2)))

    def met(self, value: float) -> bool:
        return value >= self.bar if self.score == "accuracy" else value <= self.bar


def _digits(split: int):
    return pbnn.datasets.digits(seed=split)


#: Each zoo model's data set and bar: moons and digits accuracies; the sine's RMSE inside the training interval
#: (noise sd 1.0); diabetes' RMSE in its units (raw features; the target sd is 77, scikit-learn's GP 50).
BARS: dict[str, Bar] = {
    "two_layer_tanh": Bar("moons", lambda split: pbnn.datasets.moons(seed=split), "accuracy", 0.95),
    "hierarchical": Bar("moons", lambda split: pbnn.datasets.moons(seed=split), "accuracy", 0.95),
    "sine": Bar("sine (128 points)", lambda split: pbnn.datasets.sine(n_samples=128, seed=split), "rmse", 1.5),
    "regression": Bar("diabetes (raw features)", lambda split: pbnn.datasets.diabetes(seed=split, scaled=False),
                      "rmse", 62.0),
    "conv": Bar("digits", _digits, "accuracy", 0.97, splits=(0, 1)),
    "conv_hierarchical": Bar("digits", _digits, "accuracy", 0.97, splits=(0, 1)),
}


def fit_with_defaults(name: str, split: int, seed: int) -> dict:
    """One fit of zoo model ``name`` with its defaults; its score and time."""
    bar, spec = BARS[name], pbnn.zoo.get(name)
    ds = bar.load(split)
    t0 = time.perf_counter()
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, seed=seed, progressbar=False)
    seconds = time.perf_counter() - t0
    value = bar.measure(fit, ds)
    return {"model": name, "data": bar.data, "split": split, "seed": seed, bar.score: value,
            "bar": f"{'>=' if bar.score == 'accuracy' else '<='} {bar.bar:g}", "met": "yes" if bar.met(value) else "NO",
            "fit s": seconds}


def run(quick: bool = False) -> str:
    seeds = (0,) if quick else (0, 1, 2, 3, 4)
    rows = [fit_with_defaults(name, split, seed) for name in BARS for split in BARS[name].splits for seed in seeds]
    for r in rows:  # one score column per kind, blank where it does not apply
        r.setdefault("accuracy", float("nan"))
        r.setdefault("rmse", float("nan"))
    missed = [f"{r['model']} split {r['split']} seed {r['seed']}" for r in rows if r["met"] != "yes"]
    return "\n\n".join([
        "`pbnn.fit(pbnn.zoo.get(name), ds.X_train, ds.y_train, seed=seed)` with nothing else: the method and options "
        "of the model's `[fit]` table, pbnn.fit's defaults for the rest (features standardized). Splits: the data "
        "set loader's `seed`. Scores on the test set (sine: the test points inside the training interval).",
        table([{k: r[k] for k in ("model", "data", "split", "seed", "accuracy", "rmse", "bar", "met", "fit s")}
               for r in rows]),
        "Every fit met its bar." if not missed else "Missed the bar: " + ", ".join(missed) + ".",
    ])
