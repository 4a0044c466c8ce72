"""The one place where a :class:`~pbnn.spec.BNN` becomes a PyMC model and PyTensor graphs.

Naming, for a spec whose layer number ``i`` (1-based, counting every layer) holds parameters:

* data: ``pm.Data`` ``X`` (``obs``, ``input``), images (``obs``, ``channel``, ``height``, ``width``),
  and ``target`` (``obs``);
* the network's weights ``w_i`` and biases ``b_i`` with the dims of :func:`pbnn.network.parameters`, and
  its output :func:`pbnn.network.forward`;
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
from functools import singledispatch

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable

from pbnn import priors as P
from pbnn.network import ACTIVATIONS, Parameter, forward, input_dims, layer_dims, lean_graphs, parameters, prior_of
from pbnn.spec import BNN
from pbnn.validation import check_data

__all__ = ["ACTIVATIONS", "build_model", "input_dims", "layer_dims", "parameter_names", "prior_of", "weight"]

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


@lean_graphs
def build_model(spec: BNN, X: np.ndarray, y: np.ndarray, *, batch_size: int | None = None,
                initial_values: bool = True, check_input: bool = True) -> pm.Model:
    """Compile ``spec`` into a :class:`pymc.Model` on data ``X`` (N, ...) and targets ``y`` (N,).

    With ``batch_size`` the likelihood sees random minibatches of that size (``pm.Minibatch``) and is
    scaled to the full data set (``total_size``); the output Deterministic is then left out, since it
    would describe a random batch. Prediction uses the full-data model (no ``batch_size``).
    ``initial_values=False``: PyMC's default initial values instead of pbnn's starting points (seeded prior
    draws, see :data:`WEIGHT_INIT`), for PyMC's model transforms (``model.copy``, ``pm.do``,
    ``pm.compute_log_likelihood``), which refuse symbolic initial values.
    ``check_input=False`` skips :func:`~pbnn.validation.check_data` for data that passed it already.
    """
    if check_input:
        X, y = check_data(spec, X, y, batch_size=batch_size)
    params = parameters(spec, X.shape[1:])
    with pm.Model(coords=_coords(spec, X, params)) as model:
        X_data = pm.Data("X", X, dims=("obs", *input_dims(X.shape[1:])))
        if X.dtype == X_data.dtype:  # the caller's array, not pm.Data's copy (Fashion-MNIST: 376 MB); never written
            X_data.set_value(X, borrow=True)
        y_data = pm.Data("target", y, dims="obs")
        if batch_size is None:
            x_in, y_in, obs_dims, total_size = X_data, y_data, "obs", None
        else:
            x_in, y_in = pm.Minibatch(X_data, y_data, batch_size=batch_size)
            obs_dims, total_size = None, len(y)
        # static feature/image sizes: conv2d reshapes need them under JAX
        x_in = pt.specify_shape(x_in, (None, *X.shape[1:]))
        out = forward(spec, x_in, {p.name: _variable(p) for p in params})
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


def _variable(param: Parameter) -> TensorVariable:
    """The PyMC variable of one network parameter (inside a model context) under its prior."""
    if param.kind == "weight":
        return _weights(param.prior, param.name, param.dims, layer=param.layer_index, fan_in=param.fan_in)
    return weight(param.prior, param.name, param.dims, layer=param.layer_index)


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


def _coords(spec: BNN, X: np.ndarray, params: tuple[Parameter, ...]) -> dict[str, range | list]:
    """Coords of the dims that ``X`` and the parameters use (a layer's own output dims are not stored)."""
    coords: dict[str, range | list] = {"obs": range(len(X))}
    coords.update({dim: range(n) for dim, n in zip(input_dims(X.shape[1:]), X.shape[1:], strict=True)})
    coords.update({dim: range(n) for p in params for dim, n in zip(p.dims, p.shape, strict=True)})
    coords.update(spec.likelihood_.coords(spec.output_units))
    hierarchical = sorted({p.layer_index for p in params if isinstance(p.prior, P.Hierarchical)})
    if hierarchical:
        coords["layer"] = hierarchical
    return coords
