"""The network of a spec as plain functions: its parameters and a pure forward pass.

:func:`parameters` lists every weight and bias array of a spec (name, named dims, shape, prior, layer,
fan-in) without building anything; :func:`forward` applies the layers to inputs given the parameters'
values by name, as a PyTensor graph. Model building (:mod:`pbnn.compile`), the predictor, MC dropout and
gradient estimators share this one definition; :func:`jax_forward` compiles it to a JAX function.

Naming, for a spec whose layer number ``i`` (1-based, counting every layer) holds parameters:

* Dense weights ``w_i`` with dims ``(<input dim>, hidden_i)`` and biases ``b_i`` (``hidden_i``); the
  last weighted layer's units dim is ``output``. A multi-axis input to a Dense layer is flattened; its
  dim is ``input`` (the data) or ``flat_j`` (the output of layer ``j``), as after a ``Flatten`` layer ``j``;
* Conv2D filters ``w_i`` with dims ``(channel_i, <input channel dim>, kernel_h_i, kernel_w_i)`` and
  biases ``b_i`` (``channel_i``); the input channel dim is ``channel`` (the data) or the ``channel_j``
  of the convolution before it (pooling keeps channels).

>>> import numpy as np, pytensor.tensor as pt, pbnn
>>> spec = pbnn.zoo.two_layer_tanh()
>>> [(p.name, p.dims, p.shape) for p in parameters(spec, (2,))][:2]
[('w_1', ('input', 'hidden_1'), (2, 5)), ('w_2', ('hidden_1', 'hidden_2'), (5, 5))]
>>> values = {p.name: np.full(p.shape, 0.1) for p in parameters(spec, (2,))}
>>> forward(spec, pt.as_tensor(np.ones((3, 2))), values).eval().shape
(3, 1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pbnn import layers as L
from pbnn import priors as P
from pbnn.ops.conv import avg_pool2d, conv2d, max_pool2d
from pbnn.spec import BNN

#: PyTensor implementation of each activation name of :data:`pbnn.layers.ACTIVATIONS`.
ACTIVATIONS: dict[str, Callable[[TensorVariable], TensorVariable]] = {
    "identity": lambda x: x,
    "tanh": pt.tanh,
    "relu": lambda x: pt.maximum(x, 0.0),
    "sigmoid": pt.sigmoid,
    "softplus": pt.softplus,
    "elu": lambda x: pt.switch(x > 0, x, pt.expm1(x)),
    "leaky_relu": lambda x: pt.switch(x > 0, x, 0.01 * x),
    "silu": lambda x: x * pt.sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + pt.erf(x / np.sqrt(2.0))),
}

#: ``Parameter.kind`` by the key of :attr:`LayerDims.params`.
KINDS = {"w": "weight", "b": "bias"}


@dataclass(frozen=True)
class Parameter:
    """One weight or bias array of the network.

    ``name``: ``w_i`` / ``b_i`` (the posterior's variable name); ``dims`` and ``shape``: its named dims
    and their lengths; ``prior``: the layer's own prior or else the spec's; ``layer_index``: the
    1-based position of its ``layer`` in the spec; ``kind``: ``"weight"`` or ``"bias"``; ``fan_in``:
    the number of inputs each output unit of the layer sums (a Dense weight has ``fan_in`` rows).
    """

    name: str
    kind: str
    layer_index: int
    layer: L.Layer
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    prior: P.Prior
    fan_in: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class LayerDims:
    """Named dims of one layer's output (without ``obs``) and of its parameters (``{"w": dims, "b": dims}``);
    ``fan_in``: the number of inputs each output unit sums (0 for layers without weights)."""

    output: tuple[str, ...]
    params: dict[str, tuple[str, ...]]
    fan_in: int = 0


def lean_graphs[**A, R](fn: Callable[A, R]) -> Callable[A, R]:
    """Run ``fn`` with PyTensor's per-variable creation traceback off (``traceback__limit=0``).

    PyTensor walks the Python stack for every variable it creates; for pbnn's internal graphs (models, log
    densities, predictors) nobody reads those traces, and they cost a third of the graph work: building the
    conv zoo model's log density takes 2.35 s instead of 3.5 s."""

    @functools.wraps(fn)
    def wrapper(*args: A.args, **kwargs: A.kwargs) -> R:
        with pytensor.config.change_flags(traceback__limit=0):
            return fn(*args, **kwargs)

    return wrapper


def parameters(spec: BNN, input_shape: tuple[int, ...]) -> tuple[Parameter, ...]:
    """Every weight and bias array of ``spec`` for inputs of ``input_shape``, in layer order (weight, bias).

    >>> import pbnn
    >>> [(p.name, p.kind, p.fan_in) for p in parameters(pbnn.zoo.conv(), (1, 8, 8))][2:4]
    [('w_3', 'weight', 144), ('b_3', 'bias', 144)]
    """
    dims, sizes = layer_dims(spec, input_shape)
    out = []
    for i, (layer, ld) in enumerate(zip(spec.layers, dims, strict=True), start=1):
        for key, param_dims in ld.params.items():
            if key == "b" and not layer.bias:
                continue
            out.append(Parameter(
                name=f"{key}_{i}", kind=KINDS[key], layer_index=i, layer=layer, dims=param_dims,
                shape=tuple(sizes[d] for d in param_dims), prior=prior_of(spec, layer), fan_in=ld.fan_in,
            ))
    return tuple(out)


