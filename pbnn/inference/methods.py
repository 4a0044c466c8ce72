"""The methods of :func:`pbnn.fit`: one registry entry each, with its options and what its draws mean.

A method is a :class:`Method`: a name, a one-line summary, a frozen options dataclass (every field with its
default, its check and its doc) and its :class:`Capabilities`. :func:`pbnn.fit`, the CLI (``--set`` and
``pbnn fit --help``), the scikit-learn estimators, the compare report, the diagnostics and the README's
table all read this registry, so a method's facts live here once. This module imports nothing heavy: the
engine of a method is named by its import path and loaded when the method runs.

>>> from pbnn.inference.methods import get_method
>>> opts = get_method("advi").resolve({"steps": 500})
>>> opts.steps, opts.learning_rate
(500, 0.01)
>>> get_method("nuts").resolve({"target_accept": "0.9"})
Traceback (most recent call last):
...
ValueError: target_accept: expected a number in (0, 1), got '0.9'
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

Check = Callable[[str, Any], Any]


# -- checks: each returns the value in its canonical type or raises naming the option and the expected form --


def _got(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {_got(value)}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {_got(value)}")
    return int(value)


def positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive number, got {_got(value)}")
    return float(value)


def open_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1), got {_got(value)}")
    return float(value)


def decay_exponent(name: str, value: Any) -> float:
    """Welling & Teh's ``gamma`` in (0.5, 1]: the step sizes sum to infinity and their squares do not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.5 < value <= 1:
        raise ValueError(f"{name}: expected a number in (0.5, 1], got {_got(value)}")
    return float(value)


def probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a probability in [0, 1), got {_got(value)}")
    return float(value)


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: expected a name (a non-empty str), got {_got(value)}")
    return value


def optional(check: Check) -> Check:
    """``check``, or None left as it is."""

    def run(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return run


def one_of(*choices: str, what: str | None = None) -> Check:
    """One of the strings ``choices``; the error calls the value an unknown ``what`` (default: the option's name)."""

    def run(name: str, value: Any) -> Any:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name}: unknown {what or name} {value!r}; expected one of {', '.join(choices)}")
        return value

    run.choices = choices  # type: ignore[attr-defined]
    return run


#: The options of mean-field ADVI that a flow's warm start takes (:class:`FlowOptions`' ``warm_start``).
WARM_START_OPTIONS = ("steps", "batch_size", "learning_rate", "final_learning_rate", "mc_samples", "init_scale")


def warm_start_options(name: str, value: Any) -> dict[str, Any]:
    """A mapping of mean-field ADVI options (:data:`WARM_START_OPTIONS`), checked by ``advi``'s own checks; the
    resolved options, ADVI's defaults included (its ``steps`` must be given), except ``batch_size``: the flow's
    unless given."""
    if not isinstance(value, Mapping) or "steps" not in value:
        raise ValueError(f"{name}: expected a mapping of mean-field ADVI options with steps, e.g. "
                         f"{{'steps': 20000, 'learning_rate': 0.003}}, got {_got(value)}")
    unknown = sorted(set(value) - set(WARM_START_OPTIONS))
    if unknown:
        raise ValueError(f"{name}: {', '.join(unknown)}: not an option of the warm start; it takes "
                         f"{', '.join(WARM_START_OPTIONS)}")
    try:
        resolved = get_method("advi").resolve(dict(value)).to_dict()
    except ValueError as err:
        raise ValueError(f"{name}.{err}") from None
    return {k: resolved[k] for k in WARM_START_OPTIONS if k != "batch_size" or k in value}


def device(name: str, value: Any) -> str | None:
    """None (JAX's default device), ``"cpu"`` or ``"gpu"``."""
    from pbnn.devices import check_device  # light: imports JAX only to find a device

    return check_device(value)


