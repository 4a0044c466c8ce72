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
    X = _as_numeric(X, name)
    if X.ndim < 2:
        raise DataError(
            f"{name}: expected a 2-D array (n_samples, n_features) or images (n_samples, channels, "
            f"height, width), got a {X.ndim}-D array of shape {X.shape}; use {name}.reshape(-1, 1) "
            "for a single feature"
        )
    if X.shape[0] == 0:
        raise DataError(f"{name}: expected at least one sample, got an empty array of shape {X.shape}")
    _check_finite(X, name)
    if X.ndim == 3:
        X = X[:, None]
    return X.astype(np.float64, copy=False)


def check_data(
    spec: BNN, X: Any, y: Any, *, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data for ``spec``: shapes, finiteness, targets that fit the likelihood."""
    X = check_X(X)
    y = _as_numeric(y, "y", hint=LABEL_HINT if spec.task == "classification" else "")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y: expected a 1-D array (n_samples,), got shape {y.shape}")
    if len(y) != len(X):
        raise DataError(f"X and y: expected the same number of samples, got {len(X)} rows in X and {len(y)} in y")
    _check_finite(y, "y")
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


def _as_numeric(a: Any, name: str, hint: str = "") -> np.ndarray:
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
