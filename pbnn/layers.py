"""Layers of a BNN spec: frozen, validated dataclasses with shape inference and no PyMC in them.

The numerical meaning of each layer lives in :mod:`pbnn.compile`; here a layer is data: its
hyperparameters, the shape it produces from a given input shape and how many parameters it holds.

>>> from pbnn import layers as L
>>> L.Dense(5, activation="tanh").output_shape((2,))
(5,)
>>> L.Flatten().output_shape((1, 8, 8))
(64,)
>>> L.Conv2D(8, 3, padding="same", activation="relu").output_shape((1, 8, 8))
(8, 8, 8)
>>> L.MaxPool2D(2).output_shape((8, 8, 8))
(8, 4, 4)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

from pbnn.errors import SpecError
from pbnn.priors import Prior

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


def _check_bias_and_prior(layer: str, bias: object, prior: object) -> None:
    """The fields every weighted layer has: ``bias`` (a bool) and its own ``prior`` (or None)."""
    if not isinstance(bias, bool):
        raise SpecError(f"{layer}.bias: expected true or false, got {bias!r}")
    if prior is not None and not isinstance(prior, Prior):
        raise SpecError(f"{layer}.prior: expected a pbnn.priors object or None, got {prior!r}")


def _prior_text(prior: Prior | None) -> str:
    """``describe()``'s suffix for a layer's own prior ("" when it takes the spec's)."""
    return "" if prior is None else f", prior {prior.describe()}"


def _positive_int(layer: str, field: str, value: object) -> int:
    """``value`` as a plain int if it is a positive integer (numpy integers too), else a SpecError."""
    if not _is_positive_int(value):
        raise SpecError(f"{layer}.{field}: expected a positive integer, got {value!r}")
    return int(value)  # type: ignore[call-overload]


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
    optional bias ``b`` shape ``(units,)``; both take ``prior`` when given (a :mod:`pbnn.priors` object),
    else the spec's prior. A multi-axis input (e.g. images
    ``(C, H, W)``) is flattened first, in C order as :class:`Flatten` does, so ``features = C*H*W``:
    a dense network also takes images, and ``Flatten()`` before a ``Dense`` is optional.

    >>> Dense(5, activation="tanh").n_params((2,))
    15
    >>> Dense(10).n_params((1, 8, 8))
    650
    """

    units: int
    activation: str = "identity"
    bias: bool = True
    prior: Prior | None = None
    kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", _positive_int("Dense", "units", self.units))
        _check_activation("Dense", self.activation)
        _check_bias_and_prior("Dense", self.bias, self.prior)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.units,)

    def n_params(self, input_shape: Shape) -> int:
        return math.prod(input_shape) * self.units + (self.units if self.bias else 0)

    @property
    def has_params(self) -> bool:
        return True

    def describe(self) -> str:
        bias = "" if self.bias else ", no bias"
        return f"Dense({self.units}, {self.activation}{bias}{_prior_text(self.prior)})"


@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens everything but the observation axis: ``(C, H, W) -> (C*H*W,)``.

    >>> Flatten().output_shape((1, 8, 8))
    (64,)
    """

    kind: ClassVar[str] = "flatten"

    def output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)


IntPair = int | tuple[int, int]

#: Padding modes of :class:`Conv2D`.
PADDINGS: tuple[str, ...] = ("valid", "same")


def _int_pair(layer: str, field: str, value: object) -> IntPair:
    """An int stays an int; a pair (list or tuple) of positive ints becomes a tuple (TOML reads lists)."""
    if isinstance(value, list | tuple) and len(value) == 2 and all(_is_positive_int(v) for v in value):
        return (int(value[0]), int(value[1]))
    if _is_positive_int(value):
        return int(value)  # type: ignore[call-overload]
    raise SpecError(f"{layer}.{field}: expected a positive integer or a pair [height, width] of them, got {value!r}")