def optax_optimizer(name: str, value: Any) -> Any:
    """An ``optax.GradientTransformation`` (e.g. ``optax.adam(0.01)``)."""
    import optax  # only when one is given

    if not isinstance(value, optax.GradientTransformation):
        raise TypeError(f"{name}: expected an optax.GradientTransformation (e.g. optax.adam(0.01)), "
                        f"got {type(value).__name__}")
    return value


def option(default: Any, doc: str, check: Check) -> Any:
    """A field of an options dataclass: its default, its one-line doc and its check."""
    return field(default=default, metadata={"doc": doc, "check": check})


#: The options that choose where many fits of one method run (``ensemble``'s members, SG-MCMC's chains).
PARALLEL_OPTIONS = ("parallel", "workers", "ray_address")


def parallel_option(what: str) -> Any:
    """The ``parallel`` field: ``what`` run here, or one Ray task each (:mod:`pbnn.parallel`)."""
    return option("serial", f"'serial' ({what}) or 'ray' (one Ray task each, the same numbers; pbnn.parallel)",
                  one_of("serial", "ray", what="parallel backend"))


def workers_option() -> Any:
    return option(None, "CPUs of the local Ray that parallel='ray' starts (None: all cores)", optional(positive_int))


def ray_address_option() -> Any:
    return option(None, "the Ray cluster of parallel='ray' (None: $PBNN_RAY_ADDRESS, else a local Ray)",
                  optional(text))


def check_parallel(options: Options) -> None:
    """``workers`` and ``ray_address`` only with ``parallel='ray'``, which needs Ray installed."""
    if options.parallel == "serial":
        for name in PARALLEL_OPTIONS[1:]:
            if getattr(options, name) is not None:
                raise ValueError(f"{name}: an option of parallel='ray', got parallel='serial'")
    else:
        from pbnn.parallel import require_ray  # light: looks Ray up without importing it

        require_ray()


# -- options ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Base of the methods' options: runs every field's check (and :meth:`check`) on construction."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, f.metadata["check"](f.name, getattr(self, f.name)))
        self.check()

    def check(self) -> None:
        """Checks across fields (override)."""

    def to_dict(self) -> dict[str, Any]:
        """The resolved options, defaults included, as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(name, default, doc) of every option, in declaration order."""
        return [(f.name, _show(f.default), f.metadata["doc"]) for f in dataclasses.fields(cls)]


def _show(value: Any) -> str:
    return "None" if value is None else f"{value:_}" if isinstance(value, int) and value >= 10_000 else str(value)


#: NUTS samplers (numpyro's in pbnn's chunks, the others through ``pm.sample``): the packages each needs and the pbnn
#: extra that installs them.
SAMPLERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "pymc": ((), None),
    "nutpie": (("nutpie",), "nutpie"),
    "numpyro": (("jax", "numpyro"), "jax"),
    "blackjax": (("jax", "blackjax"), "jax"),
}
JAX_SAMPLERS = ("numpyro", "blackjax")
#: Estimators of mean-field ADVI's ELBO gradient (:mod:`pbnn.inference.estimators`); the first is the default.
ESTIMATORS = ("reparam", "local", "flipout")
#: The flows of ``flow_vi`` (:data:`pbnn.inference.flow_vi.FLOWS` holds their defaults).
FLOW_KINDS = ("iaf", "bnaf")
#: PyTensor compile modes a method may be compiled with.
BACKENDS = ("numba", "c", "jax")


