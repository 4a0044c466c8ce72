"""Shared fixtures: the moons split of the core issue and a few small fits reused across tests."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PBNN_QUICK", "1")

import pbnn  # noqa: E402
from pbnn import datasets  # noqa: E402


@pytest.fixture(scope="session")
def moons():
    """make_moons(1000, noise=0.2, random_state=0), scaled, split half/half with random_state=0."""
    return datasets.moons()


@pytest.fixture(scope="session")
def small_moons():
    """A 200-point moons split for quick checks that do not need accuracy."""
    return datasets.moons(n_samples=200)


@pytest.fixture(scope="session")
def quick_fit(small_moons):
    """A short full-batch ADVI fit of the two-layer tanh model (seconds)."""
    X_tr, _, y_tr, _ = small_moons
    return pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=1500, draws=200, seed=3, progressbar=False)
