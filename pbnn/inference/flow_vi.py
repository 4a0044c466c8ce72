"""``method="flow_vi"``: variational inference with a normalizing flow on the model's unconstrained space.

The approximation is numpyro's ``TransformedDistribution`` of a standard Gaussian ``eps ~ N(0, I_D)`` through
``layers`` autoregressive flow transforms (numpyro's, built as its ``AutoIAFNormal`` / ``AutoBNAFNormal`` build
them, the order reversed between layers) and a learned diagonal affine map last:

    theta = loc + scale * f_L(... f_1(eps)),   log q(theta) = log N(eps) - sum_l log|det J_l| - sum(log scale).

* ``flow="iaf"``: inverse autoregressive flows (``InverseAutoregressiveTransform`` on a MADE,
  ``numpyro.nn.AutoregressiveNN``, two hidden layers of ``hidden * D`` ELU units);
* ``flow="bnaf"``: block neural autoregressive flows (``BlockNeuralAutoregressiveTransform`` on
  ``numpyro.nn.BlockNeuralAutoregressiveNN``, two hidden layers of ``hidden`` units per dimension), each with a
  gated residual connection.

The start is ADVI's: ``loc`` the model's initial point, ``scale`` ``init_scale`` (0.1) and every flow the identity
(an IAF's output layer is zero; a BNAF's residual gate starts at :data:`BNAF_GATE_LOGIT`, the identity's weight
0.95), so the first steps are those of mean-field ADVI and the flows bend it as the ELBO asks. With
``warm_start`` (mean-field ADVI options, e.g. ``{"steps": 20000, "learning_rate": 0.003}``) a mean-field fit runs
first and its means and sds are ``loc`` and ``scale``: the flow starts where mean-field ADVI ends, so its ELBO
starts at mean field's and its own steps (at rates suited to the flow's networks) only have to bend it. The warm
start minibatches as the flow does unless told (its ``batch_size``); the progress bar counts its steps, then the
flow's, and Ctrl-C during it returns the flow at its start on the warm start's Gaussian so far. The negative ELBO
(Monte Carlo over ``mc_samples`` draws, the minibatch likelihood scaled by N/B, ``log q`` exact from the flow's
intermediates) is a loss of pbnn's optax loop, :func:`pbnn.inference.loop.run`. The draws are stored as ADVI's,
with the flow's exact ``log q`` of each in ``sample_stats.log_q`` (:func:`pbnn.elpd.vi_khat`).

Cost: a step runs the flow's networks on ``mc_samples`` draws. An IAF layer's weights number ~4 (hidden D)^2,
a BNAF layer's ~(hidden D)^2 and every BNAF step rescales all of them (weight normalisation). On 2 shared CPU
cores (``benchmarks/bench_flows.py``, 4 draws a step): moons' BNN (D = 40) 1.4 ms a step with IAF, 9.3 ms with
BNAF; the sine BNN (D = 482) ~100 ms with IAF and 1.4 s with BNAF (hidden 8). For posteriors of hundreds of
dimensions, use ``flow="iaf"``, and a lower ``learning_rate`` (0.001 on the sine: 0.005 diverged in quality).

Fitting takes seconds of compilation (tests/test_flow_vi.py runs it), so the suite skips this example:

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=100)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="flow_vi", steps=200, draws=100,
...                seed=0, progressbar=False)  # doctest: +SKIP
>>> flow_shape(482, "iaf")
FlowShape(dim=482, kind='iaf', layers=3, hidden=1)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pymc as pm
import xarray as xr

from pbnn.inference import logdensity, loop
from pbnn.inference.advi import DEFAULT_INIT_SCALE  # the affine map's initial sd, and the warm start's: ADVI's
from pbnn.inference.logdensity import LogDensity
from pbnn.inference.methods import EngineResult

__all__ = ["FLOWS", "FlowResult", "FlowShape", "fit_flow", "flow_shape", "run"]

#: The flow kinds and, for each, numpyro's autoguide defaults of ``layers`` and ``hidden`` (units per dimension).
FLOWS = {"iaf": {"layers": 3, "hidden": 1}, "bnaf": {"layers": 1, "hidden": 8}}
#: A BNAF layer's residual gate logit at the start: the flow's output is 0.05 f(x) + 0.95 x.
BNAF_GATE_LOGIT = float(np.log(0.05 / 0.95))


@dataclass(frozen=True)
class FlowShape:
    """What defines a flow of dimension ``dim``: its ``kind`` (a key of :data:`FLOWS`), ``layers`` and ``hidden``."""

    dim: int
    kind: str
    layers: int
    hidden: int

    @functools.cached_property
    def networks(self) -> list[tuple[Callable, Callable]]:
        """The stax ``(init_fun, apply_fun)`` of each layer's autoregressive network (numpyro.nn), built once: their
        masks are then constants of the compiled code, not operations in it."""
        from jax.example_libraries import stax
        from numpyro.nn import AutoregressiveNN, BlockNeuralAutoregressiveNN

        with jax.ensure_compile_time_eval():  # concrete masks, also when first asked for inside a traced loss
            if self.kind == "iaf":
                width = [self.hidden * self.dim] * 2
                return [AutoregressiveNN(self.dim, width, permutation=jnp.arange(self.dim), nonlinearity=stax.Elu)
                        for _ in range(self.layers)]
            return [BlockNeuralAutoregressiveNN(self.dim, [self.hidden] * 2, residual="gated")
                    for _ in range(self.layers)]

    def init(self, seed: int) -> list[Any]:
        """Each network's parameters (numpy, seeded), set so that its transform is (near) the identity.

        The draws follow numpyro's initialisers (Glorot for the weights), made here with numpy: numpyro's own
        ``init_fun`` of a BNAF layer fills its weight matrix block by block, and XLA takes 70 s to compile that at
        D = 40 (IAF's: 4 s). The structure is numpyro's (a test checks it against ``init_fun``)."""
        rng = np.random.default_rng(seed)
        return [self._iaf_init(rng) if self.kind == "iaf" else self._bnaf_init(rng) for _ in range(self.layers)]

    def _iaf_init(self, rng: np.random.Generator) -> list[Any]:
        """MADE ``[(W, b), (), (W, b), (), (W, b)]``: Glorot normal weights, N(0, 0.01) biases; the output layer
        (mean, log scale) zero, so that y = x."""
        sizes = [self.dim, self.hidden * self.dim, self.hidden * self.dim, 2 * self.dim]
        params: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i > 0:
                params.append(())  # the ELU between layers
            if i == len(sizes) - 2:
                params.append((np.zeros((n_in, n_out)), np.zeros(n_out)))
            else:
                params.append((rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), (n_in, n_out)),
                               rng.normal(0.0, 0.01, n_out)))
        return params

    def _bnaf_init(self, rng: np.random.Generator) -> list[Any]:
        """``[(), ([(W, ws, b), (), (W, ws, b), (), (W, ws, b)], ()), gate]``: block ``i`` of each weight matrix
        Glorot uniform over its ``(i + 1) * in`` rows (the rest unused: masked), ``ws = log U(0, 1)``, biases
        ``U(-1, 1) / sqrt(out)``; the residual gate's logit :data:`BNAF_GATE_LOGIT`."""
        d = self.dim
        factors = [1, self.hidden, self.hidden, 1]
        layers: list[Any] = []
        for i, (f_in, f_out) in enumerate(zip(factors[:-1], factors[1:])):
            if i > 0:
                layers.append(())  # the LeakyTanh between layers
            block = np.repeat(np.arange(d), f_out)  # the column block of every output unit
            fan_in = (block + 1) * f_in
            limit = np.sqrt(6.0 / (fan_in + f_out))
            rows_used = np.arange(d * f_in)[:, None] < fan_in[None, :]
            w = rng.uniform(-1.0, 1.0, (d * f_in, d * f_out)) * limit * rows_used
            ws = np.log(rng.uniform(0.0, 1.0, d * f_out))
            b = (rng.uniform(0.0, 1.0, d * f_out) - 0.5) * (2.0 / np.sqrt(d * f_out))
            layers.append((w, ws, b))
        return [(), (layers, ()), np.float64(BNAF_GATE_LOGIT)]

    def distribution(self, params: dict[str, Any]) -> Any:
        """numpyro's ``TransformedDistribution`` of ``params``: ``loc``, ``rho`` (scale ``softplus(rho)``) and
        ``flows``."""
        import numpyro.distributions as dist
        from numpyro.distributions.flows import BlockNeuralAutoregressiveTransform, InverseAutoregressiveTransform
        from numpyro.distributions.transforms import AffineTransform, PermuteTransform

        flow_type = InverseAutoregressiveTransform if self.kind == "iaf" else BlockNeuralAutoregressiveTransform
        reverse = jnp.arange(self.dim)[::-1]
        transforms = []
        for i, ((_, apply_fun), p) in enumerate(zip(self.networks, params["flows"])):
            if i > 0:
                transforms.append(PermuteTransform(reverse))
            transforms.append(flow_type(lambda x, apply_fun=apply_fun, p=p: apply_fun(p, x)))
        transforms.append(AffineTransform(params["loc"], jax.nn.softplus(params["rho"])))
        base = dist.Normal(jnp.zeros(self.dim, params["loc"].dtype), 1.0).to_event(1)
        return dist.TransformedDistribution(base, transforms)


def flow_shape(dim: int, flow: str = "iaf", layers: int | None = None, hidden: int | None = None) -> FlowShape:
    """The :class:`FlowShape` of the options (None: numpyro's autoguide default for the kind, :data:`FLOWS`)."""
    if flow not in FLOWS:
        raise ValueError(f"flow: unknown flow {flow!r}; expected one of {', '.join(FLOWS)}")
    if dim < 2:
        raise ValueError(f"flow_vi: an autoregressive flow needs at least 2 unconstrained dimensions, got {dim}; "
                         "use method='advi'")
    defaults = FLOWS[flow]
    return FlowShape(dim, flow, defaults["layers"] if layers is None else layers,
                     defaults["hidden"] if hidden is None else hidden)


def _sample(shape: FlowShape, params: dict[str, Any], key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """``n`` draws ``(n, D)`` of the flow and their exact ``log q`` ``(n,)`` (from the flow's intermediates)."""
    q = shape.distribution(params)
    z, intermediates = q.sample_with_intermediates(key, (n,))
    return z, q.log_prob(z, intermediates)


def _negative_elbo(fns: LogDensity, shape: FlowShape, *, batch_size: int | None, n_data: int, n_mc: int):
    """``loss(params, key, *full_data)``: minus the Monte Carlo ELBO of ``n_mc`` draws, likelihood scaled to N."""
    scale = 1.0 if batch_size is None else n_data / batch_size

    def loss(params: dict[str, Any], key: jax.Array, *full: jax.Array) -> jax.Array:
        k_eps, k_idx = jax.random.split(key)
        batch = logdensity.sample_batch(k_idx, full, batch_size)
        z, log_q = _sample(shape, params, k_eps, n_mc)
        log_p = jax.vmap(fns.logp, in_axes=(0, None, None, None))(z, full, batch, scale)
        return -jnp.mean(log_p - log_q)

    return loss


@dataclass
class FlowResult:
    """A fitted flow on the unconstrained space: ``params`` (``loc``, ``rho``, ``flows``), its ``shape``, and
    ``loop_result``, what :func:`pbnn.inference.loop.run` did (its ``status``, ``steps``, seconds; the parameters are
    the last finite ones). ``elbo``: the Monte Carlo ELBO of every step."""

    params: dict[str, Any]
    shape: FlowShape
    loop_result: loop.LoopResult
    setup_seconds: float = 0.0
    #: The warm start's mean-field ADVI steps done, and whether Ctrl-C ended it (the flow then took no step).
    warm_start_steps: int = 0
    warm_start_interrupted: bool = False
    _fns: LogDensity | None = field(default=None, repr=False, compare=False)

    @property
    def elbo(self) -> np.ndarray:
        return -np.asarray(self.loop_result.losses, dtype=np.float64)

    def distribution(self) -> Any:
        """The fitted numpyro ``TransformedDistribution``."""
        return self.shape.distribution(jax.tree.map(jnp.asarray, self.params))

    def sample(self, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``draws`` unconstrained draws ``(draws, D)`` and their exact ``log q`` ``(draws,)``."""
        fn = jax.jit(lambda p, key: _sample(self.shape, p, key, draws))
        z, log_q = fn(jax.tree.map(jnp.asarray, self.params), jax.random.key(seed))
        return np.asarray(z), np.asarray(log_q)

    def constrain(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained draws ``(n, D)`` -> the free RVs' values (PyMC's backward transforms)."""
        return dict(zip(self._fns.rv_names, self._fns.constrain_batch(flat)))


def fit_flow(
    model: pm.Model,
    *,
    steps: int,
    flow: str = "iaf",
    layers: int | None = None,
    hidden: int | None = None,
    batch_size: int | None = None,
    data_names: Sequence[str] = ("X", "target"),
    learning_rate: float = 0.005,
    final_learning_rate: float | None = None,
    optimizer: optax.GradientTransformation | None = None,
    seed: int = 0,
    n_mc: int = 1,
    init_scale: float = DEFAULT_INIT_SCALE,
    chunk_size: int = 1000,
    callback: Callable[[int, np.ndarray], None] | None = None,
    device: str | None = None,
    warm_start: Mapping[str, Any] | None = None,
) -> FlowResult:
    """Fit a flow (see the module doc) to ``model``'s posterior on its unconstrained space with
    :func:`pbnn.inference.loop.run`; ``data_names``, ``batch_size``, the rates, ``optimizer``, ``callback`` and
    ``device`` as :func:`pbnn.inference.jax_advi.fit_advi`; ``warm_start``: the options of a mean-field
    :func:`~pbnn.inference.jax_advi.fit_advi` whose means and sds start the affine map (``init_scale`` then unused).
    The warm start minibatches as the flow does unless its options say ``batch_size``, and ``callback`` sees its
    steps first: ``done`` counts the warm start's steps, then theirs plus the flow's.
    A diverged or interrupted flow loop is not raised: its ``status`` is in ``result.loop_result``
    (:func:`pbnn.inference.loop.outcome` reads it); a diverged warm start raises ``FloatingPointError`` naming
    ``warm_start``. Ctrl-C during the warm start returns the flow at its start, on the warm start's Gaussian so far
    (``warm_start_interrupted``; no flow step), or re-raises before its first step."""
    t_setup = time.perf_counter()
    optimizer_key = loop.optimizer_key(optimizer, learning_rate, final_learning_rate, steps=steps)
    optimizer = loop.optimizer_from(optimizer, learning_rate, final_learning_rate, steps=steps)
    data_names = tuple(data_names)
    full = logdensity.data_arrays(model, data_names)
    n_data = full[0].shape[0] if full else 0
    if batch_size is not None and batch_size >= n_data:
        batch_size = None  # the full batch is cheaper and exact
    fns = logdensity.log_density(model, data_names)
    loc = fns.flatten(logdensity.initial_point(model, seed=seed))
    shape = flow_shape(loc.size, flow, layers, hidden)
    net_seed, loop_seed, warm_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    scale = np.full(loc.size, init_scale)
    warm_steps, interrupted = 0, False
    if warm_start:
        warm = {"batch_size": batch_size, **warm_start}
        loc, scale, warm_steps, interrupted = _warm_start(model, data_names, warm, seed=warm_seed, device=device,
                                                          callback=callback)
    params0 = {"loc": loc, "rho": np.log(np.expm1(scale)), "flows": shape.init(net_seed)}
    loss = _negative_elbo(fns, shape, batch_size=batch_size, n_data=n_data, n_mc=n_mc)
    setup_seconds = time.perf_counter() - t_setup
    if interrupted:
        out = loop.LoopResult(params=params0, losses=np.empty(0), steps=0, status="interrupted", compile_seconds=0.0,
                              run_seconds=0.0)
        return FlowResult(params=params0, shape=shape, loop_result=out, setup_seconds=setup_seconds,
                          warm_start_steps=warm_steps, warm_start_interrupted=True, _fns=fns)
    key = ("flow_vi", logdensity.structure_key(model, data_names), shape, batch_size, n_data, n_mc, optimizer_key)
    out = loop.run(loss, params0, steps=steps, optimizer=optimizer, seed=loop_seed, data=full, chunk_size=chunk_size,
                   callback=None if callback is None else lambda done, losses: callback(warm_steps + done, -losses),
                   device=device, cache=logdensity.model_cache(model), cache_key=key)
    return FlowResult(params=out.params, shape=shape, loop_result=out, setup_seconds=setup_seconds,
                      warm_start_steps=warm_steps, _fns=fns)


def _warm_start(model: pm.Model, data_names: tuple[str, ...], options: dict[str, Any], *, seed: int,
                device: str | None, callback: Callable[[int, np.ndarray], None] | None = None,
                ) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """The means and sds ``(D,)``, ``(D,)`` of a mean-field ADVI fit with ``options`` (``mc_samples`` as ``n_mc``),
    its steps done, and whether Ctrl-C ended it (after a first step; before it, ``KeyboardInterrupt`` propagates)."""
    from pbnn.inference.jax_advi import fit_advi

    options = {"n_mc" if k == "mc_samples" else k: v for k, v in options.items()}
    options["init_scale"] = options.get("init_scale") or DEFAULT_INIT_SCALE
    try:
        result = fit_advi(model, data_names=data_names, seed=seed, device=device, callback=callback, **options)
    except FloatingPointError as err:
        raise FloatingPointError(f"warm_start: the mean-field ADVI fit diverged at step {err.result.steps + 1} of "
                                 f"{options['steps']} (learning_rate={options.get('learning_rate', 0.01)}); try a "
                                 "lower learning_rate in warm_start") from None
    except KeyboardInterrupt as interrupt:
        partial = getattr(interrupt, "result", None)
        if partial is None or partial.steps == 0:
            raise
        return partial.mean, partial.scale, partial.steps, True
    return result.mean, result.scale, result.steps, False


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, flow: str = "iaf", layers: int | None = None,
        hidden: int | None = None, steps: int = 10_000, batch_size: int | None = None, learning_rate: float = 0.005,
        final_learning_rate: float | None = None, mc_samples: int = 1, draws: int = 1000,
        init_scale: float | None = None, warm_start: dict[str, Any] | None = None, device: str | None = None,
        optimizer: optax.GradientTransformation | None = None) -> EngineResult:
    """The ``flow_vi`` engine of :func:`pbnn.fit`: :func:`fit_flow`, then ``draws`` draws with their ``log q``;
    ``sample_stats`` holds ``log_q`` per draw and the ELBO of every step (``elbo``)."""
    from pbnn.inference import draws_to_posterior
    from pbnn.inference.progress import progress_bar

    fit_seed, sample_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    warm_steps = int(warm_start["steps"]) if warm_start else 0
    with progress_bar(progressbar, warm_steps + steps, label="flow VI", value_name="ELBO") as advance:
        result = fit_flow(model, steps=steps, flow=flow, layers=layers, hidden=hidden, batch_size=batch_size,
                          learning_rate=learning_rate, final_learning_rate=final_learning_rate, optimizer=optimizer,
                          seed=fit_seed, n_mc=mc_samples, init_scale=init_scale or DEFAULT_INIT_SCALE,
                          warm_start=warm_start, device=device, callback=lambda done, elbo: advance(done, elbo))
    if result.warm_start_interrupted:
        fault, message = "interrupted", (
            f"flow VI interrupted in its warm start after {result.warm_start_steps} of {warm_steps} mean-field ADVI "
            "steps: returning the flow at its start (the warm start's Gaussian so far), without a flow step")
    else:
        fault, message = loop.outcome(result.loop_result, label="flow VI", steps=steps,
                                      learning_rate=None if optimizer is not None else learning_rate)
    flat, log_q = result.sample(draws, sample_seed)
    posterior = draws_to_posterior(model, {k: v[None] for k, v in result.constrain(flat).items()})
    elbo = result.elbo
    stats = xr.Dataset({"log_q": (("chain", "draw"), log_q[None]), "elbo": ("step", elbo)},
                       coords={"chain": [0], "draw": np.arange(draws), "step": np.arange(1, len(elbo) + 1)})
    out = result.loop_result  # the cost of a step: the loop's seconds (compilation apart) over its steps
    stats.attrs.update(pbnn_compile_seconds=float(result.setup_seconds + out.compile_seconds),
                       pbnn_run_seconds=float(out.run_seconds))
    return EngineResult(posterior, stats, fault, message)