@dataclass(frozen=True)
class ADVIOptions(Options):
    """Options of ``advi`` (mean-field) and ``fullrank_advi`` (a Gaussian on the unconstrained space)."""

    steps: int = option(30_000, "optimisation steps", positive_int)
    batch_size: int | None = option(None, "minibatch size (None: the full data every step)", optional(positive_int))
    learning_rate: float = option(0.01, "Adam's learning rate (at the first step)", positive_number)
    final_learning_rate: float | None = option(
        None, "None: a constant rate; else a geometric decay to it at the last step", optional(positive_number))
    mc_samples: int = option(1, "Monte Carlo draws of the ELBO gradient per step", positive_int)
    draws: int = option(1000, "draws from the fitted approximation", positive_int)
    init_scale: float | None = option(
        None, "initial sd of the approximation (None: 0.1; PyMC's own for engine='pymc' full rank)",
        optional(positive_number))
    engine: str = option("auto", "'auto' (the compiled JAX loop), 'jax', or 'pymc' (pm.fit, the reference path)",
                         one_of("auto", "jax", "pymc", what="ADVI engine"))
    backend: str = option("jax", "PyTensor backend of engine='pymc'", one_of(*BACKENDS))
    device: str | None = option(None, "JAX device: None (JAX's default), 'cpu', 'gpu'", device)
    optimizer: Any = option(None, "an optax optimizer instead of Adam at the two rates (None: Adam; JAX engine)",
                            optional(optax_optimizer))
    estimator: str = option(
        "reparam", "the ELBO gradient's estimator: 'reparam' (one draw of every parameter), 'local' (local "
        "reparameterization, Dense layers) or 'flipout' (Dense and Conv2D); mean-field, JAX engine",
        one_of(*ESTIMATORS, what="estimator"))

    def check(self) -> None:
        if self.engine == "pymc" and self.estimator != "reparam":
            raise ValueError(f"estimator: '{self.estimator}' runs on the JAX engine; engine='pymc' runs pm.fit's "
                             "reparameterization")
        if self.engine == "pymc" and self.device is not None:
            raise ValueError("device: only the JAX engine runs on a chosen device; engine='pymc' runs on the CPU")
        if self.engine == "pymc" and self.optimizer is not None:
            raise ValueError("optimizer: an optax optimizer runs on the JAX engine; engine='pymc' runs pm.fit's Adam")


@dataclass(frozen=True)
class FullRankOptions(ADVIOptions):
    """Options of ``fullrank_advi``; see :class:`ADVIOptions`."""

    def check(self) -> None:
        super().check()
        if self.estimator != "reparam":
            raise ValueError(f"estimator: '{self.estimator}' draws the weights independently, which needs the "
                             "mean-field approximation (method='advi'); fullrank_advi takes 'reparam'")
        if self.engine == "pymc" and self.init_scale is not None:
            raise ValueError("init_scale: PyMC's full-rank ADVI (engine='pymc') has no initial scale; use engine='jax'")


@dataclass(frozen=True)
class FlowOptions(Options):
    """Options of ``flow_vi`` (a normalizing flow on the unconstrained space; :mod:`pbnn.inference.flow_vi`)."""

    flow: str = option("iaf", "'iaf' (inverse autoregressive) or 'bnaf' (block neural autoregressive), numpyro's",
                       one_of(*FLOW_KINDS, what="flow"))
    layers: int | None = option(None, "flow transforms (None: 3 for iaf, 1 for bnaf, numpyro's autoguide defaults)",
                                optional(positive_int))
    hidden: int | None = option(None, "hidden units per dimension in each of a flow network's 2 hidden layers "
                                "(None: 1 for iaf, 8 for bnaf)", optional(positive_int))
    steps: int = option(10_000, "optimisation steps", positive_int)
    batch_size: int | None = option(None, "minibatch size (None: the full data every step)", optional(positive_int))
    learning_rate: float = option(0.005, "Adam's learning rate (at the first step)", positive_number)
    final_learning_rate: float | None = option(
        None, "None: a constant rate; else a geometric decay to it at the last step", optional(positive_number))
    mc_samples: int = option(1, "Monte Carlo draws of the ELBO gradient per step", positive_int)
    draws: int = option(1000, "draws from the fitted flow", positive_int)
    init_scale: float | None = option(None, "initial sd of the flow's diagonal affine map (None: 0.1, as ADVI's)",
                                      optional(positive_number))
    warm_start: dict[str, Any] | None = option(
        None, "mean-field ADVI options (e.g. {'steps': 20000, 'learning_rate': 0.003}) of a fit whose means and sds "
        "start the flow's affine map (None: the model's initial point and init_scale); its batch_size is the flow's unless "
        "given",
        optional(warm_start_options))
    device: str | None = option(None, "JAX device: None (JAX's default), 'cpu', 'gpu'", device)
    optimizer: Any = option(None, "an optax optimizer instead of Adam at the two rates (None: Adam)",
                            optional(optax_optimizer))