def _is_positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _hw(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def _size_text(value: IntPair) -> str:
    """``3`` -> ``"3"``, ``(3, 5)`` -> ``"3x5"``: how kernel and pool sizes read in messages."""
    h, w = _hw(value)
    return str(h) if isinstance(value, int) else f"{h}x{w}"


def _check_image(layer: Layer, input_shape: Shape) -> None:
    if len(input_shape) != 3:
        raise SpecError(
            f"{type(layer).__name__} expects images (channels, height, width), got shape {tuple(input_shape)}; "
            "2-D layers go before Flatten/Dense"
        )


def _check_window_fits(field: str, window: IntPair, input_shape: Shape) -> None:
    (kh, kw), (_, h, w) = _hw(window), input_shape
    if kh > h or kw > w:
        raise SpecError(f"{field} {_size_text(window)} is larger than its input {h}x{w}")


@dataclass(frozen=True)
class Conv2D(Layer):
    """A 2-D convolution over images: ``activation(conv(x, w) + b)``.

    Input ``(channels, height, width)``, output ``(filters, height_out, width_out)``. Filters ``w`` have
    shape ``(filters, channels, kh, kw)`` and the optional bias ``b`` one value per filter; both take
    ``prior`` when given (a :mod:`pbnn.priors` object), else the spec's prior. ``kernel_size`` and ``stride`` are an int or a pair ``[h, w]``; ``padding="valid"``
    (no padding: ``(H - kh) // sh + 1``) or ``"same"`` (zero padding, output ``ceil(H / sh)``). Computed
    by :func:`pbnn.ops.conv.conv2d` (patches and one matrix product) on every PyTensor backend.

    >>> Conv2D(8, 3, activation="relu").output_shape((1, 8, 8))
    (8, 6, 6)
    >>> Conv2D(8, 3).n_params((1, 8, 8))
    80
    """

    filters: int
    kernel_size: IntPair
    stride: IntPair = 1
    padding: str = "valid"
    activation: str = "identity"
    bias: bool = True
    prior: Prior | None = None
    kind: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", _positive_int("Conv2D", "filters", self.filters))
        object.__setattr__(self, "kernel_size", _int_pair("Conv2D", "kernel_size", self.kernel_size))
        object.__setattr__(self, "stride", _int_pair("Conv2D", "stride", self.stride))
        if self.padding not in PADDINGS:
            raise SpecError(f"Conv2D.padding: expected one of {', '.join(map(repr, PADDINGS))}, got {self.padding!r}")
        _check_activation("Conv2D", self.activation)
        _check_bias_and_prior("Conv2D", self.bias, self.prior)

    def output_shape(self, input_shape: Shape) -> Shape:
        from pbnn.ops.conv import conv2d_output_shape

        _check_image(self, input_shape)
        if self.padding == "valid":
            _check_window_fits("kernel_size", self.kernel_size, input_shape)
        return (self.filters, *conv2d_output_shape(input_shape[1:], self.kernel_size, self.stride, self.padding))

    def n_params(self, input_shape: Shape) -> int:
        kh, kw = _hw(self.kernel_size)
        return self.filters * input_shape[0] * kh * kw + (self.filters if self.bias else 0)

    @property
    def has_params(self) -> bool:
        return True

    def describe(self) -> str:
        extra = "" if self.stride == 1 else f", stride {_size_text(self.stride)}"
        extra += "" if self.padding == "valid" else f", {self.padding}"
        extra += "" if self.bias else ", no bias"
        kh, kw = _hw(self.kernel_size)
        return f"Conv2D({self.filters}, {kh}x{kw}{extra}, {self.activation}{_prior_text(self.prior)})"


@dataclass(frozen=True)
class Pool2D(Layer):
    """Base class of the pooling layers: windows of ``pool_size`` every ``stride`` (default: ``pool_size``).

    Input ``(channels, height, width)``, output ``(channels, (H - ph) // sh + 1, (W - pw) // sw + 1)``:
    rows and columns that do not fill a window are dropped. No parameters.
    """

    pool_size: IntPair
    stride: IntPair | None = None

    def __post_init__(self) -> None:
        name = type(self).__name__
        object.__setattr__(self, "pool_size", _int_pair(name, "pool_size", self.pool_size))
        if self.stride is not None:
            object.__setattr__(self, "stride", _int_pair(name, "stride", self.stride))

    def output_shape(self, input_shape: Shape) -> Shape:
        from pbnn.ops.conv import pool2d_output_shape

        _check_image(self, input_shape)
        _check_window_fits("pool_size", self.pool_size, input_shape)
        return (input_shape[0], *pool2d_output_shape(input_shape[1:], self.pool_size, self.stride))

    def describe(self) -> str:
        stride = "" if self.stride is None else f", stride {_size_text(self.stride)}"
        return f"{type(self).__name__}({_size_text(self.pool_size)}{stride})"


@dataclass(frozen=True)
class MaxPool2D(Pool2D):
    """The maximum of each window (its gradient flows to one maximum per window).

    >>> MaxPool2D(2).output_shape((8, 7, 7))
    (8, 3, 3)
    """

    kind: ClassVar[str] = "max_pool2d"


@dataclass(frozen=True)
class AvgPool2D(Pool2D):
    """The mean of each window.

    >>> AvgPool2D(2, stride=1).output_shape((8, 4, 4))
    (8, 3, 3)
    """

    kind: ClassVar[str] = "avg_pool2d"


#: Layer classes by their ``kind`` (the name used in TOML files).
LAYERS: dict[str, type[Layer]] = {cls.kind: cls for cls in (Dense, Flatten, Conv2D, MaxPool2D, AvgPool2D)}
