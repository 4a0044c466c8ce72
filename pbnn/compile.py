"""The one place where a :class:`~pbnn.spec.BNN` becomes a PyMC model and PyTensor graphs.

Naming, for a spec whose layer number ``i`` (1-based, counting every layer) holds parameters:

* data: ``pm.Data`` ``X`` (``obs``, ``input``), images (``obs``, ``channel``, ``height``, ``width``),
  and ``target`` (``obs``);
* Dense weights ``w_i`` with dims ``(<input dim>, hidden_i)`` and biases ``b_i`` (``hidden_i``); the
  last weighted layer's units dim is ``output``. A multi-axis input to a Dense layer is flattened; its
  dim is ``input`` (the data) or ``flat_j`` (the output of layer ``j``), as after a ``Flatten`` layer ``j``;
* Conv2D filters ``w_i`` with dims ``(channel_i, <input channel dim>, kernel_h_i, kernel_w_i)`` and
  biases ``b_i`` (``channel_i``); the input channel dim is ``channel`` (the data) or the ``channel_j``
  of the convolution before it (pooling keeps channels);
* network output: the likelihood's outputs (:mod:`pbnn.likelihoods`), built by its ``observe``:
  ``Deterministic`` ``p`` (class probabilities: ``obs`` for bernoulli, ``obs, class`` for categorical) or
  ``mu`` (``obs``), plus its noise parameters, e.g. ``sigma`` (a free RV for ``normal`` and ``student_t``,
  a per-point Deterministic for ``heteroscedastic_normal``) and ``nu`` (``student_t``);
* weights under a prior with latent scales (``hierarchical``, ``horseshoe``) are Deterministics of a
  non-centred ``{name}_z ~ Normal(0, 1)``; a ``Dense(..., prior=...)`` overrides the spec's prior;
* observed variable ``y``.

>>> import numpy as np, pbnn
>>> X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
>>> model = pbnn.zoo.two_layer_tanh().build(X, y)
>>> model.named_vars_to_dims["w_1"]
('input', 'hidden_1')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import singledispatch

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable

from pbnn import layers as L
from pbnn import priors as P
from pbnn.ops.conv import avg_pool2d, conv2d, max_pool2d
from pbnn.validation import check_data
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

#: Initial value of every weight: a seeded draw from its prior. All-zero weights (PyMC's default) are a
#: saddle where every hidden unit gets the same gradient; ADVI started there on the moons BNN settled in a
#: near-linear optimum (ELBO -174, 0.85 accuracy) instead of the curved boundary (ELBO -115, 0.96).
WEIGHT_INIT = "prior"

#: Initial value of a hierarchical layer sd, in units of its hyperprior scale. Started at 1x, mean-field
#: ADVI shrank the first layer's sd to 0.09 and fell into the same near-linear optimum for 2 of 12 seeds
#: on moons; started at 2x, 12 of 12 seeds reached 0.96-0.97 test accuracy.
SCALE_INIT = 2.0

#: Fan-in above which a layer's initial weight draw is shrunk by ``sqrt(FAN_IN_INIT / fan_in)`` (see
#: :func:`_weights`); ``None`` keeps the plain prior draw.
FAN_IN_INIT: float | None = 2.0


def build_model(spec: BNN, X: np.ndarray, y: np.ndarray, *, batch_size: int | None = None,
                initial_values: bool = True) -> pm.Model:
    """Compile ``spec`` into a :class:`pymc.Model` on data ``X`` (N, ...) and targets ``y`` (N,).

    With ``batch_size`` the likelihood sees random minibatches of that size (``pm.Minibatch``) and is
    scaled to the full data set (``total_size``); the output Deterministic is then left out, since it
    would describe a random batch. Prediction uses the full-data model (no ``batch_size``).
    ``initial_values=False``: PyMC's default initial values instead of pbnn's starting points (seeded prior
    draws, see :data:`WEIGHT_INIT`), for PyMC's model transforms (``model.copy``, ``pm.do``,
    ``pm.compute_log_likelihood``), which refuse symbolic initial values.
    """
    X, y = check_data(spec, X, y, batch_size=batch_size)
    dims, sizes = layer_dims(spec, X.shape[1:])
    with pm.Model(coords=_coords(spec, X, dims, sizes)) as model:
        X_data = pm.Data("X", X, dims=("obs", *input_dims(X.shape[1:])))
        y_data = pm.Data("target", y, dims="obs")
        if batch_size is None:
            x_in, y_in, obs_dims, total_size = X_data, y_data, "obs", None
        else:
            x_in, y_in = pm.Minibatch(X_data, y_data, batch_size=batch_size)
            obs_dims, total_size = None, len(y)
        # static feature/image sizes: conv2d reshapes need them under JAX
        x_in = pt.specify_shape(x_in, (None, *X.shape[1:]))
        out = network(spec, x_in, dims)
        spec.likelihood_.observe(out, y_in, obs_dims=obs_dims, total_size=total_size)
    if not initial_values:
        for rv in model.free_RVs:
            model.set_initval(rv, None)
    return model


def parameter_names(model: pm.Model) -> list[str]:
    """Names of the network's parameters in ``model``: free RVs and per-parameter Deterministics.

    These are what a posterior stores; the likelihood's per-point outputs (Deterministics over ``obs``,
    such as ``p``, ``mu``, a per-point ``sigma``) are left to predictions.
    """
    names = [rv.name for rv in model.free_RVs]
    names += [d.name for d in model.deterministics if "obs" not in model.named_vars_to_dims.get(d.name, ())]
    return names


@dataclass(frozen=True)
class LayerDims:
    """Named dims of one layer's output (without ``obs``) and of its parameters (``{"w": dims, "b": dims}``);
    ``fan_in``: the number of inputs each output unit sums (0 for layers without weights)."""

    output: tuple[str, ...]
    params: dict[str, tuple[str, ...]]
    fan_in: int = 0


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
def _dims(layer: L.Layer, index: int, in_dims, in_shape, shape, *, last: bool) -> tuple[LayerDims, dict[str, int]]:
    raise NotImplementedError(f"pbnn.compile has no dims for layer {layer!r}")


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
    kh, kw = (layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int) else layer.kernel_size
    dims = LayerDims(out, {"w": (out[0], in_dims[0], *kernel), "b": (out[0],)}, fan_in=in_shape[0] * kh * kw)
    return dims, {**dict(zip(out, shape, strict=True)), kernel[0]: kh, kernel[1]: kw}


@_dims.register
def _(layer: L.Pool2D, index, in_dims, in_shape, shape, *, last):
    out = (in_dims[0], f"height_{index}", f"width_{index}")
    return LayerDims(out, {}), dict(zip(out, shape, strict=True))


def network(spec: BNN, x: TensorVariable, dims: list[LayerDims]) -> TensorVariable:
    """Create the parameters of every layer (inside a model context) and apply the layers to ``x``."""
    for i, (layer, layer_dims_) in enumerate(zip(spec.layers, dims, strict=True), start=1):
        x = apply_layer(layer, x, spec=spec, index=i, dims=layer_dims_.params, fan_in=layer_dims_.fan_in)
    return x


@singledispatch
def apply_layer(layer: L.Layer, x: TensorVariable, **ctx) -> TensorVariable:
    raise NotImplementedError(f"pbnn.compile has no rule for layer {layer!r}")


@apply_layer.register
def _(layer: L.Dense, x, *, spec, index, dims, fan_in):
    w = _weights(prior_of(spec, layer), f"w_{index}", dims["w"], layer=index, fan_in=fan_in)
    z = pt.matmul(_flatten(x), w)
    if layer.bias:
        z = z + weight(prior_of(spec, layer), f"b_{index}", dims["b"], layer=index)
    return ACTIVATIONS[layer.activation](z)


@apply_layer.register
def _(layer: L.Flatten, x, **ctx):
    return _flatten(x)


@apply_layer.register
def _(layer: L.Conv2D, x, *, spec, index, dims, fan_in):
    kh, kw = (layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int) else layer.kernel_size
    w = _weights(prior_of(spec, layer), f"w_{index}", dims["w"], layer=index, fan_in=fan_in)
    w = pt.specify_shape(w, (layer.filters, None, kh, kw))  # conv2d needs a static kernel size
    z = conv2d(x, w, stride=layer.stride, padding=layer.padding)
    if layer.bias:
        z = z + weight(prior_of(spec, layer), f"b_{index}", dims["b"], layer=index)[:, None, None]
    return ACTIVATIONS[layer.activation](z)


@apply_layer.register
def _(layer: L.MaxPool2D, x, **ctx):
    return max_pool2d(x, layer.pool_size, stride=layer.stride)


@apply_layer.register
def _(layer: L.AvgPool2D, x, **ctx):
    return avg_pool2d(x, layer.pool_size, stride=layer.stride)


def _weights(prior: P.Prior, name: str, dims: tuple[str, ...], *, layer: int, fan_in: int) -> TensorVariable:
    """The weight array ``name`` under ``prior``, its initial value scaled to the layer's fan-in.

    Every weight starts at a seeded prior draw (:data:`WEIGHT_INIT`). When a unit sums more than
    :data:`FAN_IN_INIT` inputs, the draw is shrunk by ``sqrt(FAN_IN_INIT / fan_in)`` (He et al.'s
    scaling for ReLU nets), so that pre-activations start at the scale of the inputs instead of
    ``sqrt(fan_in)`` times it. Only the starting point changes; the prior does not.
    """
    model = pm.modelcontext(None)
    before = set(model.free_RVs)
    w = weight(prior, name, dims, layer=layer)
    if FAN_IN_INIT is not None and fan_in > FAN_IN_INIT:
        factor = math.sqrt(FAN_IN_INIT / fan_in)
        free = set(model.free_RVs)
        for rv in free - before:
            init = model.rvs_to_initial_values.get(rv)
            if isinstance(init, str) and init == "prior" and not free & set(ancestors(rv.owner.inputs)):
                draw = rv.owner.clone().outputs[rv.owner.outputs.index(rv)]  # the same prior, a draw of its own
                model.set_initval(rv, factor * draw)
    return w


def _flatten(x: TensorVariable) -> TensorVariable:
    """``(N, d1, d2, ...) -> (N, d1*d2*...)`` in C order; joins static axes (no symbolic reshape, fine for JAX)."""
    return x if x.ndim <= 2 else pt.join_dims(x, 1, x.ndim - 1)


def prior_of(spec: BNN, layer: L.Layer) -> P.Prior:
    """The prior of ``layer``'s weights: its own ``prior`` field when set, else the spec's."""
    return getattr(layer, "prior", None) or spec.prior


@singledispatch
def weight(prior: P.Prior, name: str, dims: tuple[str, ...], *, layer: int) -> TensorVariable:
    """Create the random variable(s) for one weight array ``name`` with ``dims`` under ``prior``."""
    raise NotImplementedError(f"pbnn.compile has no rule for prior {prior!r}")


@weight.register
def _(prior: P.Normal, name, dims, *, layer):
    return pm.Normal(name, 0.0, prior.sigma, dims=dims, initval=WEIGHT_INIT)


@weight.register
def _(prior: P.Hierarchical, name, dims, *, layer):
    model = pm.modelcontext(None)
    if "layer_sigma" not in model.named_vars:
        n_layers = len(model.coords["layer"])
        pm.HalfNormal("layer_sigma", prior.scale, dims="layer", initval=np.full(n_layers, SCALE_INIT * prior.scale))
    position = list(model.coords["layer"]).index(layer)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims, initval=WEIGHT_INIT)
    return pm.Deterministic(name, model["layer_sigma"][position] * z, dims=dims)


@weight.register
def _(prior: P.Laplace, name, dims, *, layer):
    return pm.Laplace(name, 0.0, prior.b, dims=dims, initval=WEIGHT_INIT)


@weight.register
def _(prior: P.ScaleMixture, name, dims, *, layer):
    return pm.NormalMixture(
        name,
        w=np.array([prior.pi, 1.0 - prior.pi]),
        mu=np.zeros(2),
        sigma=np.array([prior.sigma1, prior.sigma2]),
        dims=dims,
        initval=WEIGHT_INIT,
    )


@weight.register
def _(prior: P.Horseshoe, name, dims, *, layer):
    tau = pm.HalfCauchy(f"{name}_tau", prior.scale)
    lam = pm.HalfCauchy(f"{name}_lambda", 1.0, dims=dims)
    half_df = prior.slab_df / 2.0
    c2 = pm.InverseGamma(f"{name}_c2", alpha=half_df, beta=half_df * prior.slab_scale**2)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims, initval=WEIGHT_INIT)
    lam_tilde = pt.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
    return pm.Deterministic(name, tau * lam_tilde * z, dims=dims)


def input_dims(input_shape: tuple[int, ...]) -> tuple[str, ...]:
    """Dims of inputs of ``input_shape`` (without ``obs``): ``input`` (features), ``channel, height,
    width`` (images), else ``input_1, input_2, ...``."""
    if len(input_shape) == 1:
        return ("input",)
    if len(input_shape) == 3:
        return ("channel", "height", "width")
    return tuple(f"input_{k}" for k in range(1, len(input_shape) + 1))


def _coords(spec: BNN, X: np.ndarray, dims: list[LayerDims], sizes: dict[str, int]) -> dict[str, range | list]:
    """Coords of the dims that ``X`` and the parameters use (a layer's own output dims are not stored)."""
    coords: dict[str, range | list] = {"obs": range(len(X))}
    used = [*input_dims(X.shape[1:]), *(d for layer in dims for param in layer.params.values() for d in param)]
    for dim in dict.fromkeys(used):
        coords[dim] = range(sizes[dim])
    coords.update(spec.likelihood_.coords(spec.output_units))
    hierarchical = [
        i for i, layer in enumerate(spec.layers, start=1)
        if layer.has_params and isinstance(prior_of(spec, layer), P.Hierarchical)
    ]
    if hierarchical:
        coords["layer"] = hierarchical
    return coords