@dataclass(frozen=True)
class NUTSOptions(Options):
    """Options of ``nuts`` (numpyro's kernel in :mod:`pbnn.inference.chunked_nuts`, else ``pm.sample``)."""

    sampler: str = option("pymc", "'pymc', 'nutpie', 'numpyro' or 'blackjax'", one_of(*SAMPLERS, what="sampler"))
    draws: int = option(1000, "draws per chain after tuning", positive_int)
    tune: int = option(1000, "tuning steps per chain", positive_int)
    chains: int = option(4, "chains", positive_int)
    target_accept: float = option(0.9, "target acceptance rate of the step size adaptation", open_unit)
    backend: str = option("numba", "PyTensor backend of sampler='pymc'", one_of(*BACKENDS))
    device: str | None = option(None, "JAX device of numpyro/blackjax (numpyro: chains in turn; blackjax: vectorized)",
                                device)

    def check(self) -> None:
        if self.device is not None and self.sampler not in JAX_SAMPLERS:
            raise ValueError(f"device: only the JAX samplers ({', '.join(JAX_SAMPLERS)}) run on a chosen device; "
                             f"sampler '{self.sampler}' runs on the CPU")


@dataclass(frozen=True)
class MAPOptions(Options):
    """Options of ``map`` (Adam on the log posterior density)."""

    steps: int = option(5000, "optimisation steps", positive_int)
    learning_rate: float = option(0.01, "Adam's learning rate (at the first step)", positive_number)
    final_learning_rate: float | None = option(
        None, "None: a constant rate; else a geometric decay to it at the last step", optional(positive_number))
    batch_size: int | None = option(None, "minibatch size (None: the full data every step)", optional(positive_int))
    optimizer: Any = option(None, "an optax optimizer instead of Adam at the two rates (None: Adam)",
                            optional(optax_optimizer))


@dataclass(frozen=True)
class SWAGOptions(Options):
    """Options of ``swag`` (Maddox et al.'s SWA-Gaussian of SGD iterates; :mod:`pbnn.inference.swag`)."""

    steps: int = option(5000, "SGD steps, the burn-in included", positive_int)
    burn_in: int = option(2500, "steps before the first collected iterate (the rate decays over them)",
                          non_negative_int)
    collect_every: int = option(25, "steps between collected iterates", positive_int)
    rank: int = option(20, "rank K of the covariance's low-rank part (the last K deviations; at least 2)",
                       positive_int)
    learning_rate: float = option(0.05, "SGD's rate (momentum 0.9, mean loss per point) in the first half of "
                                  "the burn-in", positive_number)
    swa_learning_rate: float = option(0.01, "SGD's constant rate while collecting (reached at 90% of the burn-in)",
                                      positive_number)
    batch_size: int | None = option(32, "minibatch size (None: the full data, which leaves SGD no noise to "
                                    "measure)", optional(positive_int))
    draws: int = option(100, "draws from the SWAG Gaussian", positive_int)
    optimizer: Any = option(None, "an optax optimizer instead of SGD at the two rates (None: SGD)",
                            optional(optax_optimizer))

    def check(self) -> None:
        if self.rank < 2:
            raise ValueError(f"rank: expected an integer >= 2 (the covariance divides by rank - 1), got {self.rank}")
        collected = max(0, self.steps - self.burn_in) // self.collect_every
        if collected < self.rank:
            raise ValueError(f"steps: SWAG collects (steps - burn_in) // collect_every = {collected} iterates, fewer "
                             f"than rank {self.rank}; raise steps, or lower burn_in, collect_every or rank")


