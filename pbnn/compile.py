"""The one place where a :class:`~pbnn.spec.BNN` becomes a PyMC model and PyTensor graphs.

Naming, for a spec whose layer number ``i`` (1-based, counting every layer) holds parameters:

* data: ``pm.Data`` ``X`` (``obs``, ``input`` ...) and ``target`` (``obs``);
* weights ``w_i`` with dims ``(<input dim>, hidden_i)`` and biases ``b_i`` (``hidden_i``); the last
  weighted layer's units dim is ``output``;
* network output: ``Deterministic`` ``p`` (class probabilities: ``obs`` for bernoulli, ``obs, class``
  for categorical) or ``mu`` (``obs``), plus ``sigma`` (noise sd) for the normal likelihood;
* observed variable ``y``.

>>> import numpy as np, pbnn
>>> X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
>>> model = pbnn.zoo.two_layer_tanh().build(X, y)
>>> model.named_vars_to_dims["w_1"]
('input', 'hidden_1')
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pbnn import layers as L
from pbnn import priors as P
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

#: Prior scale of the noise sd of the normal likelihood (HalfNormal).
NOISE_SCALE = 1.0

#: Initial value of every weight: a seeded draw from its prior. All-zero weights (PyMC's default) are a
#: saddle where every hidden unit gets the same gradient; ADVI started there on the moons BNN settled in a
#: near-linear optimum (ELBO -174, 0.85 accuracy) instead of the curved boundary (ELBO -115, 0.96).
WEIGHT_INIT = "prior"

#: Initial value of a hierarchical layer sd, in units of its hyperprior scale. Started at 1x, mean-field
#: ADVI shrank the first layer's sd to 0.09 and fell into the same near-linear optimum for 2 of 12 seeds
#: on moons; started at 2x, 12 of 12 seeds reached 0.96-0.97 test accuracy.
SCALE_INIT = 2.0


def build_model(spec: BNN, X: np.ndarray, y: np.ndarray, *, batch_size: int | None = None) -> pm.Model:
    """Compile ``spec`` into a :class:`pymc.Model` on data ``X`` (N, ...) and targets ``y`` (N,).

    With ``batch_size`` the likelihood sees random minibatches of that size (``pm.Minibatch``) and is
    scaled to the full data set (``total_size``); the output Deterministic is then left out, since it
    would describe a random batch. Prediction uses the full-data model (no ``batch_size``).
    """
    X, y = check_data(spec, X, y, batch_size=batch_size)
    shapes = spec.output_shapes(X.shape[1:])
    with pm.Model(coords=_coords(spec, X, shapes)) as model:
        X_data = pm.Data("X", X, dims=("obs", *_input_dims(X)))
        y_data = pm.Data("target", y, dims="obs")
        if batch_size is None:
            x_in, y_in, obs_dims, total_size = X_data, y_data, "obs", None
        else:
            x_in, y_in = pm.Minibatch(X_data, y_data, batch_size=batch_size)
            obs_dims, total_size = None, len(y)
        out = network(spec, x_in, shapes, _input_dims(X))
        _likelihood(spec, out, y_in, obs_dims=obs_dims, total_size=total_size)
    return model


def parameter_names(model: pm.Model) -> list[str]:
    """Names of the network's parameters in ``model``: free RVs and per-parameter Deterministics.

    These are what a posterior stores; the network output (``p``/``mu``) is left to predictions.
    """
    names = [rv.name for rv in model.free_RVs]
    names += [d.name for d in model.deterministics if d.name not in ("p", "mu")]
    return names


def network(spec: BNN, x: TensorVariable, shapes: list[tuple[int, ...]], input_dims: tuple[str, ...]) -> TensorVariable:
    """Create the parameters of every layer (inside a model context) and apply the layers to ``x``."""
    dims = input_dims
    last = max(i for i, layer in enumerate(spec.layers, start=1) if layer.has_params)
    for i, layer in enumerate(spec.layers, start=1):
        out_dims = ("output",) if i == last else _layer_dims(layer, i)
        x = apply_layer(layer, x, spec=spec, index=i, in_dims=dims, out_dims=out_dims)
        dims = out_dims if layer.has_params else ("flat_%d" % i,)
    return x


@singledispatch
def apply_layer(layer: L.Layer, x: TensorVariable, **ctx) -> TensorVariable:
    raise NotImplementedError(f"pbnn.compile has no rule for layer {layer!r}")


@apply_layer.register
def _(layer: L.Dense, x, *, spec, index, in_dims, out_dims):
    w = weight(spec.prior, f"w_{index}", (in_dims[-1], out_dims[0]), layer=index)
    z = pt.matmul(x, w)
    if layer.bias:
        z = z + weight(spec.prior, f"b_{index}", out_dims, layer=index)
    return ACTIVATIONS[layer.activation](z)


@apply_layer.register
def _(layer: L.Flatten, x, **ctx):
    return x.reshape((x.shape[0], -1))


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


def _likelihood(spec: BNN, out, y, *, obs_dims, total_size) -> None:
    lik = spec.likelihood
    if lik == "bernoulli":
        p = pt.sigmoid(out[..., 0])
        if obs_dims:
            p = pm.Deterministic("p", p, dims=obs_dims)
        pm.Bernoulli("y", p=p, observed=y, dims=obs_dims, total_size=total_size)
    elif lik == "categorical":
        p = pt.special.softmax(out, axis=-1)
        if obs_dims:
            p = pm.Deterministic("p", p, dims=(obs_dims, "class"))
        pm.Categorical("y", p=p, observed=y, dims=obs_dims, total_size=total_size)
    elif lik == "normal":
        mu = out[..., 0]
        if obs_dims:
            mu = pm.Deterministic("mu", mu, dims=obs_dims)
        sigma = pm.HalfNormal("sigma", NOISE_SCALE)
        pm.Normal("y", mu=mu, sigma=sigma, observed=y, dims=obs_dims, total_size=total_size)
    else:  # pragma: no cover - guarded by BNN validation
        raise NotImplementedError(lik)


def _input_dims(X: np.ndarray) -> tuple[str, ...]:
    if X.ndim == 2:
        return ("input",)
    return tuple(f"input_{k}" for k in range(1, X.ndim))


def _layer_dims(layer: L.Layer, index: int) -> tuple[str, ...]:
    return (f"hidden_{index}",) if layer.has_params else ()


def _coords(spec: BNN, X: np.ndarray, shapes: list[tuple[int, ...]]) -> dict[str, range | list]:
    coords: dict[str, range | list] = {"obs": range(len(X))}
    for dim, size in zip(_input_dims(X), X.shape[1:], strict=True):
        coords[dim] = range(size)
    last = max(i for i, layer in enumerate(spec.layers, start=1) if layer.has_params)
    for i, (layer, shape) in enumerate(zip(spec.layers, shapes, strict=True), start=1):
        if layer.has_params:
            coords["output" if i == last else f"hidden_{i}"] = range(shape[-1])
        else:
            coords[f"flat_{i}"] = range(int(np.prod(shape)))
    if spec.likelihood == "categorical":
        coords["class"] = range(spec.output_units)
    if isinstance(spec.prior, P.Hierarchical):
        coords["layer"] = [i for i, layer in enumerate(spec.layers, start=1) if layer.has_params]
    return coords
