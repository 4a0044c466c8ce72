"""Predictions: network outputs for new inputs, for every posterior draw at once.

The network graph is compiled once per (spec, input shape, backend) and evaluated in fixed-size chunks of
draws and points, so that large problems (10k points x 4k draws) fit in memory and each chunk's working
set stays in cache.  Under JAX the one-draw network runs draw after draw (``lax.map``) inside one jitted call
per chunk shape (the last chunks are padded, small sets up to :func:`compiled_size`), so a new number of points
rarely recompiles; under NUMBA and C the draw axis is added to the graph (``vectorize_graph``).

>>> import numpy as np, pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> pred = fit.predict(X_te)
>>> pred["predictions"]["p"].dims
('chain', 'draw', 'obs')
"""

from __future__ import annotations

import functools
import html
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.replace import vectorize_graph

from pbnn.devices import check_device, on_device
from pbnn.labels import ClassLabels
from pbnn.network import lean_graphs
from pbnn.scaling import FeatureScaling, TargetScaling
from pbnn.spec import BNN
from pbnn.uncertainty import accuracy_coverage, reject, scores, uncertainty
from pbnn.validation import check_input_shape, check_X

#: Upper bound on the elements of the widest intermediate array of one evaluated chunk: (draws x) points x
#: units.  2**20 doubles (8 MiB) was the fastest of 2**14 ... 2**24 for the 100x100 grid x 1000 draws
#: benchmark: larger chunks spill out of cache, smaller ones pay the per-call overhead.
CHUNK_ELEMENTS = 2**20
#: Draws per JAX call, evaluated one after the other (``lax.map``): a draw-batched (``vmap``) network makes
#: XLA batch its matrix products over draws, 2.1-2.7x slower for the conv zoo model (599 digits x 500 draws:
#: 12.9-16.5 against 6.1 s) and no faster for the dense ones (moons grid: 1.18 against 1.21 s).
JAX_DRAW_CHUNK = 256


#: Name of the pointwise log-likelihood output of a :class:`Predictor` built with ``targets=True``.
LOG_LIKELIHOOD = "log_likelihood"