#: The methods an ensemble's members may use (``member``).
ENSEMBLE_MEMBERS = ("map", "advi", "swag")
#: Draws per member when ``draws`` is None: a MAP member is one draw.
MEMBER_DRAWS = {"map": 1, "advi": 100, "swag": 100}
#: Options of ``ensemble`` that only SWAG members take.
SWAG_ONLY = ("burn_in", "collect_every", "rank", "swa_learning_rate")


@dataclass(frozen=True)
class EnsembleOptions(Options):
    """Options of ``ensemble`` (deep ensembles; :mod:`pbnn.inference.ensemble`). None: the member method's
    default; the member's options are checked by that method (:meth:`member_options`)."""

    members: int = option(5, "independently initialised fits (each its own seed)", positive_int)
    member: str = option("map", "the method of each member: 'map', 'advi' or 'swag' (MultiSWAG)",
                         one_of(*ENSEMBLE_MEMBERS, what="ensemble member"))
    steps: int | None = option(None, "optimisation steps of each member (None: the member method's default)",
                               optional(positive_int))
    learning_rate: float | None = option(None, "learning rate of each member (None: the member method's default)",
                                         optional(positive_number))
    final_learning_rate: float | None = option(
        None, "each member's rate at its last step, decaying geometrically (None: the member method's default; "
        "map and advi members)", optional(positive_number))
    batch_size: int | None = option(None, "minibatch size (None: the member method's default; swag's is 32)",
                                    optional(positive_int))
    draws: int | None = option(None, "draws per member (None: 1 for map, 100 for advi and swag; map: 1 only)",
                               optional(positive_int))
    burn_in: int | None = option(None, "swag members' burn-in (None: swag's default)", optional(non_negative_int))
    collect_every: int | None = option(None, "swag members' collect_every (None: swag's default)",
                                       optional(positive_int))
    rank: int | None = option(None, "swag members' rank (None: swag's default)", optional(positive_int))
    swa_learning_rate: float | None = option(None, "swag members' swa_learning_rate (None: swag's default)",
                                             optional(positive_number))
    optimizer: Any = option(None, "an optax optimizer for every member (None: the member method's)",
                            optional(optax_optimizer))
    parallel: str = parallel_option("the members in turn")
    workers: int | None = workers_option()
    ray_address: str | None = ray_address_option()

    def check(self) -> None:
        check_parallel(self)
        if self.member == "map" and self.draws not in (None, 1):
            raise ValueError(f"draws: a map member is one draw; draws applies to advi and swag members, got "
                             f"{self.draws}")
        for name in SWAG_ONLY:
            if self.member != "swag" and getattr(self, name) is not None:
                raise ValueError(f"{name}: an option of swag members (member='swag'), got member='{self.member}'")
        self.member_options()

    def member_options(self) -> Options:
        """The options of each member, checked by the member's method."""
        own = ("members", "member", "draws", *PARALLEL_OPTIONS)
        given = {k: v for k, v in self.to_dict().items() if k not in own and v is not None}
        if self.member != "map":
            given["draws"] = self.draws or MEMBER_DRAWS[self.member]
        return get_method(self.member).resolve(given)


@dataclass(frozen=True)
class DropoutOptions(Options):
    """Options of ``mc_dropout`` (Gal & Ghahramani's Monte Carlo dropout)."""

    dropout: float = option(0.1, "drop probability of the hidden units", probability)
    input_dropout: float = option(0.0, "drop probability of the inputs", probability)
    steps: int = option(5000, "optimisation steps", positive_int)
    learning_rate: float = option(0.005, "Adam's learning rate", positive_number)
    batch_size: int | None = option(None, "minibatch size (None: the full data every step)", optional(positive_int))
    draws: int = option(1000, "dropout masks (stochastic forward passes) kept as draws", positive_int)
    optimizer: Any = option(None, "an optax optimizer instead of Adam at learning_rate (None: Adam)",
                            optional(optax_optimizer))


