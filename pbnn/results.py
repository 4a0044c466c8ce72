"""`Fit`: what every inference method returns; its DataTree, predictions, saving and loading.

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> sorted(fit.idata.children)
['constant_data', 'log_likelihood', 'observed_data', 'optimizer_stats', 'posterior', 'sample_stats']
"""

from __future__ import annotations

import html
import json
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from pbnn import rundir
from pbnn.labels import ATTR as CLASSES_ATTR
from pbnn.predict import Predictions, predict
from pbnn.rundir import IDATA_FILE, SPEC_FILE
from pbnn.scaling import ALL_ATTRS as SCALING_ATTRS
from pbnn.scaling import ATTRS as TARGET_ATTRS
from pbnn.scaling import FeatureScaling, TargetScaling
from pbnn.spec import BNN

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

    from pbnn.vae.results import VAEFit


class Fit:
    """A fitted BNN: the spec plus an ArviZ DataTree.

    ``idata`` holds ``posterior`` (parameter draws; for ADVI, independent draws from the approximation, marked
    in ``posterior.attrs["pbnn_draws"]``), ``log_likelihood`` (pointwise, in ``y``'s units), ``sample_stats``
    (per-draw statistics: NUTS's), ``optimizer_stats`` (per-step: the ELBO history of ADVI), ``observed_data``
    and ``constant_data``; its attributes record the pbnn version, the method, its options and the spec.
    """

    def __init__(self, spec: BNN, idata: xr.DataTree) -> None:
        self.spec = spec
        self.idata = idata

    @property
    def method(self) -> str:
        return self.idata.attrs["pbnn_method"]

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].to_dataset()

    @property
    def optimizer_stats(self) -> xr.Dataset:
        """Per-step statistics of an optimizer (the ``optimizer_stats`` group: ``elbo`` for ADVI, ``lp`` for MAP,
        ``loss`` for MC dropout, dim ``step``); empty for samplers."""
        return self.idata["optimizer_stats"].to_dataset() if "optimizer_stats" in self.idata.children else xr.Dataset()

    @property
    def seconds(self) -> float:
        """Wall time of the fit in seconds."""
        return float(self.idata.attrs["pbnn_fit_seconds"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(json.loads(self.idata.attrs["pbnn_input_shape"]))

    def predict(self, X: Any, y: Any = None, *, backend: str = "auto", device: str | None = None,
                reweight: str | None = None, seed: int = 0) -> Predictions:
        """Per-draw network outputs on new inputs ``X``; see :class:`pbnn.predict.Predictions`.

        With targets ``y`` the predictions also hold the held-out pointwise ``log_likelihood`` (in ``y``'s
        units; :func:`pbnn.predict.predict`) and ``observed_data``.

        ``reweight="psis"`` predicts with the draws of a variational fit resampled by their PSIS weights
        (:func:`pbnn.elpd.psis_posterior`, seeded by ``seed``); it warns when k-hat >= 0.7, where the
        correction cannot be trusted. The k-hat is kept in the predictions' ``pbnn_psis_khat`` attribute.

        ``backend``: ``"auto"`` (JAX when installed, else NUMBA), ``"jax"``, ``"numba"`` or ``"c"``;
        ``device`` (JAX): ``"cpu"``, ``"gpu"`` or None (JAX's default).
        """
        from pbnn.errors import DataError
        from pbnn.validation import check_X

        X = check_X(X)
        if X.shape[1:] != self.input_shape:
            raise DataError(
                f"X: expected inputs of shape {self.input_shape} (n_samples excluded), as in training, got {X.shape[1:]}"
            )
        attrs = {k: v for k, v in self.idata.attrs.items() if k in ("pbnn_version", "pbnn_method", "pbnn_spec", *SCALING_ATTRS, CLASSES_ATTR)}
        posterior = self.posterior
        if reweight == "psis":
            from pbnn.elpd import KHAT_GOOD, psis_posterior

            posterior, khat = psis_posterior(self, seed=seed)
            attrs["pbnn_psis_khat"] = khat
            if khat >= KHAT_GOOD:
                warnings.warn(f"reweight='psis': Pareto k-hat {khat:.2f} >= {KHAT_GOOD:g}: q is too far from the "
                              "posterior for importance sampling to correct it; these predictions rest on few draws",
                              UserWarning, stacklevel=2)
        elif reweight is not None:
            raise ValueError(f"reweight: expected None or 'psis', got {reweight!r}")
        return predict(self.spec, posterior, X, y, backend=backend, device=device, attrs=attrs)

    def model(self) -> pm.Model:
        """The PyMC model the posterior belongs to: ``spec.build`` on the training data, with PyMC's plain
        initial values, so that ``model.copy()``, ``pm.do``, ``freeze_dims_and_data`` and
        ``pm.compute_log_likelihood(fit.idata, model=fit.model())`` work on it.

        Regression targets are standardized for the fit (:mod:`pbnn.scaling`): the model observes
        ``(y - pbnn_y_loc) / pbnn_y_scale``, so its log densities of ``y`` exceed the ``log_likelihood``
        group (``y``'s units) by ``log(pbnn_y_scale)`` per point, and its replicates of ``y`` are on the
        standardized scale (``fit.posterior_predictive()`` gives them in ``y``'s units). Its ``X`` is the
        network's input: ``constant_data``'s ``X`` with the fit's feature scaling applied.
        """
        from pbnn.compile import build_model
        from pbnn.scaling import FeatureScaling, TargetScaling

        X = FeatureScaling.from_attrs(self.idata.attrs).standardize(self.idata["constant_data"]["X"].values)
        y = self.idata["observed_data"]["y"].values
        if self.spec.likelihood_.standardize_targets:
            y = TargetScaling.from_attrs(self.idata.attrs).standardize(y)
        return build_model(self.spec, X, y, initial_values=False)

    def posterior_predictive(self, *, seed: int = 0) -> xr.Dataset:
        """Replicated ``y`` at the training inputs (``chain, draw, obs``, in ``y``'s units), added to ``idata`` as
        the ``posterior_predictive`` group (for ``az.plot_ppc_dist``); see :mod:`pbnn.predictive`."""
        from pbnn.predictive import posterior_predictive

        return posterior_predictive(self, seed=seed)

    @classmethod
    def from_pymc(cls, spec: BNN, idata: xr.DataTree, X: Any, y: Any, *, method: str | None = None) -> Fit:
        """A Fit from a DataTree that PyMC produced on ``spec.build(X, y)``'s model (or a model extended from it
        that keeps its parameter names): ``pm.sample(...)`` or ``pm.fit(...).sample(...)``.

        The posterior must hold the network's free variables (``w_1``, ... as :meth:`BNN.build` names them);
        further variables are dropped. ``method`` defaults to ``"nuts"`` when ``sample_stats`` has
        ``diverging``, else ``"advi"``. Targets are taken as the model saw them (``spec.build`` does not
        standardize), so predictions are in ``y``'s units. The Fit gets ``log_likelihood``, ``observed_data``
        and ``constant_data``; ``predict``, ``diagnose`` and ``uncertainty`` work on it.

        >>> import pbnn, pymc as pm
        >>> ds = pbnn.datasets.moons(n_samples=100)
        >>> spec = pbnn.zoo.two_layer_tanh()
        >>> with spec.build(ds.X_train, ds.y_train):
        ...     idata = pm.fit(200, progressbar=False, random_seed=0).sample(50, random_seed=0)
        >>> Fit.from_pymc(spec, idata, ds.X_train, ds.y_train).predict(ds.X_test)["predictions"]["p"].shape
        (1, 50, 50)
        """
        import time

        from pbnn.compile import build_model
        from pbnn.errors import DataError
        from pbnn.inference.fitting import _make_fit
        from pbnn.inference.methods import get_method
        from pbnn.scaling import TargetScaling
        from pbnn.validation import check_data

        if not isinstance(spec, BNN):
            raise TypeError(f"spec: expected a pbnn.BNN, got {type(spec).__name__}")
        if not isinstance(idata, xr.DataTree) or "posterior" not in idata.children:
            raise TypeError(f"idata: expected an ArviZ DataTree with a posterior group, got {type(idata).__name__}")
        X, y = check_data(spec, X, y)
        model = build_model(spec, X, y)
        posterior = idata["posterior"].to_dataset()
        missing = [rv.name for rv in model.free_RVs if rv.name not in posterior]
        if missing:
            raise DataError(f"idata: the posterior lacks {', '.join(missing)}: not draws of spec.build's model "
                            f"(its free variables are {', '.join(rv.name for rv in model.free_RVs)})")
        stats = idata["sample_stats"].to_dataset() if "sample_stats" in idata.children else xr.Dataset()
        if method is None:
            method = "nuts" if "diverging" in stats else "advi"
        get_method(method)  # a registered name
        posterior = posterior.copy(data={k: np.asarray(v.values) for k, v in posterior.data_vars.items()})
        per_draw = [k for k, v in stats.data_vars.items() if {"chain", "draw"} <= set(v.dims)]
        return _make_fit(spec, model, X, y, method, None, None, time.perf_counter(), posterior, stats[per_draw], {},
                         scaling=TargetScaling())

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path, *, wait: float = 0.0) -> Path:
        """Write the run to the folder ``path``: ``spec.toml`` and ``idata.nc`` (NetCDF), no pickle.

        The run is written as a whole (:mod:`pbnn.rundir`): a crash or a failed save leaves the previous
        run at ``path`` as it was, a save replaces it only by a complete new one, and a second process
        saving into ``path`` at the same time gets :class:`~pbnn.rundir.RunLockedError` (after waiting
        ``wait`` seconds). An existing ``path`` must be an earlier run or an empty folder. The run is
        checked as :func:`load` checks it before anything is written.
        """
        spec_text = self.spec.to_toml()
        check_run(self.spec, self.idata, f"run for {path}")
        return rundir.save_run(path, spec_text, self.idata, wait=wait)

    @classmethod
    def load(cls, path: str | Path) -> Fit:
        """Read a run written by :meth:`save`, checked: its attributes, a finite posterior of the shapes
        the spec gives, finite scalings; errors name the file and the field."""
        path = Path(path)
        spec, idata = rundir.read_run(path, BNN)
        check_run(spec, idata, str(path / IDATA_FILE), spec_file=str(path / SPEC_FILE))
        return cls(spec, idata)

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        post = self.idata["posterior"]
        lines = [
            f"Fit of {self.spec!r}",
            f"  method {self.method}, {self.seconds:.1f} s, {post.sizes['chain']} chain(s) x {post.sizes['draw']} draws",
        ]
        stats = self.idata["sample_stats"] if "sample_stats" in self.idata.children else None
        if "elbo" in self.optimizer_stats:
            elbo = self.optimizer_stats["elbo"].values
            tail = elbo[-max(1, len(elbo) // 10) :]
            lines.append(f"  final ELBO {np.mean(tail):.2f} (mean of the last 10% of {len(elbo)} steps)")
        if stats is not None and "diverging" in stats:
            lines.append(f"  divergences: {int(stats['diverging'].sum())}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.spec._repr_html_(self.input_shape)


def load(path: str | Path) -> Fit | VAEFit:
    """Read a run written by :meth:`Fit.save` (or :meth:`pbnn.VAEFit.save`: a VAE run, whose ``spec.toml`` says
    ``kind = "vae"``, comes back as a :class:`~pbnn.VAEFit`). Loading never executes code from the files."""
    if _spec_kind(Path(path)) == "vae":
        from pbnn.vae.results import VAEFit

        return VAEFit.load(path)
    return Fit.load(path)


def _spec_kind(path: Path) -> str | None:
    """The top-level ``kind`` of a run folder's spec file (None: a BNN, or no readable spec: ``Fit.load`` says why)."""
    import tomllib

    try:
        with rundir.reading(path):
            text = (path / SPEC_FILE).read_text()
        kind = tomllib.loads(text).get("kind")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return kind if isinstance(kind, str) else None


def _is_json(kind: type) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        try:
            return isinstance(value, str) and isinstance(json.loads(value), kind)
        except json.JSONDecodeError:
            return False

    return check


def _is_input_shape(value: Any) -> bool:
    if not _is_json(list)(value):
        return False
    shape = json.loads(value)
    return bool(shape) and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)


def _is_number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and low <= value < high


#: DataTree attributes every run carries: a check and the expected form (in messages).
ATTRS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "pbnn_version": (lambda v: isinstance(v, str), "a version string"),
    "pbnn_method": (lambda v: isinstance(v, str), "a method name"),
    "pbnn_spec": (lambda v: isinstance(v, str), "the spec as TOML"),
    "pbnn_options": (_is_json(dict), "the method's options as a JSON object"),
    "pbnn_seed": (lambda v: isinstance(v, numbers.Integral) and 0 <= v < 2**63, "an integer in [0, 2**63)"),
    "pbnn_input_shape": (_is_input_shape, "a JSON list of positive integers"),
    "pbnn_fit_seconds": (lambda v: _is_number(v, 0.0), "a finite number of seconds >= 0"),
}


def check_run(spec: BNN, idata: xr.DataTree, source: str, *, spec_file: str | None = None) -> None:
    """Raise ``ValueError`` (:class:`~pbnn.errors.SpecError` for the spec) naming ``source`` and the field
    unless ``idata`` is a run of ``spec``: the :data:`ATTRS`, the target scaling of a regression, and a
    posterior holding every parameter of the spec, finite, in the shapes the spec gives."""
    from pbnn.compile import build_model, parameter_names
    from pbnn.errors import SpecError

    attrs = idata.attrs
    if "pbnn_method" not in attrs or "posterior" not in idata.children:
        raise ValueError(f"{source}: not a pbnn run (no pbnn attributes or no posterior group)")
    check_run_attrs(spec, attrs, source, spec_file=spec_file)
    if spec.task == "regression":
        missing = [a for a in TARGET_ATTRS if a not in attrs]
        if missing:
            raise ValueError(f"{source}: attribute {missing[0]} is missing; a regression run stores the target scaling")
        try:
            TargetScaling.from_attrs(attrs)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
    input_shape = tuple(json.loads(attrs["pbnn_input_shape"]))
    try:
        model = build_model(spec, np.zeros((2, *input_shape)), np.zeros(2, dtype=np.int64))
    except ValueError as err:
        raise ValueError(f"{source}: attribute pbnn_input_shape {list(input_shape)} does not fit the spec: {err}") from None
    posterior = idata["posterior"]
    for name in dict.fromkeys([rv.name for rv in model.free_RVs] + parameter_names(model)):
        dims = model.named_vars_to_dims.get(name, ())
        shape = tuple(len(model.coords[d]) for d in dims)
        if name not in posterior:
            raise ValueError(f"{source}: posterior variable {name!r} is missing; the spec has it with shape {shape}")
        var = posterior[name]
        if var.dims[:2] != ("chain", "draw") or var.shape[2:] != shape:
            raise ValueError(f"{source}: posterior variable {name!r}: expected dims (chain, draw, {', '.join(dims)}) "
                             f"of shape (.., .., {', '.join(map(str, shape))}) as the spec says, got {dict(var.sizes)}")
    for name, var in posterior.data_vars.items():
        if np.issubdtype(var.dtype, np.number) and not np.isfinite(var.values).all():
            bad = int((~np.isfinite(var.values)).sum())
            raise ValueError(f"{source}: posterior variable {name!r} holds {bad} NaN/inf value(s); "
                             "a fit stores finite draws only (the file was edited or damaged)")
    _check_feature_scaling(attrs, input_shape, source)


def _check_feature_scaling(attrs: Any, input_shape: tuple[int, ...], source: str) -> None:
    """The stored input scaling (``pbnn_x_loc``/``pbnn_x_scale``, when present) is finite, positive and
    broadcasts against one input."""
    try:
        scaling = FeatureScaling.from_attrs(attrs)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{source}: attributes pbnn_x_loc/pbnn_x_scale: expected JSON lists of numbers ({err})") from None
    loc, scale = (np.asarray(v, dtype=np.float64) for v in scaling)
    if not (np.isfinite(loc).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(f"{source}: attributes pbnn_x_loc/pbnn_x_scale: expected finite values and positive scales")
    try:
        np.broadcast_shapes(loc.shape, scale.shape, input_shape)
    except ValueError:
        raise ValueError(f"{source}: attributes pbnn_x_loc/pbnn_x_scale of shapes {loc.shape}, {scale.shape} do not "
                         f"fit inputs of shape {input_shape}") from None
    if attrs.get(CLASSES_ATTR) is not None and not _is_json(list)(attrs[CLASSES_ATTR]):
        raise ValueError(f"{source}: attribute {CLASSES_ATTR}: expected a JSON list of class names")


def check_run_attrs(spec: Any, attrs: Mapping[str, Any], source: str, *, spec_file: str | None = None) -> None:
    """The attributes every saved run holds (:data:`ATTRS`), each in its form, and ``pbnn_spec`` equal to
    ``spec`` (a BNN or a VAE); else an error naming ``source`` (or ``spec_file``) and the attribute."""
    from pbnn.errors import SpecError

    for name, (ok, form) in ATTRS.items():
        if name not in attrs:
            raise ValueError(f"{source}: attribute {name} is missing; expected {form}")
        if not ok(attrs[name]):
            raise ValueError(f"{source}: attribute {name}: expected {form}, got {_short(attrs[name])}")
    if attrs["pbnn_spec"] != spec.to_toml():
        if spec_file is not None:
            raise SpecError(f"{Path(spec_file).parent}: {SPEC_FILE} does not match the spec stored in {IDATA_FILE}")
        raise SpecError(f"{source}: attribute pbnn_spec differs from the fit's spec")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
