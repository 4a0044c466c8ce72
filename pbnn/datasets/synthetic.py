"""Generated problems: two moons, two circles, the 1-D noisy sine of Blundell et al. (2015), Friedman #1."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as _skd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import scale as _scale

from pbnn.datasets.base import Dataset, build_dataset, checked_arguments, split_rows


@checked_arguments
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
    return build_dataset(
        "moons", X_tr, X_te, y_tr, y_te, "classification",
        feature_names=("x0", "x1"), classes=(0, 1),
        description=f"sklearn make_moons(noise={noise}), standardized",
    )


@checked_arguments
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
    return build_dataset(
        "circles", X_tr, X_te, y_tr, y_te, "classification",
        feature_names=("x0", "x1"), classes=(0, 1),
        description=f"sklearn make_circles(noise={noise}, factor={factor}), standardized",
    )


@checked_arguments
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
    return build_dataset(
        "sine", x_tr[:, None], x_te[:, None], y_tr, y_te, "regression",
        feature_names=("x",), target_name="y",
        description=f"y = 10 sin(2 pi x) + {noise} N(0,1); train x ~ U(-0.5, 0.5), "
        f"test grid on [-1.5, 1.5]",
    )


@checked_arguments
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
    X_tr, X_te, y_tr, y_te = split_rows(X, y, test_size, seed, stratify=False)
    return build_dataset(
        "friedman1", X_tr, X_te, y_tr, y_te, "regression",
        feature_names=tuple(f"x{i}" for i in range(10)), target_name="y",
        description="sklearn make_friedman1: 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise",
    )