@dataclass(frozen=True)
class LaplaceOptions(Options):
    """Options of ``laplace`` (pymc-extras' ``fit_laplace``)."""

    draws: int = option(1000, "draws from the Gaussian at the mode", positive_int)
    optimize_method: str = option("BFGS", "scipy.optimize method that finds the mode",
                                  text)
    backend: str = option("auto", "'auto' (JAX), 'jax' or 'numba'", one_of("auto", "jax", "numba"))


@dataclass(frozen=True)
class PathfinderOptions(Options):
    """Options of ``pathfinder`` (pymc-extras' multi-path Pathfinder)."""

    draws: int = option(1000, "draws kept after importance resampling", positive_int)
    num_paths: int = option(4, "quasi-Newton paths", positive_int)
    backend: str = option("numba", "PyTensor backend: 'numba', 'c', or 'python' (PyTensor's Python VM, nothing "
                          "compiled: seconds on a cold cache for a small network, slower per step; Pathfinder does "
                          "not compile with JAX)", one_of("numba", "c", "python"))


#: Step-size schedules of the SG-MCMC methods (:func:`pbnn.inference.sgmcmc.step_size_schedule`).
SCHEDULES = ("constant", "polynomial", "cyclical")


@dataclass(frozen=True)
class SGLDOptions(Options):
    """Options of ``sgld`` (blackjax's stochastic-gradient Langevin dynamics; :mod:`pbnn.inference.sgmcmc`)."""

    draws: int = option(1000, "draws kept per chain", positive_int)
    burn_in: int = option(5000, "steps per chain before the first kept draw", non_negative_int)
    thin: int = option(50, "steps per kept draw", positive_int)
    chains: int = option(4, "chains (run together, vmapped; one Ray task each with parallel='ray')", positive_int)
    batch_size: int | None = option(32, "minibatch size, at most the data's (None: the full data every step)",
                                    optional(positive_int))
    step_size: float = option(5e-4, "step size h at step 0: z += h grad + sqrt(2h) noise (Welling & Teh's "
                              "epsilon is 2h)", positive_number)
    schedule: str = option("constant", "step sizes: 'constant', 'polynomial' (h (1 + t/decay_steps)^-gamma) or "
                           "'cyclical' (cycles cosine restarts)", one_of(*SCHEDULES, what="step-size schedule"))
    gamma: float = option(0.55, "exponent of the polynomial decay, in (0.5, 1]", decay_exponent)
    decay_steps: float = option(1000.0, "b of the polynomial decay (the step size is h / 2^gamma at step b)",
                                positive_number)
    cycles: int = option(4, "cycles of the cyclical schedule over all the steps", positive_int)
    temperature: float = option(1.0, "temperature T of the noise (1: the posterior; < 1: a colder, sharper one)",
                                positive_number)
    device: str | None = option(None, "JAX device: None (JAX's default), 'cpu', 'gpu'", device)
    parallel: str = parallel_option("the chains vmapped together")
    workers: int | None = workers_option()
    ray_address: str | None = ray_address_option()

    @property
    def total_steps(self) -> int:
        """Steps per chain: ``burn_in + draws * thin``."""
        return self.burn_in + self.draws * self.thin

    def check(self) -> None:
        check_parallel(self)
        if self.schedule == "cyclical" and self.cycles > self.total_steps:
            raise ValueError(f"cycles: expected at most the {self.total_steps} steps per chain "
                             f"(burn_in + draws * thin), got {self.cycles}")


