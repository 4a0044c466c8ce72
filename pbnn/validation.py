"""Checks at the public boundary: data and options, with errors that name the argument and the form.

>>> import numpy as np, pbnn
>>> from pbnn.validation import check_X
>>> check_X(np.ones(3))
Traceback (most recent call last):
...
pbnn.errors.DataError: X: expected a 2-D array (n_samples, n_features) or images (n_samples, channels, height, width), got a 1-D array of shape (3,); use X.reshape(-1, 1) for a single feature
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pbnn.errors import DataError, SpecError

if TYPE_CHECKING:
    from pbnn.spec import BNN


def check_X(X: Any, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite float64 array of 2 or more dimensions, or raise :class:`DataError`.

    A 3-D array is read as single-channel images ``(N, H, W)`` and gets a channel axis:
    ``(N, 1, H, W)`` (a dense network flattens it to the same ``H*W`` features either way).

    >>> check_X(np.zeros((5, 8, 8))).shape
    (5, 1, 8, 8)
    """
    X = as_numeric(X, name)
    if X.ndim < 2:
        raise DataError(
            f"{name}: expected a 2-D array (n_samples, n_features) or images (n_samples, channels, "
            f"height, width), got a {X.ndim}-D array of shape {X.shape}; use {name}.reshape(-1, 1) "
            "for a single feature"
        )
    if X.shape[0] == 0:
        raise DataError(f"{name}: expected at least one sample, got an empty array of shape {X.shape}")
    _check_finite(X, name)
    check_scale(X, name)
    if X.ndim == 3:
        X = X[:, None]
    return X.astype(np.float64, copy=False)


def check_data(
    spec: BNN, X: Any, y: Any, *, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data for ``spec``: shapes, finiteness, targets that fit the likelihood."""
    X = check_X(X)
    y = as_numeric(y, "y", hint=LABEL_HINT if spec.task == "classification" else "")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y: expected a 1-D array (n_samples,), got shape {y.shape}")
    if len(y) != len(X):
        raise DataError(f"X and y: expected the same number of samples, got {len(X)} rows in X and {len(y)} in y")
    _check_finite(y, "y")
    if spec.task == "regression":
        check_scale(y, "y")
    check_input_shape(spec, X.shape[1:])
    y = spec.likelihood_.check_targets(y, spec.output_units)
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
        if batch_size > len(X):
            raise DataError(f"batch_size: expected at most the number of samples ({len(X)}), got {batch_size}")
    return X, y


def check_input_shape(spec: BNN, input_shape: tuple[int, ...]) -> None:
    """Check that inputs of ``input_shape`` (without the sample axis) flow through ``spec``."""
    try:
        spec.output_shapes(input_shape)
    except SpecError as err:
        raise DataError(f"X: inputs of shape {tuple(input_shape)} do not fit the spec: {err}") from None


#: Seeds pbnn takes: what numpy's legacy ``RandomState`` (PyMC's samplers seed through it) and JAX's 32-bit keys take.
SEED_LIMIT = 2**32


def check_seed(seed: Any) -> int | None:
    """Return ``seed`` as an int, or None; raise ``ValueError`` unless it is an integer in ``[0, 2**32)``."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed: expected a non-negative integer or None, got {seed!r}; seeds lie in 0..2**32 - 1")
    return int(seed)


def check_scale(a: np.ndarray, name: str) -> None:
    """Raise :class:`DataError` when the mean or sd of a column of finite ``a`` overflows float64 (values
    beyond about 1e154): the fit and the predictions would be inf or NaN."""
    if a.size == 0 or max(float(np.max(a)), -float(np.min(a))) < 1e100:  # no copy of a for the usual data
        return
    flat = a.reshape(len(a), -1) if a.ndim > 1 else a[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.isfinite(flat.mean(axis=0)) & np.isfinite(flat.std(axis=0))
    if not ok.all():
        column = int(np.argmin(ok))
        where = f" of feature {column}" if a.ndim > 1 else ""
        raise DataError(
            f"{name}: values too large for float64 arithmetic: the mean or sd{where} overflows (max |{name}| = "
            f"{float(np.max(np.abs(flat[:, column]))):.3g}); rescale {name} (e.g. sklearn.preprocessing.StandardScaler)"
        )


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is a positive integer, else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


#: How to turn class labels of any type into the 0..K-1 codes a classification likelihood takes.
LABEL_HINT = (
    "; for class labels map them to 0..K-1 (sklearn.preprocessing.LabelEncoder) or use "
    "pbnn.sklearn.BNNClassifier, which takes labels of any type"
)


def as_numeric(a: Any, name: str, hint: str = "") -> np.ndarray:
    """``a`` as a numeric array (booleans as 0/1), or a :class:`DataError` naming ``name``; ``hint`` ends the message."""
    if isinstance(a, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(a))
        if masked:
            raise DataError(f"{name}: a masked array with {masked} masked value(s); pbnn does not impute: drop those "
                            f"samples or fill them ({name}.filled(value))")
        a = a.data
    try:
        arr = np.asarray(a)
    except Exception as err:  # ragged lists and the like
        raise DataError(f"{name}: could not be read as an array ({err})") from None
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"{name}: expected numbers, got an array of dtype {arr.dtype}; convert strings or objects to numbers first{hint}")
    return arr


def _check_finite(a: np.ndarray, name: str) -> None:
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        bad = ~np.isfinite(a)
        first = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(a[tuple(first)]) else "inf"
        raise DataError(
            f"{name}: expected finite values, found {int(bad.sum())} NaN/inf (first: {kind} at index "
            f"{tuple(int(i) for i in first) if len(first) > 1 else int(first[0])})"
        )
