"""`Fit`: what every inference method returns; its DataTree, predictions, saving and loading.

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> sorted(fit.idata.children)
['constant_data', 'log_likelihood', 'observed_data', 'posterior', 'sample_stats']
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

from pbnn.predict import Predictions, predict
from pbnn.labels import ATTR as CLASSES_ATTR
from pbnn.scaling import ALL_ATTRS as SCALING_ATTRS
from pbnn.spec import BNN

SPEC_FILE = "spec.toml"
IDATA_FILE = "idata.nc"


class Fit:
    """A fitted BNN: the spec plus an ArviZ DataTree.

    ``idata`` holds ``posterior`` (parameter draws; for ADVI, draws from the approximation),
    ``sample_stats`` (ELBO history for ADVI, NUTS statistics for samplers), ``observed_data`` and
    ``constant_data``; its attributes record the pbnn version, the method, its options and the spec.
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
    def seconds(self) -> float:
        """Wall time of the fit in seconds."""
        return float(self.idata.attrs["pbnn_fit_seconds"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(json.loads(self.idata.attrs["pbnn_input_shape"]))

    def predict(self, X: Any, y: Any = None, *, backend: str = "auto", device: str | None = None) -> Predictions:
        """Per-draw network outputs on new inputs ``X``; see :class:`pbnn.predict.Predictions`.

        With targets ``y`` the predictions also hold the held-out pointwise ``log_likelihood`` (in ``y``'s
        units; :func:`pbnn.predict.predict`) and ``observed_data``.

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
        return predict(self.spec, self.posterior, X, y, backend=backend, device=device, attrs=attrs)

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

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the run to the folder ``path``: ``spec.toml`` and ``idata.nc`` (NetCDF), no pickle.

        Each file is written to a temporary file in the same folder and renamed over the old one, so
        a crash leaves either the previous file or the new one, never half a file.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        _atomic_write(path / SPEC_FILE, lambda tmp: Path(tmp).write_text(self.spec.to_toml()))
        _atomic_write(path / IDATA_FILE, lambda tmp: self.idata.to_netcdf(tmp, engine="h5netcdf"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Fit:
        """Read a run written by :meth:`save`."""
        from pbnn.errors import SpecError
        from pbnn.spec import load_spec

        path = Path(path)
        for name in (SPEC_FILE, IDATA_FILE):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path}: not a saved pbnn run (missing {name})")
        spec = load_spec(path / SPEC_FILE)
        try:
            with xr.open_datatree(path / IDATA_FILE, engine="h5netcdf") as tree:
                idata = tree.load()
        except Exception as err:
            raise ValueError(f"{path / IDATA_FILE}: could not be read as NetCDF ({type(err).__name__}: {err}); the file is truncated or corrupt") from None
        if "pbnn_method" not in idata.attrs or "posterior" not in idata.children:
            raise ValueError(f"{path / IDATA_FILE}: not a pbnn run (no pbnn attributes or no posterior group)")
        if idata.attrs.get("pbnn_spec") != spec.to_toml():
            raise SpecError(f"{path}: {SPEC_FILE} does not match the spec stored in {IDATA_FILE}")
        return cls(spec, idata)

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        post = self.idata["posterior"]
        lines = [
            f"Fit of {self.spec!r}",
            f"  method {self.method}, {self.seconds:.1f} s, {post.sizes['chain']} chain(s) x {post.sizes['draw']} draws",
        ]
        stats = self.idata["sample_stats"] if "sample_stats" in self.idata.children else None
        if stats is not None and "elbo" in stats:
            elbo = stats["elbo"].values
            tail = elbo[-max(1, len(elbo) // 10) :]
            lines.append(f"  final ELBO {np.mean(tail):.2f} (mean of the last 10% of {len(elbo)} steps)")
        if stats is not None and "diverging" in stats:
            lines.append(f"  divergences: {int(stats['diverging'].sum())}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.spec._repr_html_(self.input_shape)


def load(path: str | Path) -> Fit:
    """Read a run written by :meth:`Fit.save`. Loading never executes code from the files."""
    return Fit.load(path)


def _atomic_write(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
