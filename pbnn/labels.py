"""Class labels as users have them: strings, booleans, pandas categoricals, or integer codes.

A classification likelihood observes codes ``0..K-1``. :func:`encode_labels` turns labels into codes and
:class:`ClassLabels` (the name of each code): strings in sorted order, booleans ``(False, True)``, a
categorical in the order of its categories, or the order given by ``classes=``. :func:`pbnn.fit` stores
the names in the fit's attributes (``pbnn_classes``, a JSON list), so that predictions carry them as
their ``class`` coordinate, ``pred.classes()`` returns names and ``pred.accuracy(y)`` takes them.
Numbers without ``classes=`` are codes already: they pass unchanged and their names are ``0..K-1``.

>>> import numpy as np
>>> codes, labels = encode_labels(np.array(["yes", "no", "yes"]), n_classes=2)
>>> codes.tolist(), labels.names
([1, 0, 1], ('no', 'yes'))
>>> labels.decode(np.array([0, 1])).tolist(), labels.encode(["yes"]).tolist()
(['no', 'yes'], [1])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pbnn.errors import DataError

ATTR = "pbnn_classes"


@dataclass(frozen=True)
class ClassLabels:
    """``names[k]`` is the label of code ``k``."""

    names: tuple

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any] | None, n_classes: int) -> ClassLabels:
        """The names stored with a fit; ``0..n_classes-1`` when there are none."""
        text = (attrs or {}).get(ATTR)
        return cls(tuple(json.loads(text)) if text is not None else tuple(range(n_classes)))

    def to_attrs(self) -> dict[str, str]:
        return {ATTR: json.dumps(list(self.names))}

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> names (an array of the names' type)."""
        return np.asarray(self.names)[np.asarray(codes)]

    def encode(self, y: Any, name: str = "y") -> np.ndarray:
        """Names -> codes. Integer codes are accepted as well when the names are not numbers."""
        arr = _as_1d(y, name)
        lookup = {label: k for k, label in enumerate(self.names)}
        values = arr.tolist()
        missing = [v for v in values if v not in lookup]
        if not missing:
            return np.array([lookup[v] for v in values], dtype=np.int64)
        numeric_names = any(isinstance(n, int | float) and not isinstance(n, bool) for n in self.names)
        if arr.dtype.kind in "iu" and not numeric_names and arr.min() >= 0 and arr.max() < len(self.names):
            return arr.astype(np.int64)
        shown = ", ".join(repr(v) for v in dict.fromkeys(missing[:5]))
        raise DataError(f"{name}: labels {shown} are not classes of this model; its classes are "
                        f"{', '.join(map(repr, self.names))}")


def encode_labels(
    y: Any, classes: Sequence[Any] | None = None, *, n_classes: int
) -> tuple[Any, ClassLabels | None]:
    """Labels of any type -> ``(codes, ClassLabels)`` for a classifier with ``n_classes`` classes.

    Numeric ``y`` without ``classes`` is returned unchanged with ``None`` (codes already; the likelihood
    checks their range). ``classes`` fixes the names and their order (``classes=["no", "yes"]``: "yes" is
    class 1, bernoulli's ``p``). Raises :class:`~pbnn.errors.DataError` for missing labels (None, NaN),
    labels not in ``classes`` or a number of classes the network's output does not have.
    """
    if classes is not None:
        labels = ClassLabels(_names(classes))
        if len(set(labels.names)) != len(labels.names):
            raise ValueError(f"classes: expected distinct labels, got {list(classes)!r}")
        return labels.encode(_values(y), "y"), _checked(labels, n_classes)
    if _is_categorical(y):
        cat = y.cat if hasattr(y, "cat") else y
        codes = np.asarray(cat.codes, dtype=np.int64)
        if (codes < 0).any():
            raise DataError(f"y: expected a label in every row, got {int((codes < 0).sum())} missing (NaN) in the categorical")
        return codes, _checked(ClassLabels(_names(cat.categories)), n_classes)
    arr = _as_1d(y, "y")
    if arr.dtype.kind in "iufc":
        return y, None
    if arr.dtype == bool:
        return arr.astype(np.int64), _checked(ClassLabels((False, True)), n_classes)
    values = arr.tolist()
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
    if missing:
        raise DataError(f"y: expected a label in every row, got {len(missing)} missing (None/NaN), the first at index {missing[0]}")
    try:
        names, codes = np.unique(arr, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values})
        raise DataError(f"y: expected labels of one type, got a mix of {', '.join(kinds)}") from None
    return codes.reshape(-1).astype(np.int64), _checked(ClassLabels(_names(names)), n_classes)


def _checked(labels: ClassLabels, n_classes: int) -> ClassLabels:
    k = len(labels.names)
    if k != n_classes:
        shown = ", ".join(map(repr, labels.names[:12])) + (", ..." if k > 12 else "")
        if n_classes == 2:
            fix = f"use likelihood 'categorical' with a last Dense({k})" if k > 2 else "pass classes=[...] naming both"
        else:
            fix = f"give the last Dense layer {k} units" + (" and likelihood 'bernoulli' (1 unit)" if k == 2 else "")
        raise DataError(f"y: {k} class(es) ({shown}) for a network with {n_classes} output classes; {fix}")
    return labels


def _names(values: Any) -> tuple:
    """Python scalars that JSON keeps (str, bool, int, float); anything else as its str."""
    out = []
    for v in list(values):
        v = v.item() if isinstance(v, np.generic) else v
        out.append(v if isinstance(v, str | bool | int | float) else str(v))
    return tuple(out)


def _values(y: Any) -> Any:
    """A categorical's values (not its codes); anything else unchanged."""
    if _is_categorical(y):
        return np.asarray(y, dtype=object)
    return y


def _is_categorical(y: Any) -> bool:
    return str(getattr(y, "dtype", "")) == "category"


def _as_1d(y: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(y)
    except Exception as err:
        raise DataError(f"{name}: could not be read as an array ({err})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array of labels (n_samples,), got shape {arr.shape}")
    return arr