class Predictor:
    """The network of ``spec`` compiled as ``f(X, *params) -> outputs`` with params batched over draws.

    Built from the network's pure forward pass (:func:`pbnn.network.forward`) and the likelihood's
    :meth:`~pbnn.likelihoods.base.Likelihood.link`, with no model: ``params`` are the network's parameters
    (:func:`pbnn.network.parameters`) and the likelihood's hyperparameters, by name. ``outputs`` are the
    likelihood's predictive quantities (``p`` or ``mu``, ``sigma``), each of shape ``(draws, n_points, ...)``
    (``(draws,)`` for a hyperparameter such as a homoscedastic ``sigma``). ``targets=True`` adds an input
    ``y`` and the output ``log_likelihood`` (draws, n_points): the likelihood's PyMC distribution's log
    density (``pm.logp``, as the model's observed variable) at each point, on the model's scale
    (standardized targets for regression, see :func:`predict`).
    """

    @lean_graphs
    def __init__(self, spec: BNN, input_shape: tuple[int, ...], backend: str = "jax", targets: bool = False) -> None:
        import pymc as pm

        from pbnn.network import forward, parameters

        self.spec, self.input_shape, self.backend = spec, tuple(input_shape), backend
        likelihood = spec.likelihood_
        self._X = pt.tensor("X", shape=(None, *input_shape), dtype="float64")
        # one draw's values as plain inputs: the network's parameters, then the likelihood's hyperparameters
        weights = {p.name: pt.tensor(p.name, shape=p.shape, dtype="float64") for p in parameters(spec, input_shape)}
        hyper = {name: pt.scalar(name, dtype="float64") for name in likelihood.hyperparameters}
        self._params = {**weights, **hyper}
        self.param_names = list(self._params)
        outputs = likelihood.link(forward(spec, self._X, weights), hyper)
        self.output_names = likelihood.outputs + ((LOG_LIKELIHOOD,) if targets else ())
        self.output_dims = {name: () if name in hyper else ("obs", *likelihood.point_dims) for name in likelihood.outputs}
        self._outputs = [outputs[name] for name in likelihood.outputs]
        self._y = None
        if targets:
            self._y = pt.tensor("y", shape=(None,), dtype=likelihood.target_dtype)
            family, dist_params = likelihood.distribution(outputs)
            self._outputs.append(pm.logp(family.dist(**dist_params), self._y))
            self.output_dims[LOG_LIKELIHOOD] = ("obs",)
        self._width = max(
            [int(np.prod(s)) for s in spec.output_shapes(self.input_shape)] + [int(np.prod(input_shape))]
        )
        self._fns: dict[Any, Any] = {}

    @property
    def target_dtype(self) -> np.dtype:
        """The dtype of the targets ``y`` a predictor built with ``targets=True`` takes."""
        if self._y is None:
            raise ValueError("target_dtype: this predictor was built without targets")
        return np.dtype(self._y.dtype)

    def _function(self, n_draws: int, n_points: int):
        """The compiled ``f(X, *params)`` for ``n_draws`` draws (JAX: and exactly ``n_points`` points)."""
        key = (n_draws, n_points) if self.backend == "jax" else None
        if key not in self._fns:
            self._fns[key] = self._compile_jax() if self.backend == "jax" else self._compile_pytensor()
        return self._fns[key]

    @lean_graphs
    def _compile_jax(self):
        import jax
        from pymc.sampling.jax import get_jaxified_graph

        data = [self._X] if self._y is None else [self._X, self._y]
        one_draw = get_jaxified_graph(inputs=[*data, *self._params.values()], outputs=self._outputs)
        return jax.jit(lambda *args: jax.lax.map(lambda draw: tuple(one_draw(*args[:len(data)], *draw)),
                                                 args[len(data):]))

    @lean_graphs
    def _compile_pytensor(self):
        from pymc.pytensorf import resolve_backend_compile_kwargs

        batched = {p: p.type.clone(shape=(None, *p.type.shape))(p.name) for p in self._params.values()}
        outputs = vectorize_graph(self._outputs, replace=batched)
        mode = resolve_backend_compile_kwargs(self.backend, None).get("mode")
        data = [self._X] if self._y is None else [self._X, self._y]
        return pytensor.function([*data, *batched.values()], outputs, mode=mode, on_unused_input="ignore")

    def __call__(self, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Evaluate on ``X`` (N, ...) for parameter draws ``params[name]`` of shape (S, ...); ``y`` (N,): the
        targets of a predictor built with ``targets=True``."""
        if (y is None) != (self._y is None):
            raise ValueError("y: a predictor built with targets=True needs y, one without takes none")
        n_draws, n_points = len(next(iter(params.values()))), len(X)
        pad = self.backend == "jax"  # one compiled shape: the last chunks are padded with copies
        if pad:  # one draw at a time: CHUNK_ELEMENTS bounds one draw's intermediates
            point_chunk = max(1, min(compiled_size(n_points), CHUNK_ELEMENTS // self._width))
            draw_chunk = min(compiled_size(n_draws), JAX_DRAW_CHUNK)
        else:  # every draw of the chunk at once
            draw_chunk = max(1, min(n_draws, CHUNK_ELEMENTS // self._width))
            point_chunk = max(1, min(n_points, CHUNK_ELEMENTS // (draw_chunk * self._width)))
        fn = self._function(draw_chunk, point_chunk)
        out: dict[str, np.ndarray] = {}
        for s in range(0, n_draws, draw_chunk):
            args = [params[name][s : s + draw_chunk] for name in self.param_names]
            ns = len(args[0])
            if pad and ns < draw_chunk:
                args = [np.concatenate([a, np.repeat(a[-1:], draw_chunk - ns, axis=0)]) for a in args]
            for i in range(0, n_points, point_chunk):
                data = [X[i : i + point_chunk]] if y is None else [X[i : i + point_chunk], y[i : i + point_chunk]]
                ni = len(data[0])
                if pad and ni < point_chunk:
                    data = [np.concatenate([d, np.repeat(d[-1:], point_chunk - ni, axis=0)]) for d in data]
                for name, value in zip(self.output_names, fn(*data, *args)):
                    value = np.asarray(value)
                    if name not in out:  # per-draw scalars have no point axis
                        shape = (n_draws,) if value.ndim == 1 else (n_draws, n_points, *value.shape[2:])
                        out[name] = np.empty(shape, dtype=value.dtype)
                    if value.ndim == 1:
                        out[name][s : s + ns] = value[:ns]
                    else:
                        out[name][s : s + ns, i : i + ni] = value[:ns, :ni]
        return out


def compiled_size(n: int) -> int:
    """The size a JAX predictor is compiled for to take ``n`` points or draws (padded): the next of 16, 24, 32,
    48, 64, 96, ... (two or three times a power of two), so that nearby sizes share one compiled function (a
    cross-validation's folds, a notebook's new points) at a cost of at most a third of the work padded.

    >>> [compiled_size(n) for n in (1, 16, 17, 30, 33, 100, 500)]
    [16, 16, 24, 32, 48, 128, 512]
    """
    size = 16
    while size < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return size


BACKENDS = ("auto", "jax", "numba", "c")


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> ``"jax"`` (compiles in seconds); checks the name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "jax"
    return backend


@functools.lru_cache(maxsize=32)
def get_predictor(spec: BNN, input_shape: tuple[int, ...], backend: str = "auto", targets: bool = False) -> Predictor:
    """A cached :class:`Predictor`: compiled once per spec, input shape, backend and ``targets``."""
    return Predictor(spec, input_shape, resolve_backend(backend), targets=targets)


def predict(spec: BNN, posterior: xr.Dataset, X: Any, y: Any = None, *, backend: str = "auto",
            device: str | None = None, attrs: dict | None = None) -> Predictions:
    """Per-draw network outputs of ``spec`` on ``X`` for every draw of ``posterior``.

    ``X`` is in the user's units: the feature scaling recorded in ``attrs`` (``pbnn_x_loc``,
    ``pbnn_x_scale``) is applied before the network, and outputs of standardized targets (``mu``, ``sigma``) are
    reported in ``y``'s units, undoing the target scaling (``pbnn_y_loc``, ``pbnn_y_scale``; see
    :mod:`pbnn.scaling`). A categorical ``class`` coordinate holds the class names (:mod:`pbnn.labels`).

    With targets ``y`` (N,) the tree also holds ``log_likelihood`` (variable ``y``, dims ``chain, draw,
    obs``): the pointwise log density of each target under each draw, in ``y``'s units (for regression the
    model's density of the standardized target minus ``log(scale)``), and ``observed_data``.

    ``backend``: ``"auto"`` (JAX when installed, else NUMBA), ``"jax"``, ``"numba"`` or ``"c"``;
    ``device`` (JAX only): ``"cpu"`` or ``"gpu"`` (:mod:`pbnn.devices`; None: JAX's default).
    """
    X = check_X(X)
    check_input_shape(spec, X.shape[1:])
    if check_device(device) is not None and resolve_backend(backend) != "jax":
        raise ValueError(f"device: only the JAX backend runs on a chosen device, got backend {backend!r}")
    scaling = TargetScaling.from_attrs(attrs)
    if y is not None:
        if spec.task == "classification":  # class names as in training (pbnn.labels) -> codes
            y = ClassLabels.from_attrs(attrs, 2 if spec.output_units == 1 else spec.output_units).encode(y)
        y = spec.likelihood_.check_targets(np.asarray(y), spec.output_units)
        if y.shape != (len(X),):
            raise ValueError(f"y: expected one target per row of X, shape ({len(X)},), got {y.shape}")
    # one compiled predictor serves both: without targets it takes zeros (in every likelihood's support) and
    # its log-likelihood is dropped; a fit's training log-likelihood and its predictions then share it
    predictor = get_predictor(spec, tuple(X.shape[1:]), resolve_backend(backend), targets=True)
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    params = {
        name: posterior[name].transpose("chain", "draw", ...).values.reshape(n_chain * n_draw, *posterior[name].shape[2:])
        for name in predictor.param_names
    }
    with on_device(device):
        network_X = FeatureScaling.from_attrs(attrs).standardize(X)  # the user's units -> the network's
        targets = np.zeros(len(X), dtype=predictor.target_dtype) if y is None else _model_targets(spec, scaling, y)
        values = predictor(params, network_X, targets)
    loglik = values.pop(LOG_LIKELIHOOD)
    values = scaling.to_user_units(values, spec.likelihood_)
    data_vars = {}
    for name, arr in values.items():
        dims = ("chain", "draw", *predictor.output_dims[name])
        data_vars[name] = (dims, arr.reshape(n_chain, n_draw, *arr.shape[1:]))
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values, "obs": np.arange(len(X))}
    coords.update({dim: np.asarray(coord) for dim, coord in spec.likelihood_.coords(spec.output_units).items()})
    if "class" in coords:  # the class names of the fit (pbnn.labels)
        coords["class"] = np.asarray(ClassLabels.from_attrs(attrs, len(coords["class"])).names)
    predictions = xr.Dataset(data_vars, coords=coords, attrs=dict(attrs or {}))
    from pbnn.compile import input_dims

    constant = xr.Dataset({"X": (("obs", *input_dims(X.shape[1:])), X)}, coords={"obs": coords["obs"]})
    groups = {"predictions": predictions, "predictions_constant_data": constant}
    if y is not None:
        groups["log_likelihood"] = xr.Dataset(
            {"y": (("chain", "draw", "obs"), (loglik - np.log(scaling.scale)).reshape(n_chain, n_draw, len(X)))},
            coords={k: coords[k] for k in ("chain", "draw", "obs")})
        groups["observed_data"] = xr.Dataset({"y": ("obs", y)}, coords={"obs": coords["obs"]})
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(attrs or {})
    return Predictions(tree, spec)


def _model_targets(spec: BNN, scaling: TargetScaling, y: np.ndarray) -> np.ndarray:
    """Targets on the model's scale: standardized where the likelihood says so (:mod:`pbnn.scaling`), else as they are."""
    return scaling.standardize(y) if spec.likelihood_.standardize_targets else y


class Predictions:
    """Predictions for new inputs: a DataTree with ``predictions`` and ``predictions_constant_data``.

    Item and attribute access go to the DataTree (``pred["predictions"]``, ``pred.predictions``);
    the methods below summarize the draws.
    """

    def __init__(self, idata: xr.DataTree, spec: BNN) -> None:
        self.idata = idata
        self.spec = spec

    # -- DataTree access ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.idata[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("idata", "spec"):
            raise AttributeError(name)
        return getattr(self.idata, name)

    @property
    def task(self) -> str:
        return self.spec.task

    def draws(self, name: str | None = None) -> np.ndarray:
        """Draws of an output as a numpy array (draws, obs, ...), chains stacked.

        ``name`` defaults to ``p`` for classifiers (class probabilities, (draws, obs, class); a
        bernoulli model's ``p`` is expanded to two classes) and ``mu`` for regression.
        """
        name = name or ("p" if self.task == "classification" else "mu")
        arr = self._stacked(name)
        return self.spec.likelihood_.class_probabilities(arr) if name == "p" else arr

    def outputs(self) -> dict[str, np.ndarray]:
        """Every output of the likelihood as it is stored, draws of all chains stacked: (draws, obs, ...)
        or (draws,); what the likelihood's ``log_likelihood``, ``sample`` and ``moments`` take."""
        return {name: self._stacked(name) for name in self.spec.likelihood_.outputs}

    def _stacked(self, name: str) -> np.ndarray:
        da = self.idata["predictions"][name]
        return da.values.reshape(-1, *da.shape[2:])

    def mean(self) -> xr.DataArray:
        """Posterior predictive mean: class probabilities (``p``) or the regression mean (``mu``)."""
        name = "p" if self.task == "classification" else "mu"
        return self.idata["predictions"][name].mean(("chain", "draw"))

    @property
    def labels(self) -> ClassLabels:
        """The class names of a classifier (:mod:`pbnn.labels`; ``0..K-1`` when fitted on codes)."""
        if self.task != "classification":
            raise TypeError("labels: this is a regression model; it has no classes")
        return ClassLabels.from_attrs(self.idata.attrs, 2 if self.spec.output_units == 1 else self.spec.output_units)

    def classes(self) -> np.ndarray:
        """Most probable class per point under the posterior predictive mean, by name (the fit's labels)."""
        if self.task != "classification":
            raise TypeError("classes(): this is a regression model; use mean()")
        return self.labels.decode(self.draws().mean(axis=0).argmax(axis=-1))

    def accuracy(self, y: Any) -> float:
        """Fraction of points whose most probable class equals ``y`` (names as in training, or codes)."""
        from pbnn.uncertainty import check_targets

        codes = self.draws().mean(axis=0).argmax(axis=-1)
        return float((codes == check_targets(self, y)).mean())

    # -- uncertainty (see pbnn.uncertainty) --------------------------------------------------
    def uncertainty(self, *, prob: float = 0.9, seed: int = 0) -> xr.Dataset:
        """Per-point uncertainty Dataset; see :func:`pbnn.uncertainty.uncertainty`."""
        return uncertainty(self, prob=prob, seed=seed)

    def scores(self, y: Any, *, n_bins: int = 10, prob: float = 0.9) -> xr.Dataset:
        """Accuracy, log predictive density, Brier, ECE (or RMSE, coverage); see :func:`pbnn.uncertainty.scores`."""
        return scores(self, y, n_bins=n_bins, prob=prob)

    def reject(self, threshold: float, by: str = "confidence") -> xr.DataArray:
        """True where the model should refuse to answer; see :func:`pbnn.uncertainty.reject`."""
        return reject(self, threshold, by=by)

    def accuracy_coverage(self, y: Any, by: str = "confidence") -> xr.Dataset:
        """Accuracy against the fraction of points kept; see :func:`pbnn.uncertainty.accuracy_coverage`."""
        return accuracy_coverage(self, y, by=by)

    def __repr__(self) -> str:
        pred = self.idata["predictions"]
        return (
            f"Predictions({self.spec.name!r}, {pred.sizes['obs']} points x "
            f"{pred.sizes['chain'] * pred.sizes['draw']} draws, outputs: {', '.join(pred.data_vars)})"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>" + self.idata._repr_html_()
