"""User data: in-memory arrays and .csv/.tsv/.txt/.dat, .npy and .npz files (header, delimiter and task detected)."""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from pbnn.datasets.base import TASKS, Dataset, PathLike, build_dataset, split_rows


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
    a benchmark protocol's fixed split. A 1-D ``X`` becomes one column.

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
    if task not in TASKS:
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
        X_tr, X_te, y_tr, y_te = split_rows(X, y, test_size, seed, stratify)
    return build_dataset(
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


def load_csv(
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


def load_array_file(path: Path, target: int | str | None):
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


FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".npy", ".npz")


def load_file(
    path: PathLike,
    *,
    target: int | str | None = None,
    task: str | None = None,
    test_size: float | int = 0.2,
    seed: int = 0,
    delimiter: str | None = None,
    header: bool | None = None,
) -> Dataset:
    """A :class:`Dataset` from a ``.csv``/``.tsv``/``.txt``/``.dat``, ``.npy`` or ``.npz`` file.

    The file part of :func:`pbnn.datasets.load`, which documents the arguments.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.csv")
    >>> _ = open(p, "w").write("a,b,label\\n" + "".join(f"{i},{i % 3},{i % 2}\\n" for i in range(20)))
    >>> load_file(p, target="label").task
    'classification'
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    suffix = path.suffix.lower()
    desc = f"loaded from {path}"
    if suffix in (".npy", ".npz"):
        kind, arrays = load_array_file(path, target)
        if kind == "split":
            X_tr, X_te, y_tr, y_te = (np.asarray(a) for a in arrays)
            n_tr = len(X_tr)
            X = np.concatenate([X_tr, X_te])
            y = np.concatenate([y_tr, y_te])
            split = (np.arange(n_tr), np.arange(n_tr, len(X)))
            return from_arrays(X, y, task=task, split=split, name=path.stem, description=desc)
        X, y = arrays
        return from_arrays(X, y, task=task, test_size=test_size, seed=seed, name=path.stem, description=desc)
    if suffix not in FILE_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(FILE_SUFFIXES)}")
    if suffix == ".tsv" and delimiter is None:
        delimiter = "\t"
    X, y, feat, tname = load_csv(path, target, task, delimiter, header)
    return from_arrays(
        X, y, task=task, test_size=test_size, seed=seed, name=path.stem,
        feature_names=feat, target_name=tname, description=desc,
    )

