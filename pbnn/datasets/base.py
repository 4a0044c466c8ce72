"""The :class:`Dataset` every loader returns, and feature/target standardization with training statistics."""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import train_test_split

PathLike = str | os.PathLike[str]
TASKS = ("classification", "regression")


def checked_arguments[F: Callable[..., Any]](loader: F) -> F:
    """Check a loader's number and flag arguments against its annotations before any work: ``int`` takes
    integers, ``float`` finite numbers, ``bool`` True or False (``| None`` also None); a bool is not a number
    and a string is neither, so ``moons(n_samples=True)`` or ``moons(noise="0.1")`` name the argument.

    >>> @checked_arguments
    ... def load(n: int = 3, noise: float = 0.1): ...
    >>> load(n=True)
    Traceback (most recent call last):
    TypeError: load(): n: expected an integer, got True
    """
    signature = inspect.signature(loader)
    kinds = {name: {t.strip() for t in str(p.annotation).split("|")} for name, p in signature.parameters.items()}

    @functools.wraps(loader)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            expected = _expected_form(kinds[name], value)
            if expected is not None:
                raise TypeError(f"{loader.__name__}(): {name}: expected {expected}, got {value!r}")
        return loader(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _expected_form(kinds: set[str], value: Any) -> str | None:
    """What ``value`` should have been, or None when it fits one of the annotated ``kinds``."""
    if value is None and "None" in kinds:
        return None
    is_bool = isinstance(value, bool | np.bool_)
    if "bool" in kinds and is_bool:
        return None
    if "int" in kinds and isinstance(value, numbers.Integral) and not is_bool:
        return None
    if "float" in kinds and isinstance(value, numbers.Real) and not is_bool and math.isfinite(value):
        return None
    if not kinds & {"int", "float", "bool"}:
        return None  # not a number or flag argument: the loader checks it
    forms = [f for k, f in (("int", "an integer"), ("float", "a finite number"), ("bool", "True or False"))
             if k in kinds]
    return " or ".join(forms) + (" or None" if "None" in kinds else "")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split with its metadata.

    Unpacks like :func:`sklearn.model_selection.train_test_split`:

    >>> from pbnn import datasets
    >>> X_train, X_test, y_train, y_test = datasets.moons()

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
        if self.task not in TASKS:
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


def build_dataset(
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



def split_rows(X: np.ndarray, y: np.ndarray, test_size: float | int, seed: int, stratify: bool):
    """``train_test_split`` seeded with ``seed``, stratified by ``y`` when ``stratify``."""
    return train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
    )


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

    >>> from pbnn import datasets
    >>> ds, stats = standardize(datasets.friedman1())
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
