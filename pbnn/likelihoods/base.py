"""The :class:`Likelihood` base class and the registry of likelihoods by name.

A likelihood says what the network's last layer means. It is a frozen dataclass whose fields are its
hyperpriors (so that a spec's TOML holds them) and whose class attributes state its name, task, output
units and outputs; its methods build the PyMC observed variable and turn per-draw outputs into pointwise
log-likelihoods, predictive draws and predictive moments (PyMC and SciPy are imported inside the methods,
so that reading a spec stays light).

Per-draw outputs (``outputs``) map each name of :attr:`Likelihood.outputs` to an array of shape
``(S, N, ...)`` (per point) or ``(S,)`` (one value per draw, e.g. a homoscedastic noise sd), in the units
of ``y``; targets ``y`` have shape ``(N,)``.

>>> from pbnn.likelihoods import get_likelihood
>>> normal = get_likelihood("normal")
>>> normal.outputs, normal.standardize_targets
(('mu', 'sigma'), True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pbnn.errors import DataError, SpecError

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable

Outputs = Mapping[str, np.ndarray]

#: Likelihood classes by name, in the order they were registered (:func:`register`).
LIKELIHOODS: dict[str, type[Likelihood]] = {}

#: Predictive draws per point that :meth:`Likelihood.interval` takes its quantiles from, at least.
INTERVAL_DRAWS = 4000


def register(cls: type[Likelihood]) -> type[Likelihood]:
    """Class decorator: add ``cls`` to :data:`LIKELIHOODS` under ``cls.name``."""
    if cls.name in LIKELIHOODS:
        raise ValueError(f"likelihood {cls.name!r} is registered twice")
    LIKELIHOODS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Likelihood:
    """Base class: a likelihood family; its dataclass fields are positive hyperprior numbers.

    Class attributes: ``name`` (in specs and TOML), ``task`` (``"classification"`` or ``"regression"``),
    ``outputs`` (what a prediction holds per draw), ``units`` (width of the last layer, their meaning in
    ``unit_meaning``; ``None``: one unit per class, see :meth:`check_units`), ``standardize_targets``
    (whether :func:`pbnn.fit` fits to standardized ``y``; then ``location_outputs`` and ``scale_outputs``
    are the outputs that shift and scale with ``y``, :mod:`pbnn.scaling`), ``discrete`` (integer targets;
    :meth:`cdf` gives exact intervals), ``hyperparameters`` (its scalar random variables, e.g. a noise
    ``sigma``: outputs that are one value per draw), ``point_dims`` (dims a per-point output adds beyond
    ``obs``, e.g. ``class``).

    The model is three methods: :meth:`hyperpriors` (the hyperparameters' random variables),
    :meth:`link` (the outputs as graphs of the network output and the hyperparameters) and
    :meth:`distribution` (the PyMC distribution of ``y`` given the outputs). :meth:`observe` builds the
    model's observed variable from them, and :class:`pbnn.predict.Predictor` the same outputs and
    log-likelihood from the network's pure forward pass, without a model.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = "regression"
    outputs: ClassVar[tuple[str, ...]] = ()
    units: ClassVar[int | None] = 1
    standardize_targets: ClassVar[bool] = False
    unit_meaning: ClassVar[str] = ""
    discrete: ClassVar[bool] = False
    location_outputs: ClassVar[tuple[str, ...]] = ()
    scale_outputs: ClassVar[tuple[str, ...]] = ()
    hyperparameters: ClassVar[tuple[str, ...]] = ()
    point_dims: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise SpecError(f"likelihood.{f.name}: expected a positive number, got {value!r}")
            object.__setattr__(self, f.name, float(value))

    # -- the spec ------------------------------------------------------------------------------
    def check_units(self, units: int) -> None:
        """Check that a last layer of ``units`` units fits this likelihood."""
        if units != self.units:
            what = "1 unit" if self.units == 1 else f"{self.units} units ({self.unit_meaning})"
            raise SpecError(f"likelihood {self.name!r} needs a last layer with {what}, got {units}")

    def units_for_classes(self, n_classes: int) -> int | None:
        """The last layer's width for ``n_classes`` classes; ``None`` when this likelihood does not model them."""
        return None

    def coords(self, units: int) -> dict[str, range]:
        """Coords of the dims that the outputs add beyond ``obs`` (e.g. ``class``)."""
        return {}

    def to_value(self) -> str | dict[str, Any]:
        """The TOML form: the name when every hyperprior is at its default, else a table with ``name``."""
        changed = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}
        return {"name": self.name, **changed} if changed else self.name

    def describe(self) -> str:
        value = self.to_value()
        if isinstance(value, str):
            return value
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in value.items() if k != 'name')})"

    # -- data ----------------------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        """Validate targets ``y`` (1-D numbers) and return them in the dtype the model uses."""
        return real_targets(y)

    # -- the model -----------------------------------------------------------------------------
    @property
    def target_dtype(self) -> str:
        """The dtype of the targets the model observes: integers for classes and counts, else floats."""
        return "int64" if self.task == "classification" or self.discrete else "float64"

    def hyperpriors(self) -> dict[str, TensorVariable]:
        """Inside a model context: the random variables of :attr:`hyperparameters`, by name."""
        return {}

    def link(self, out: TensorVariable, hyper: Mapping[str, TensorVariable]) -> dict[str, TensorVariable]:
        """The outputs (:attr:`outputs`) as graphs of the network output ``out`` (N, units) and the values of the
        hyperparameters ``hyper`` (by name): per-point outputs (N, ...) and the hyperparameters themselves."""
        raise NotImplementedError(f"likelihood {self.name!r} has no link")

    def distribution(self, outputs: Mapping[str, TensorVariable]) -> tuple[type, dict[str, TensorVariable]]:
        """The PyMC distribution of ``y`` given the outputs: its class and keyword parameters."""
        raise NotImplementedError(f"likelihood {self.name!r} has no distribution")

    def observe(self, out: TensorVariable, y: TensorVariable, *, obs_dims: str | None, total_size: int | None) -> None:
        """Inside a model context: the observed variable ``y`` given the network output ``out`` (N, units).

        With ``obs_dims`` (the full-data model) the per-point outputs are also Deterministics with
        those dims; without (a minibatch model) they are left out. ``total_size`` scales a minibatch.
        """
        import pymc as pm

        hyper = self.hyperpriors()
        outputs = self.link(out, hyper)
        if obs_dims:
            outputs = {name: value if name in hyper else pm.Deterministic(name, value, dims=(obs_dims, *self.point_dims))
                       for name, value in outputs.items()}
        family, params = self.distribution(outputs)
        family("y", **params, observed=y, dims=obs_dims, total_size=total_size)

    # -- predictions ---------------------------------------------------------------------------
    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        """Pointwise log-likelihood ``log p(y_n | draw s)``, shape (S, N)."""
        raise NotImplementedError(f"likelihood {self.name!r} has no log-likelihood")

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        """One predictive draw of ``y`` per posterior draw and point, shape (S, N)."""
        raise NotImplementedError(f"likelihood {self.name!r} has no predictive draws")

    def moments(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of ``y`` under each draw, each of shape (S, N)."""
        raise NotImplementedError(f"likelihood {self.name!r} has no predictive moments")

    def cdf(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        """``P(Y <= y_n | draw s)``, shape (S, N), for ``y`` of shape (N,); for :attr:`discrete` likelihoods."""
        raise NotImplementedError(f"likelihood {self.name!r} has no cdf")

    def interval(self, outputs: Outputs, prob: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Central ``prob`` interval of the predictive distribution (the mixture over draws), per point.

        A :attr:`discrete` likelihood (counts) gives the exact ends, the smallest integers whose mixture
        CDF reaches ``(1 - prob) / 2`` and ``(1 + prob) / 2`` (``seed`` is not used); otherwise the ends
        are quantiles of at least :data:`INTERVAL_DRAWS` predictive draws per point, drawn with ``seed``.
        """
        tail = (1.0 - prob) / 2.0
        if self.discrete:
            return _integer_quantile(self, outputs, tail), _integer_quantile(self, outputs, 1.0 - tail)
        n_draws = len(next(iter(outputs.values())))
        rng = np.random.default_rng(seed)
        draws = np.concatenate([self.sample(outputs, rng) for _ in range(-(-INTERVAL_DRAWS // n_draws))])
        lower, upper = np.quantile(draws, [tail, 1.0 - tail], axis=0)
        return lower, upper


def _integer_quantile(likelihood: Likelihood, outputs: Outputs, q: float) -> np.ndarray:
    """Per point, the smallest integer ``k >= 0`` with ``mean_s P(Y <= k | draw s) >= q``, by bisection."""
    n = np.shape(next(v for v in outputs.values() if np.ndim(v) > 1))[1]

    def reaches(k: np.ndarray) -> np.ndarray:
        return likelihood.cdf(outputs, k).mean(axis=0) >= q

    lo, hi = np.full(n, -1), np.ones(n, dtype=np.int64)  # F(lo) < q <= F(hi) once hi is doubled enough
    while not (done := reaches(hi)).all():
        if hi.max() > 2**52:  # a NaN or infinite rate: no count reaches q
            raise ValueError(f"{likelihood.name}: the mixture CDF does not reach {q:g}; are the outputs finite?")
        lo, hi = np.where(done, lo, hi), np.where(done, hi, 2 * hi)
    while (hi - lo > 1).any():
        mid = (lo + hi) // 2
        ok = reaches(mid)
        lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
    return hi


def per_point(value: np.ndarray, n: int) -> np.ndarray:
    """A per-draw output of shape (S,) or (S, N) as (S, N)."""
    value = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(value[:, None], (len(value), n)) if value.ndim == 1 else value


def real_targets(y: np.ndarray) -> np.ndarray:
    """Regression targets: real numbers, as float64."""
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"y: expected real numbers, got dtype {y.dtype}")
    return y.astype(np.float64)


def class_labels(name: str, y: np.ndarray, n_classes: int, hint: str) -> np.ndarray:
    """Class labels ``0..n_classes - 1`` as int64; ``hint`` ends the error message."""
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise DataError(f"y: expected integer class labels, got dtype {y.dtype}")
    labels = np.asarray(y, dtype=np.float64)
    bad = (labels != np.round(labels)) | (labels < 0) | (labels >= n_classes)
    if bad.any():
        raise DataError(
            f"y: likelihood {name!r} expects labels in 0..{n_classes - 1}, "
            f"got {labels[bad][0]:g} ({int(bad.sum())} bad value(s)){hint}"
        )
    return labels.astype(np.int64)


def get_likelihood(value: str | Mapping[str, Any] | Likelihood) -> Likelihood:
    """The likelihood object for a name, a TOML table (``{"name": ..., <hyperprior>: ...}``) or an object.

    Errors name the field and list the registered likelihoods.
    """
    if isinstance(value, Likelihood):
        return value
    table = dict(value) if isinstance(value, Mapping) else {"name": value}
    name = table.pop("name", None)
    try:
        cls = LIKELIHOODS[name]
    except (KeyError, TypeError):
        what = f"unknown likelihood {name!r}" if name is not None else f"no name in {value!r}"
        raise SpecError(f"likelihood: {what}; expected one of {', '.join(LIKELIHOODS)}") from None
    known = [f.name for f in fields(cls)]
    unknown = [k for k in table if k not in known]
    if unknown:
        raise SpecError(
            f"likelihood: unknown key {unknown[0]!r} for {name!r}; expected keys are {', '.join(['name', *known])}"
        )
    return cls(**table)


def classification_likelihood(n_classes: int) -> tuple[Likelihood, int]:
    """The first registered classification likelihood that models ``n_classes`` classes, and its units."""
    for cls in LIKELIHOODS.values():
        if cls.task == "classification":
            lik = cls()
            units = lik.units_for_classes(n_classes)
            if units is not None:
                return lik, units
    raise ValueError(f"n_classes: no classification likelihood models {n_classes} classes")