@dataclass(frozen=True)
class SGHMCOptions(SGLDOptions):
    """Options of ``sghmc`` (blackjax's stochastic-gradient HMC solver): those of ``sgld`` and the friction."""

    step_size: float = option(0.01, "step size h at step 0: z += h p; p += h grad - alpha h p + sqrt(2 alpha h) "
                              "noise", positive_number)
    alpha: float = option(20.0, "friction (at high friction SGHMC is SGLD of step size h / alpha)", positive_number)

    def check(self) -> None:
        super().check()
        if self.alpha * self.step_size >= 1:
            raise ValueError(f"alpha: expected alpha * step_size < 1 (the momentum's decay per step), got "
                             f"{self.alpha:g} * {self.step_size:g}")


# -- methods ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What a method's draws and statistics mean.

    ``chains``: draws form Markov chains (r_hat and ESS apply); ``point``: one draw, no epistemic spread;
    ``objective``: the per-step statistic in ``optimizer_stats`` (``"elbo"``, ``"lp"``, ``"loss"``) or None;
    ``minibatch``: takes ``batch_size``; ``reference``: the gold standard other methods are compared with;
    ``extra``: the pbnn extra whose packages it needs, if any; ``reuses_model``: the engine leaves the model as
    it found it, so :func:`pbnn.fit` keeps it, with what was compiled for it, for the next fit of the same spec
    and data shapes; ``members``: chain ``m`` holds member ``m`` of an ensemble, an independent fit (not a
    Markov chain: no r_hat; :func:`pbnn.diagnose` shows the spread between members).
    """

    chains: bool = False
    point: bool = False
    objective: str | None = None
    minibatch: bool = False
    reference: bool = False
    extra: str | None = None
    reuses_model: bool = False
    members: bool = False


@dataclass(frozen=True)
class Method:
    """A method of :func:`pbnn.fit`: ``engine`` is ``"module:function"``, called as
    ``function(spec, model, X, y, *, seed, progressbar, **options)``."""

    name: str
    summary: str
    options: type[Options]
    engine: str
    capabilities: Capabilities = Capabilities()

    def resolve(self, given: Mapping[str, Any] | Options | None = None) -> Options:
        """The options dataclass from ``given`` (names checked, defaults filled in, values checked)."""
        if isinstance(given, self.options):
            return given
        given = dict(given or {})
        known = [f.name for f in dataclasses.fields(self.options)]
        for name in given:
            if name not in known:
                raise TypeError(f"{name}: not an option of method '{self.name}'; its options are {', '.join(known)}")
        return self.options(**given)

    def load(self) -> Callable[..., Any]:
        """The engine function (imported on first use)."""
        module, _, function = self.engine.partition(":")
        return getattr(importlib.import_module(module), function)

    def help(self) -> str:
        """The method and its options as indented lines (``pbnn fit --help``)."""
        lines = [f"{self.name}: {self.summary}"]
        lines += [f"    {name} [{default}]: {doc}" for name, default, doc in self.options.describe()]
        return "\n".join(lines)


@dataclass
class EngineResult:
    """What an engine hands back to :func:`pbnn.fit`.

    ``posterior`` (chain, draw, ...) of the free variables and ``sample_stats``; ``fault`` is None for a
    complete run, ``"diverged"`` (``message`` says where and what to try; the posterior holds draws from
    the last finite state) or ``"interrupted"`` (the steps done before Ctrl-C).
    """

    posterior: xr.Dataset
    sample_stats: xr.Dataset
    fault: str | None = None
    message: str = ""

    FAULTS: ClassVar[tuple[str | None, ...]] = (None, "diverged", "interrupted")

    def __post_init__(self) -> None:
        if self.fault not in self.FAULTS:
            raise ValueError(f"fault: expected one of {self.FAULTS}, got {self.fault!r}")


#: Method name -> :class:`Method`, in the order the docs list them.
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (a name may be registered once)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered already")
    METHODS[method.name] = method
    return method


def get_method(name: Any) -> Method:
    """The method called ``name``, with an error that lists the registered ones."""
    if not isinstance(name, str):
        raise TypeError(f"method: expected a method name (a str), got {type(name).__name__} {name!r}")
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"method: unknown method {name!r}; expected one of {', '.join(METHODS)}") from None


def names(**capabilities: Any) -> list[str]:
    """Names of the methods whose capabilities match, e.g. ``names(chains=True)``."""
    return [m.name for m in METHODS.values()
            if all(getattr(m.capabilities, k) == v for k, v in capabilities.items())]


def reference() -> str:
    """The method other methods are compared against (``nuts``)."""
    return names(reference=True)[0]


def help_text() -> str:
    """Every method with its options, for ``pbnn fit --help``."""
    return "\n".join(m.help() for m in METHODS.values())


def markdown_table() -> str:
    """The README's table of methods and options (a test keeps the README in step with it)."""
    rows = ["| method | what it is | options [defaults] |", "|---|---|---|"]
    for m in METHODS.values():
        opts = ", ".join(f"`{name}` [{default}]" for name, default, _ in m.options.describe())
        rows.append(f"| `{m.name}` | {m.summary} | {opts} |")
    return "\n".join(rows)