def prior_of(spec: BNN, layer: L.Layer) -> P.Prior:
    """The prior of ``layer``'s weights: its own ``prior`` field when set, else the spec's."""
    return getattr(layer, "prior", None) or spec.prior


def input_dims(input_shape: tuple[int, ...]) -> tuple[str, ...]:
    """Dims of inputs of ``input_shape`` (without ``obs``): ``input`` (features), ``channel, height,
    width`` (images), else ``input_1, input_2, ...``."""
    if len(input_shape) == 1:
        return ("input",)
    if len(input_shape) == 3:
        return ("channel", "height", "width")
    return tuple(f"input_{k}" for k in range(1, len(input_shape) + 1))


def layer_dims(spec: BNN, input_shape: tuple[int, ...]) -> tuple[list[LayerDims], dict[str, int]]:
    """The dims of every layer for inputs of ``input_shape``, and the length of every dim they name.

    >>> import pbnn
    >>> dims, sizes = layer_dims(pbnn.zoo.conv(), (1, 8, 8))
    >>> dims[0].params["w"], sizes["kernel_h_1"]
    (('channel_1', 'channel', 'kernel_h_1', 'kernel_w_1'), 3)
    """
    in_dims = input_dims(input_shape)
    in_shape = tuple(input_shape)
    sizes = dict(zip(in_dims, in_shape, strict=True))
    last = max(i for i, layer in enumerate(spec.layers, start=1) if layer.has_params)
    out: list[LayerDims] = []
    for i, (layer, shape) in enumerate(zip(spec.layers, spec.output_shapes(in_shape), strict=True), start=1):
        dims, new_sizes = _dims(layer, i, in_dims, in_shape, shape, last=i == last)
        sizes.update(new_sizes)
        out.append(dims)
        in_dims, in_shape = dims.output, shape
    return out, sizes


@singledispatch
def _dims(layer: L.Layer, index: int, in_dims, in_shape, shape, *, last: bool
          ) -> tuple[LayerDims, dict[str, int]]:
    raise NotImplementedError(f"pbnn.network has no dims for layer {layer!r}")


@_dims.register
def _(layer: L.Dense, index, in_dims, in_shape, shape, *, last):
    flat = in_dims[0] if len(in_dims) == 1 else ("input" if index == 1 else f"flat_{index - 1}")
    units = "output" if last else f"hidden_{index}"
    dims = LayerDims((units,), {"w": (flat, units), "b": (units,)}, fan_in=math.prod(in_shape))
    return dims, {flat: math.prod(in_shape), units: layer.units}


@_dims.register
def _(layer: L.Flatten, index, in_dims, in_shape, shape, *, last):
    return LayerDims((f"flat_{index}",), {}), {f"flat_{index}": shape[0]}


@_dims.register
def _(layer: L.Conv2D, index, in_dims, in_shape, shape, *, last):
    out = (f"channel_{index}", f"height_{index}", f"width_{index}")
    kernel = (f"kernel_h_{index}", f"kernel_w_{index}")
    kh, kw = _kernel(layer)
    dims = LayerDims(out, {"w": (out[0], in_dims[0], *kernel), "b": (out[0],)}, fan_in=in_shape[0] * kh * kw)
    return dims, {**dict(zip(out, shape, strict=True)), kernel[0]: kh, kernel[1]: kw}


@_dims.register
def _(layer: L.Pool2D, index, in_dims, in_shape, shape, *, last):
    out = (in_dims[0], f"height_{index}", f"width_{index}")
    return LayerDims(out, {}), dict(zip(out, shape, strict=True))


def _kernel(layer: L.Conv2D) -> tuple[int, int]:
    return (layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int) else layer.kernel_size


#: ``weighted_sums[name](x) -> z``: the weighted sum of a weight array's layer computed otherwise than from one
#: value of the weights (e.g. sampled pre-activations: :mod:`pbnn.inference.estimators`).
WeightedSum = Callable[[TensorVariable], TensorVariable]


