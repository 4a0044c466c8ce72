"""Layers of a BNN spec: frozen, validated dataclasses with shape inference and no PyMC in them.

The numerical meaning of each layer lives in :mod:`pbnn.compile`; here a layer is data: its
hyperparameters, the shape it produces from a given input shape and how many parameters it holds.

>>> from pbnn import layers as L
>>> L.Dense(5, activation="tanh").output_shape((2,))
(5,)
>>> L.Flatten().output_shape((1, 8, 8))
(64,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from pbnn.errors import SpecError

#: Activation names a layer accepts; :mod:`pbnn.compile` maps each to its PyTensor function.
ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "tanh",
    "relu",
    "sigmoid",
    "softplus",
    "elu",
    "leaky_relu",
    "silu",
    "gelu",
)

Shape = tuple[int, ...]


def _check_activation(layer: str, activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise SpecError(
            f"{layer}.activation: unknown activation {activation!r}; expected one of "
            f"{', '.join(ACTIVATIONS)}"
        )


def _check_positive_int(layer: str, field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(f"{layer}.{field}: expected a positive integer, got {value!r}")


@dataclass(frozen=True)
class Layer:
    """Base class: a layer maps an input shape (without the observation axis) to an output shape."""

    kind: ClassVar[str] = ""

    def output_shape(self, input_shape: Shape) -> Shape:  # pragma: no cover - abstract
        raise NotImplementedError

    def n_params(self, input_shape: Shape) -> int:
        """Number of scalar weights and biases the layer holds for this input shape."""
        return 0

    @property
    def has_params(self) -> bool:
        return False

    def describe(self) -> str:
        """A short human-readable description, e.g. ``Dense(5, tanh)``."""
        return type(self).__name__


@dataclass(frozen=True)
class Dense(Layer):
    """A fully connected layer: ``activation(x @ w + b)``.

    Input ``(features,)``, output ``(units,)``. Weights ``w`` have shape ``(features, units)`` and the
    optional bias ``b`` shape ``(units,)``; both take the spec's prior.

    >>> Dense(5, activation="tanh").n_params((2,))
    15
    """

    units: int
    activation: str = "identity"
    bias: bool = True
    kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        _check_positive_int("Dense", "units", self.units)
        _check_activation("Dense", self.activation)
        if not isinstance(self.bias, bool):
            raise SpecError(f"Dense.bias: expected true or false, got {self.bias!r}")

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise SpecError(
                f"Dense({self.units}) expects a flat input (features,), got shape {input_shape}; "
                "put a Flatten() layer before it"
            )
        return (self.units,)

    def n_params(self, input_shape: Shape) -> int:
        return input_shape[0] * self.units + (self.units if self.bias else 0)

    @property
    def has_params(self) -> bool:
        return True

    def describe(self) -> str:
        bias = "" if self.bias else ", no bias"
        return f"Dense({self.units}, {self.activation}{bias})"


@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens everything but the observation axis: ``(C, H, W) -> (C*H*W,)``.

    >>> Flatten().output_shape((1, 8, 8))
    (64,)
    """

    kind: ClassVar[str] = "flatten"

    def output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)


#: Layer classes by their ``kind`` (the name used in TOML files).
LAYERS: dict[str, type[Layer]] = {cls.kind: cls for cls in (Dense, Flatten)}
