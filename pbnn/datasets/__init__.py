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

Modules: :mod:`~pbnn.datasets.base` (the :class:`Dataset` type, :func:`standardize`),
:mod:`~pbnn.datasets.synthetic` (moons, circles, sine, friedman1), :mod:`~pbnn.datasets.bundled`
(scikit-learn's tables), :mod:`~pbnn.datasets.images` (digits, MNIST, Fashion-MNIST; IDX files in
:mod:`~pbnn.datasets.idx`), :mod:`~pbnn.datasets.uci` and :mod:`~pbnn.datasets.files` (user arrays and files).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbnn.datasets.base import Dataset, Standardization, standardize
from pbnn.datasets.bundled import breast_cancer, diabetes, iris, wine
from pbnn.datasets.files import FILE_SUFFIXES, MAX_INFERRED_CLASSES, from_arrays, infer_task, load_file
from pbnn.datasets.idx import read_idx, write_idx
from pbnn.datasets.images import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_ROOT,
    digits,
    digits_ood,
    fashion_mnist,
    mnist,
    mnist_sample,
)
from pbnn.datasets.synthetic import circles, friedman1, moons, sine
from pbnn.datasets.uci import UCI_NAMES, uci, uci_n_splits, uci_root

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "MAX_INFERRED_CLASSES",
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
    "load_file",
    "mnist",
    "mnist_sample",
    "moons",
    "read_idx",
    "sine",
    "standardize",
    "uci",
    "uci_n_splits",
    "uci_root",
    "wine",
    "write_idx",
]


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
            text.lower().endswith(FILE_SUFFIXES) or "/" in text or os.sep in text
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

    if kwargs:
        raise TypeError(f"unexpected arguments for a file: {', '.join(kwargs)}")
    return load_file(text, target=target, task=task, test_size=0.2 if test_size is None else test_size,
                     seed=seed, delimiter=delimiter, header=header)


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