def forward(spec: BNN, x: Any, values: Mapping[str, Any],
            weighted_sums: Mapping[str, WeightedSum] | None = None) -> TensorVariable:
    """The network's output (N, units) on inputs ``x`` (N, ...) for parameter ``values`` by name.

    ``x`` and the values are PyTensor variables or arrays (one value of each :func:`parameters` entry;
    extra names are ignored). Under JAX a convolution needs static image sizes:
    ``pt.specify_shape(x, (None, C, H, W))`` or a tensor typed so. ``weighted_sums``: for the weight names
    it holds, the layer's weighted sum (:func:`weighted_sum` of its input) is ``weighted_sums[name](x)``
    instead, and those weights need no value; the bias and activation follow as usual.
    """
    x = pt.as_tensor_variable(x)
    weighted_sums = weighted_sums or {}
    for i, layer in enumerate(spec.layers, start=1):
        keys = (("w", "b") if layer.bias else ("w",)) if layer.has_params else ()
        missing = [f"{key}_{i}" for key in keys if f"{key}_{i}" not in values and f"{key}_{i}" not in weighted_sums]
        if missing:
            names = ", ".join(map(repr, missing))
            raise KeyError(f"values: no value for {names} (layers[{i}] {layer.describe()})")
        params = {key: values[f"{key}_{i}"] for key in keys if f"{key}_{i}" in values}
        if f"w_{i}" in weighted_sums:
            x = activate(layer, weighted_sums[f"w_{i}"](x), params.get("b"))
        else:
            x = apply_layer(layer, x, params)
    return x


@singledispatch
def apply_layer(layer: L.Layer, x: TensorVariable, params: Mapping[str, Any]) -> TensorVariable:
    """Apply one layer to ``x`` with its parameter values ``params`` (``{"w": ..., "b": ...}``)."""
    raise NotImplementedError(f"pbnn.network has no rule for layer {layer!r}")


@singledispatch
def weighted_sum(layer: L.Layer, x: TensorVariable, w: Any) -> TensorVariable:
    """A weighted layer's linear map of its input ``x`` by weights ``w``, before bias and activation: Dense
    ``flatten(x) @ w`` (N, units), Conv2D ``conv(x, w)`` (N, filters, H', W')."""
    raise NotImplementedError(f"pbnn.network has no weighted sum for layer {layer!r}")


def activate(layer: L.Layer, z: TensorVariable, b: Any = None) -> TensorVariable:
    """``activation(z + b)`` of a weighted layer's weighted sum ``z``: ``b`` per unit (Dense) or per filter
    (Conv2D, broadcast over the image); None: no bias."""
    if b is not None:
        z = z + (pt.as_tensor_variable(b)[:, None, None] if z.ndim == 4 else b)
    return ACTIVATIONS[layer.activation](z)


@weighted_sum.register
def _(layer: L.Dense, x, w):
    return pt.matmul(flatten_features(x), w)


@weighted_sum.register
def _(layer: L.Conv2D, x, w):
    w = pt.specify_shape(w, (layer.filters, None, *_kernel(layer)))  # conv2d: static kernel sizes
    return conv2d(x, w, stride=layer.stride, padding=layer.padding)


@apply_layer.register
def _(layer: L.Dense, x, params):
    return activate(layer, weighted_sum(layer, x, params["w"]), params["b"] if layer.bias else None)


@apply_layer.register
def _(layer: L.Flatten, x, params):
    return flatten_features(x)


@apply_layer.register
def _(layer: L.Conv2D, x, params):
    return activate(layer, weighted_sum(layer, x, params["w"]), params["b"] if layer.bias else None)


@apply_layer.register
def _(layer: L.MaxPool2D, x, params):
    return max_pool2d(x, layer.pool_size, stride=layer.stride)


@apply_layer.register
def _(layer: L.AvgPool2D, x, params):
    return avg_pool2d(x, layer.pool_size, stride=layer.stride)


def flatten_features(x: TensorVariable) -> TensorVariable:
    """``(N, d1, d2, ...) -> (N, d1*d2*...)`` in C order, joining static axes (no symbolic reshape: JAX)."""
    return x if x.ndim <= 2 else pt.join_dims(x, 1, x.ndim - 1)


def symbolic_inputs(spec: BNN, input_shape: tuple[int, ...]
                    ) -> tuple[TensorVariable, dict[str, TensorVariable]]:
    """Float64 tensors for the inputs ``X`` (None, *input_shape) and every parameter (its static shape)."""
    x = pt.tensor("X", shape=(None, *input_shape), dtype="float64")
    params = parameters(spec, input_shape)
    return x, {p.name: pt.tensor(p.name, shape=p.shape, dtype="float64") for p in params}


@lean_graphs
def jax_forward(spec: BNN, input_shape: tuple[int, ...]) -> Callable[[Any, Mapping[str, Any]], Any]:
    """:func:`forward` as a JAX function ``f(x, values) -> (N, units)``, ``values`` a dict of arrays by name.

    ``f`` is traceable: jit it, vmap it over draws or call it inside a ``lax.scan``.

    >>> import jax, numpy as np, pbnn
    >>> spec = pbnn.zoo.two_layer_tanh()
    >>> f = jax.jit(jax_forward(spec, (2,)))
    >>> f(np.ones((3, 2)), {p.name: np.full(p.shape, 0.1) for p in parameters(spec, (2,))}).shape
    (3, 1)
    """
    from pymc.sampling.jax import get_jaxified_graph

    x, params = symbolic_inputs(spec, tuple(input_shape))
    fn = get_jaxified_graph(inputs=[x, *params.values()], outputs=[forward(spec, x, params)])
    names = tuple(params)

    def f(x, values):
        return fn(x, *(values[name] for name in names))[0]

    return f