_ENGINES = "pbnn.inference"
register(Method("advi", "mean-field Gaussian ADVI, full batch or minibatch", ADVIOptions,
                f"{_ENGINES}.advi:run_meanfield", Capabilities(objective="elbo", minibatch=True, reuses_model=True)))
register(Method("fullrank_advi", "full-rank Gaussian ADVI (wants mc_samples=16 and a decaying rate)",
                FullRankOptions, f"{_ENGINES}.advi:run_fullrank",
                Capabilities(objective="elbo", minibatch=True, reuses_model=True)))
register(Method("flow_vi", "a normalizing flow (numpyro's IAF or BNAF) on the unconstrained space, by the ELBO",
                FlowOptions, f"{_ENGINES}.flow_vi:run",
                Capabilities(objective="elbo", minibatch=True, reuses_model=True)))
register(Method("nuts", "the No-U-Turn sampler: numpyro's in pbnn's chunks, or pm.sample's pymc, nutpie, blackjax", NUTSOptions,
                f"{_ENGINES}.nuts:run", Capabilities(chains=True, reference=True)))
register(Method("sgld", "stochastic-gradient Langevin dynamics (blackjax) on minibatches", SGLDOptions,
                f"{_ENGINES}.sgmcmc:run_sgld", Capabilities(chains=True, minibatch=True, reuses_model=True, extra="jax")))
register(Method("sghmc", "stochastic-gradient HMC with friction (blackjax) on minibatches", SGHMCOptions,
                f"{_ENGINES}.sgmcmc:run_sghmc", Capabilities(chains=True, minibatch=True, reuses_model=True, extra="jax")))
register(Method("map", "the posterior mode (one draw: no epistemic spread)", MAPOptions,
                f"{_ENGINES}.map:run", Capabilities(point=True, objective="lp", minibatch=True, reuses_model=True)))
register(Method("ensemble", "a deep ensemble: independently initialised map, advi or swag fits, one chain each",
                EnsembleOptions, f"{_ENGINES}.ensemble:run",
                Capabilities(minibatch=True, reuses_model=True, members=True)))
register(Method("swag", "SWA-Gaussian: mean, diagonal and low-rank covariance of SGD iterates", SWAGOptions,
                f"{_ENGINES}.swag:run", Capabilities(objective="lp", minibatch=True, reuses_model=True)))
register(Method("mc_dropout", "Monte Carlo dropout with Gal's weight decay", DropoutOptions,
                f"{_ENGINES}.dropout:run", Capabilities(objective="loss", minibatch=True, reuses_model=True)))
register(Method("laplace", "a Gaussian at the mode with the inverse Hessian (pymc-extras)", LaplaceOptions,
                f"{_ENGINES}.extras:run_laplace", Capabilities(extra="extras")))
register(Method("pathfinder", "multi-path Pathfinder (pymc-extras)", PathfinderOptions,
                f"{_ENGINES}.extras:run_pathfinder", Capabilities(extra="extras")))
