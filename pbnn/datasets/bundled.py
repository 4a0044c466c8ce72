"""scikit-learn's bundled tables: diabetes (regression), breast cancer, wine and iris (classification)."""

from __future__ import annotations

from typing import Any

from sklearn import datasets as _skd

from pbnn.datasets.base import Dataset, build_dataset, checked_arguments, split_rows


@checked_arguments
def diabetes(test_size: float | int = 0.2, seed: int = 0, scaled: bool = True) -> Dataset:
    """scikit-learn's diabetes regression set (442 patients, 10 features).

    ``scaled=True`` keeps scikit-learn's default feature scaling (centred,
    unit Euclidean norm per column); the target (disease progression after
    one year) is in its original units.

    >>> diabetes().feature_names[:3]
    ('age', 'sex', 'bmi')
    """
    b = _skd.load_diabetes(scaled=scaled)
    X_tr, X_te, y_tr, y_te = split_rows(b.data, b.target, test_size, seed, stratify=False)
    return build_dataset(
        "diabetes", X_tr, X_te, y_tr, y_te, "regression",
        feature_names=tuple(b.feature_names), target_name="progression",
        description="sklearn load_diabetes: disease progression one year after baseline",
    )


def _bundled_classification(name: str, bunch: Any, test_size: float | int, seed: int) -> Dataset:
    X_tr, X_te, y_tr, y_te = split_rows(bunch.data, bunch.target, test_size, seed, stratify=True)
    return build_dataset(
        name, X_tr, X_te, y_tr, y_te, "classification",
        feature_names=tuple(str(f) for f in bunch.feature_names), target_name="class",
        classes=tuple(str(c) for c in bunch.target_names),
        description=f"scikit-learn bundled {name} data (raw feature units)",
    )


@checked_arguments
def breast_cancer(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """Wisconsin breast cancer (569 x 30, binary: malignant/benign), stratified split.

    Features are in their raw units (standardize before fitting, see
    :func:`standardize`).

    >>> breast_cancer().classes
    ('malignant', 'benign')
    """
    return _bundled_classification("breast_cancer", _skd.load_breast_cancer(), test_size, seed)


@checked_arguments
def wine(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's wine recognition set (178 x 13, 3 cultivars), stratified split.

    Not the UCI red-wine-quality regression benchmark: that one is
    ``uci("wine")``.

    >>> wine().n_classes
    3
    """
    return _bundled_classification("wine", _skd.load_wine(), test_size, seed)


@checked_arguments
def iris(test_size: float | int = 0.2, seed: int = 0) -> Dataset:
    """Fisher's iris (150 x 4, 3 species), stratified split.

    >>> iris().classes
    ('setosa', 'versicolor', 'virginica')
    """
    return _bundled_classification("iris", _skd.load_iris(), test_size, seed)
