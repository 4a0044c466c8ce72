"""Lower-variance Monte Carlo estimators of mean-field ADVI's expected log-likelihood.

Mean-field ADVI (:mod:`pbnn.inference.jax_advi`) maximises the ELBO ``E_q[log p(theta)] + E_q[log p(y | theta)]
+ H[q]``; the plain reparameterization (``estimator="reparam"``) estimates the expectations with one draw of
``theta`` shared by the whole minibatch, so the examples' noise is correlated. Two estimators draw the weights
per example instead, with the same expectation (the same ELBO) and a lower gradient variance:

* ``"local"`` (Kingma, Salimans & Welling 2015; Dense layers): a Dense layer's pre-activations given its
  input ``x`` are Gaussian under q, ``x M + sqrt(x**2 S**2) * eps`` with ``eps ~ N(0, 1)`` per example and
  unit (``M``, ``S``: the weights' means and sds);
* ``"flipout"`` (Wen et al. 2018; Dense and Conv2D layers): one perturbation ``Delta W ~ N(0, S**2)`` per
  batch, flipped per example by random signs, ``W_n = M + Delta W * (s_n r_n^T)``: for a Dense layer
  ``x M + ((x * s_n) Delta W) * r_n``, for a convolution the signs act on the input and output channels.

Both apply to every weight array of the network, which must be a free variable on the identity transform
(its q is then a Gaussian of known mean and sd); biases and the other variables (the likelihood's
hyperparameters such as ``sigma``) keep the plain draw. The prior term stays the exact log prior (with the
Jacobian) at the reparameterized draw of every parameter, and the entropy stays analytic. The sampled
network is the one pure forward pass of :func:`pbnn.network.forward` (its ``weighted_sums``) and the
likelihood's :meth:`~pbnn.likelihoods.base.Likelihood.link` and PyMC distribution, compiled to JAX.

>>> import numpy as np, pbnn
>>> X, y = pbnn.datasets.moons(n_samples=100).X_train, pbnn.datasets.moons(n_samples=100).y_train
>>> spec = pbnn.zoo.two_layer_tanh()
>>> model = spec.build(X, y)
>>> sampled = sampled_loglik(spec, model, "flipout", rows=32)
>>> sampled.weights
('w_1', 'w_2', 'w_3')
>>> check(pbnn.zoo.conv(), None, "local")
Traceback (most recent call last):
...
ValueError: estimator: 'local' (local reparameterization) samples the pre-activations of Dense layers only; layers[1] is Conv2D(16, 3x3, same, relu): use estimator='flipout' or 'reparam'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import pymc as pm
import pytensor.tensor as pt

from pbnn import layers as L
from pbnn.inference import logdensity
from pbnn.inference.methods import ESTIMATORS
from pbnn.network import flatten_features, forward, lean_graphs, parameters, weighted_sum
from pbnn.spec import BNN

__all__ = ["ESTIMATORS", "SampledLoglik", "check", "sampled_loglik"]

#: The weighted layers each estimator samples.
LAYERS = {"local": (L.Dense,), "flipout": (L.Dense, L.Conv2D)}
NAMES = {"local": "local reparameterization", "flipout": "Flipout"}
#: Floor of a sampled pre-activation's variance (local reparameterization).
VARIANCE_FLOOR = 1e-20


def check(spec: BNN, model: pm.Model | None, estimator: str) -> None:
    """Raise ``ValueError`` naming ``estimator`` when it cannot apply to ``spec`` (and ``model``'s variables):
    a weighted layer it does not sample, or a weight array that is not a free variable on the identity
    transform (e.g. a Deterministic of the hierarchical and horseshoe priors)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: unknown estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")
    if estimator == "reparam":
        return
    for i, layer in enumerate(spec.layers, start=1):
        if layer.has_params and not isinstance(layer, LAYERS[estimator]):
            kinds = " and ".join(c.__name__ for c in LAYERS[estimator])
            other = "'flipout' or 'reparam'" if estimator == "local" else "'reparam'"
            raise ValueError(f"estimator: '{estimator}' ({NAMES[estimator]}) samples the pre-activations of {kinds} "
                             f"layers only; layers[{i}] is {layer.describe()}: use estimator={other}")
    if model is None:
        return
    free = {rv.name: rv for rv in model.free_RVs}
    for name in _weights(spec, model):
        rv = free.get(name)
        if rv is None:
            what = "a Deterministic of other variables" if name in model.named_vars else "not in the model"
            raise ValueError(f"estimator: '{estimator}' needs every weight array to be a free variable with a "
                             f"Gaussian q; {name!r} is {what} (prior {spec.prior.describe()}): use "
                             "estimator='reparam' or a prior without latent scales")
        if model.rvs_to_transforms.get(rv) is not None:
            raise ValueError(f"estimator: '{estimator}' needs every weight array on the identity transform; "
                             f"{name!r} has the transform {type(model.rvs_to_transforms[rv]).__name__}: use "
                             "estimator='reparam'")


def _weights(spec: BNN, model: pm.Model) -> tuple[str, ...]:
    return tuple(p.name for p in parameters(spec, _input_shape(model)) if p.kind == "weight")


def _input_shape(model: pm.Model) -> tuple[int, ...]:
    return tuple(int(d) for d in model["X"].get_value(borrow=True).shape[1:])


@dataclass(frozen=True)
class SampledLoglik:
    """The log-likelihood of a batch with the weights' layers sampled by ``estimator``.

    ``weights``: the weight arrays it samples (value names of the model); ``others``: the variables it takes a
    value of (biases, the likelihood's hyperparameters). Call it as ``sampled(mean, sd, values, batch, noise)``:
    ``mean``/``sd`` the weights' q by name, ``values`` the others' constrained values by name, ``batch`` the
    ``(X, target)`` rows of ``rows`` rows, ``noise`` standard normals; it returns the sum over the batch.
    """

    estimator: str
    rows: int
    weights: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    others: tuple[str, ...]
    graph: Callable[..., Any]

    @property
    def noise_shapes(self) -> list[tuple[int, ...]]:
        """The standard normal arrays one call takes: per weight, its pre-activations' ``eps`` (rows, units)
        (local), or ``Delta W``'s (the weight's shape) and the input and output signs' (rows, inputs) and
        (rows, units) (flipout; a sign is that of a standard normal)."""
        return [shape for weight in self.shapes for part, shape in _input_shapes(self.estimator, weight, self.rows)
                if part in NOISE]

    @property
    def noise_size(self) -> int:
        """The length of the flat standard normal vector ``noise`` one call takes."""
        return sum(math.prod(s) for s in self.noise_shapes)

    def __call__(self, mean: Mapping[str, jax.Array], sd: Mapping[str, jax.Array], values: Mapping[str, jax.Array],
                 batch: tuple[jax.Array, jax.Array], noise: jax.Array) -> jax.Array:
        """The batch's log-likelihood: ``mean``/``sd`` the weights' q by name, ``values`` the others' constrained
        values by name, ``batch`` the ``(X, target)`` rows, ``noise`` (:attr:`noise_size`,) standard normals
        (drawn with the ELBO's own: one random call, since XLA compiles every call's generator anew)."""
        parts, start = [], 0
        for shape in self.noise_shapes:
            parts.append(noise[start:start + math.prod(shape)].reshape(shape))
            start += math.prod(shape)
        inputs = []
        for j, name in enumerate(self.weights):
            m, s = mean[name], sd[name]
            if self.estimator == "local":
                inputs += [m, s**2, parts[j]]
            else:
                delta, signs_in, signs_out = parts[3 * j:3 * j + 3]
                inputs += [m, s * delta, jnp.sign(signs_in), jnp.sign(signs_out)]
        x, y = batch
        return self.graph(x, y, *(values[name] for name in self.others), *inputs)[0]


def sampled_loglik(spec: BNN, model: pm.Model, estimator: str, rows: int) -> SampledLoglik:
    """The :class:`SampledLoglik` of ``estimator`` ("local" or "flipout") for batches of ``rows`` rows of
    ``model``'s data, built from ``spec`` (checked by :func:`check`; cached per model).

    The batch length is static: the categorical log density indexes its rows with an ``arange`` that JAX
    takes only of a constant length, and the per-example noise would otherwise leave it symbolic."""
    if estimator == "reparam":
        raise ValueError("estimator: 'reparam' uses the model's own log-likelihood; sampled_loglik is for "
                         "'local' and 'flipout'")
    check(spec, model, estimator)
    cache = logdensity.model_cache(model)
    key = ("sampled_loglik", logdensity.structure_key(model, ("X", "target")), estimator, rows)
    if key not in cache:
        cache[key] = _build(spec, model, estimator, rows)
    return cache[key]


@lean_graphs
def _build(spec: BNN, model: pm.Model, estimator: str, rows: int) -> SampledLoglik:
    from pymc.sampling.jax import get_jaxified_graph

    input_shape = _input_shape(model)
    likelihood = spec.likelihood_
    x = pt.tensor("X", shape=(rows, *input_shape), dtype="float64")
    y = pt.tensor("y", shape=(rows,), dtype=str(model["target"].dtype))
    params = parameters(spec, input_shape)
    weights = [p for p in params if p.kind == "weight"]
    values = {p.name: pt.tensor(p.name, shape=p.shape, dtype="float64") for p in params if p.kind != "weight"}
    hyper = {name: pt.scalar(name, dtype="float64") for name in likelihood.hyperparameters}
    noise_inputs: list[Any] = []
    sums = {}
    for p in weights:
        inputs = [pt.tensor(f"{p.name}_{part}", shape=shape, dtype="float64")
                  for part, shape in _input_shapes(estimator, p.shape, rows)]
        noise_inputs += inputs
        sums[p.name] = _weighted_sum(estimator, p.layer, *inputs)
    outputs = likelihood.link(forward(spec, x, values, weighted_sums=sums), hyper)
    family, dist_params = likelihood.distribution(outputs)
    loglik = pt.sum(pm.logp(family.dist(**dist_params), y))
    others = {**values, **hyper}
    graph = get_jaxified_graph(inputs=[x, y, *others.values(), *noise_inputs], outputs=[loglik])
    return SampledLoglik(estimator=estimator, rows=rows, weights=tuple(p.name for p in weights),
                         shapes=tuple(p.shape for p in weights),
                         others=tuple(others), graph=graph)


#: The graph's inputs that are standard normals in a call (``delta``: before it is scaled by the sd).
NOISE = ("eps", "delta", "signs_in", "signs_out")


def _input_shapes(estimator: str, shape: tuple[int, ...], rows: int) -> list[tuple[str, tuple]]:
    """The graph's inputs for one weight array: its mean, then ``var`` and ``eps`` (local) or ``delta`` and the
    input and output signs (flipout)."""
    # a Dense weight is (inputs, units), a Conv2D filter bank (filters, channels, kh, kw)
    n_in, n_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[1], shape[0])
    if estimator == "local":
        return [("mean", shape), ("var", shape), ("eps", (rows, n_out))]
    return [("mean", shape), ("delta", shape), ("signs_in", (rows, n_in)), ("signs_out", (rows, n_out))]


def _weighted_sum(estimator: str, layer: L.Layer, mean, second, *signs) -> Callable:
    """``x -> z``: the layer's sampled weighted sum (see the module docstring)."""
    conv = isinstance(layer, L.Conv2D)

    def channels(v):  # (N, C) -> (N, C, 1, 1) for a convolution
        return v[:, :, None, None] if conv else v

    if estimator == "local":
        var, eps = second, signs[0]
        # the floor keeps the gradient finite for an all-zero input (relu); its sd, 1e-10, is negligible
        return lambda x: (weighted_sum(layer, x, mean)
                          + pt.sqrt(pt.maximum(weighted_sum(layer, x**2, var), VARIANCE_FLOOR)) * eps)
    delta, signs_in, signs_out = second, *signs

    def flipout(x):
        x = x if conv else flatten_features(x)
        return weighted_sum(layer, x, mean) + weighted_sum(layer, x * channels(signs_in), delta) * channels(signs_out)

    return flipout
