"""`VAEFit`: a fitted VAE, its DataTree, encoding, decoding, sampling, the IWAE bound, saving and loading.

The DataTree (``fit.idata``):

* ``encoder``: the encoder's weights (point estimates), ``w_1``, ``b_1``, ... as :func:`pbnn.network.parameters`
  names them (the head last);
* ``decoder``: the decoder's weights, point estimates or, for a Bayesian decoder, the means of ``q(w)``; for a
  ``normal`` likelihood also ``noise_sd`` per feature; the decoder's input dim is ``latent``;
* ``decoder_sd`` (Bayesian decoder): the sd of ``q(w)`` per weight; ``posterior`` (Bayesian decoder): ``draws``
  draws of the weights from ``q(w)`` (``chain, draw, ...``: one chain, independent draws);
* ``latent``: ``mean`` and ``scale`` of ``q(z | x)`` at the training points, dims ``(obs, latent)``;
* ``optimizer_stats``: ``elbo`` per step (the minibatch ELBO per observation, nats; see :func:`pbnn.fit_vae`);
* ``observed_data``: the training data ``X``;
* attributes: pbnn version, ``pbnn_method = "vae"``, the resolved options, the spec (TOML), seed, input shape.

>>> import pbnn
>>> ds = pbnn.datasets.digits()
>>> fit = pbnn.fit_vae(pbnn.zoo.vae_digits(), ds.X_train, steps=300, progressbar=False, seed=0)
>>> sorted(fit.idata.children)
['decoder', 'encoder', 'latent', 'observed_data', 'optimizer_stats']
>>> fit.encode(ds.X_test).mean.shape, fit.decode(fit.encode(ds.X_test[:5]).mean).shape
((599, 16), (5, 1, 8, 8))
"""

from __future__ import annotations

import html
import json
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from pbnn import rundir
from pbnn.errors import DataError
from pbnn.rundir import IDATA_FILE, SPEC_FILE
from pbnn.vae.spec import VAE

#: ``pbnn_method`` of a VAE run.
METHOD = "vae"
#: Doubles per compiled call of the networks (rows x features x draws): chunks of rows keep memory bounded.
CHUNK_VALUES = 2**22
#: What ``optimizer_stats.elbo`` and :meth:`VAEFit.elbo` are (``idata.attrs["pbnn_elbo"]``).
ELBO_MEANING = ("per observation, nats: mean over the minibatch of E_q[log p(x | z, w)] - KL(q(z | x) || p(z)), "
                "minus KL(q(w) || p(w)) / N for a Bayesian decoder")


class Latent(NamedTuple):
    """Mean and scale of ``q(z | x)``, each (N, latent)."""

    mean: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class IWAE:
    """The importance-weighted bound on ``log p(x)`` (Burda et al. 2016) with ``k`` samples: ``per_point`` (N,)
    nats; :attr:`mean` and its standard error :attr:`se` over the points."""

    per_point: np.ndarray
    k: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_point))

    @property
    def se(self) -> float:
        n = len(self.per_point)
        return float(np.std(self.per_point, ddof=1) / math.sqrt(n)) if n > 1 else math.nan

    def __repr__(self) -> str:
        return (f"IWAE(k={self.k}): {self.mean:.3f} +- {self.se:.3f} nats per observation "
                f"({len(self.per_point)} observations)")


class VAEFit:
    """A fitted :class:`~pbnn.VAE`: the spec and its DataTree (see the module's docstring for the groups).

    ``encode``, ``decode``, ``reconstruct`` and ``sample`` use the networks as fitted: the encoder's point
    weights and the decoder's (point weights, or for a Bayesian decoder an average over the ``posterior``
    draws); ``elbo`` and ``iwae`` estimate the fit of held-out data, a Bayesian decoder's weights drawn from
    ``q(w)`` once per sample.
    """

    def __init__(self, spec: VAE, idata: xr.DataTree) -> None:
        self.spec = spec
        self.idata = idata

    # -- what was fitted -----------------------------------------------------------------------
    @property
    def method(self) -> str:
        return METHOD

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(json.loads(self.idata.attrs["pbnn_input_shape"]))

    @property
    def seconds(self) -> float:
        return float(self.idata.attrs["pbnn_fit_seconds"])

    @property
    def latent(self) -> xr.Dataset:
        """``mean`` and ``scale`` of ``q(z | x)`` at the training points, ``(obs, latent)``."""
        return self.idata["latent"].to_dataset()

    @property
    def optimizer_stats(self) -> xr.Dataset:
        """``elbo`` per step (per observation, nats)."""
        return self.idata["optimizer_stats"].to_dataset()

    @property
    def posterior(self) -> xr.Dataset:
        """Draws of a Bayesian decoder's weights from ``q(w)``; empty for a point decoder."""
        return self.idata["posterior"].to_dataset() if "posterior" in self.idata.children else xr.Dataset()

    @cached_property
    def _model(self):
        return _networks(self.spec, self.input_shape)[0]

    @cached_property
    def _params(self) -> dict[str, Any]:
        """The constrained parameters (:meth:`pbnn.vae.model.VAEModel.constrain`) read from the DataTree."""
        model = self._model
        params: dict[str, Any] = {
            "encoder": {p.name: self.idata["encoder"][p.name].values for p in model.encoder_params},
            "decoder": {p.name: self.idata["decoder"][p.name].values for p in model.decoder_params},
        }
        if self.spec.bayesian:
            params["decoder_sd"] = {p.name: self.idata["decoder_sd"][p.name].values for p in model.decoder_params}
        if self.spec.likelihood == "normal":
            params["noise"] = self.idata["decoder"]["noise_sd"].values
        return params

    @cached_property
    def _draws(self) -> dict[str, np.ndarray]:
        """The decoder weights the deterministic outputs use, each (S, *shape): the posterior draws of a Bayesian
        decoder, the point weights (S = 1) of a point decoder."""
        if self.spec.bayesian:
            post = self.idata["posterior"]
            return {p.name: post[p.name].values.reshape(-1, *p.shape) for p in self._model.decoder_params}
        return {name: v[None] for name, v in self._params["decoder"].items()}

    @property
    def _compiled(self) -> dict[str, Callable]:
        return _networks(self.spec, self.input_shape)[1]

    # -- the networks --------------------------------------------------------------------------
    def encode(self, X: Any) -> Latent:
        """Mean and scale of ``q(z | x)`` for observations ``X`` (N, *input_shape): a :class:`Latent` of arrays
        (N, latent)."""
        return self._encode(self._check_X(X, support=False))

    def _encode(self, X: np.ndarray) -> Latent:
        parts = [self._compiled["encode"](self._params["encoder"], x) for _, x in self._row_chunks(X)]
        return Latent(np.concatenate([np.asarray(m) for m, _ in parts])[:len(X)],
                      np.concatenate([np.asarray(s) for _, s in parts])[:len(X)])

    def decode(self, z: Any) -> np.ndarray:
        """The expected observation given latent codes ``z`` (N, latent), (N, *input_shape): pixel
        probabilities (bernoulli) or means (normal); a Bayesian decoder's averaged over its ``posterior`` draws.

        >>> import numpy as np, pbnn
        >>> fit = pbnn.fit_vae(pbnn.zoo.vae_digits(), pbnn.datasets.digits().X_train, steps=50, progressbar=False)
        >>> fit.decode(np.zeros((2, 16))).shape
        (2, 1, 8, 8)
        """
        z = self._check_z(z)
        out = [np.asarray(self._compiled["decode_mean"](self._draws, chunk)) for _, chunk in self._row_chunks(z)]
        return np.concatenate(out)[:len(z)].reshape(len(z), *self.input_shape)

    def reconstruct(self, X: Any) -> np.ndarray:
        """``decode(encode(X).mean)``: each observation's reconstruction at the mean of ``q(z | x)``."""
        return self.decode(self.encode(X).mean)

    def sample(self, n: int, *, seed: int = 0, noise: bool = False) -> np.ndarray:
        """``n`` new observations from the model, (n, *input_shape): ``z ~ N(0, I)`` (a Bayesian decoder: each with
        a posterior draw of the weights picked at random) decoded to the expected observation, or with
        ``noise=True`` drawn from the likelihood (binary pixels; Gaussian noise)."""
        from pbnn.validation import check_positive_int, check_seed

        n = check_positive_int("n", n)
        rng = np.random.default_rng(check_seed(seed))
        z = rng.standard_normal((n, self.spec.latent))
        n_draws = len(next(iter(self._draws.values())))
        picks = rng.integers(n_draws, size=n)
        mean = np.concatenate([np.asarray(self._compiled["decode_picked"](self._draws, zc, pc))
                               for _, zc, pc in self._row_chunks(z, picks)])[:n]
        if noise:
            if self.spec.likelihood == "bernoulli":
                mean = (rng.random(mean.shape) < mean).astype(np.float64)
            else:
                mean = mean + self._params["noise"] * rng.standard_normal(mean.shape)
        return mean.reshape(n, *self.input_shape)

    # -- held-out fit --------------------------------------------------------------------------
    def iwae(self, X: Any, k: int = 1000, *, seed: int = 0) -> IWAE:
        """The IWAE bound on ``log p(x)`` of each observation of ``X`` with ``k`` importance samples from
        ``q(z | x)``: ``log (1/k) sum_j p(x | z_j, w_j) p(z_j) / q(z_j | x)`` (nats). A Bayesian decoder's weights
        ``w_j`` are drawn from ``q(w)`` once per importance sample (shared by the observations), so the bound is
        on the predictive density ``log E_q(w)[p(x | w)]``; a point decoder's are its weights. ``k = 1`` is an
        estimate of the ELBO; the bound rises with ``k`` towards ``log p(x)``. Computed in blocks of samples and
        chunks of rows (memory bounded by :data:`CHUNK_VALUES`); seeded, the same whatever the blocks.

        >>> import pbnn
        >>> ds = pbnn.datasets.digits()
        >>> fit = pbnn.fit_vae(pbnn.zoo.vae_digits(), ds.X_train, steps=200, progressbar=False, seed=0)
        >>> bound = fit.iwae(ds.X_test[:50], k=100)
        >>> bound.per_point.shape, bound.mean > float(fit.elbo(ds.X_test[:50]).mean())
        ((50,), True)
        """
        from pbnn.validation import check_positive_int

        k = check_positive_int("k", k)
        return IWAE(self._per_point(X, k, seed, iwae=True), k)

    def elbo(self, X: Any, samples: int = 100, *, seed: int = 0) -> np.ndarray:
        """The ELBO of each observation of ``X`` (N,), nats: ``E_q[log p(x | z, w)] - KL(q(z | x) || p(z))``, the
        expectation over ``samples`` draws of ``z`` (and of a Bayesian decoder's ``w`` from ``q(w)``), the KL
        analytic. A held-out observation's ELBO has no share of ``KL(q(w) || p(w))`` (the training objective's
        ``/ N`` term), so it is the ELBO that :meth:`iwae` bounds from above."""
        from pbnn.validation import check_positive_int

        return self._per_point(X, check_positive_int("samples", samples), seed, iwae=False)

    def _per_point(self, X: Any, k: int, seed: int, *, iwae: bool) -> np.ndarray:
        import jax

        from pbnn.validation import check_seed

        X = self._check_X(X, support=True)
        key = jax.random.key(check_seed(seed))
        out = []
        for ids, x in self._row_chunks(X):
            block = min(max(1, CHUNK_VALUES // (len(ids) * self._width)), 1 << (k - 1).bit_length())
            log_lik, log_ratio, kl = [], [], None
            for start in range(0, k, block):
                a, b, kl = self._compiled["sample_terms"](self._params, x, ids, np.arange(start, start + block), key)
                log_lik.append(np.asarray(a))
                log_ratio.append(np.asarray(b))
            log_lik = np.concatenate(log_lik)[:k]
            if iwae:
                out.append(_log_mean_exp(log_lik + np.concatenate(log_ratio)[:k]))
            else:
                out.append(log_lik.mean(axis=0) - np.asarray(kl))
        return np.concatenate(out)[:len(X)]

    def _row_chunks(self, *arrays: np.ndarray):
        """``(row indices, *rows of each array)`` in chunks of :meth:`_rows` rows, the last padded (with copies of
        its first row) to a power of two of at least 16 rows: few shapes, few compilations. The padding's results
        are dropped by the callers (they keep the first ``len(X)``)."""
        rows, n = self._rows(), len(arrays[0])
        for i in range(0, n, rows):
            ids = np.arange(i, min(i + rows, n))
            size = min(rows, max(16, 1 << (len(ids) - 1).bit_length()))
            ids = np.concatenate([ids, np.full(size - len(ids), ids[0])])
            yield (np.arange(i, i + size), *(a[ids] for a in arrays))

    @cached_property
    def _width(self) -> int:
        model = self._model
        return max(model.n_features, *(p.shape[-1] for p in (*model.encoder_params, *model.decoder_params)))

    # -- checks ---------------------------------------------------------------------------------
    def _rows(self) -> int:
        """Rows per compiled call: at most :data:`CHUNK_VALUES` values of the widest layer (1024 at most)."""
        return max(1, min(1024, CHUNK_VALUES // self._width))

    def _check_X(self, X: Any, *, support: bool) -> np.ndarray:
        from pbnn.vae.fitting import check_observations

        X = check_observations(self.spec, X, support=support)
        if X.shape[1:] != self.input_shape:
            raise DataError(f"X: expected observations of shape {self.input_shape} (n_samples excluded), as in "
                            f"training, got {X.shape[1:]}")
        return X

    def _check_z(self, z: Any) -> np.ndarray:
        from pbnn.validation import as_numeric

        z = as_numeric(z, "z").astype(np.float64)
        if z.ndim == 1 and z.shape[0] == self.spec.latent:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.spec.latent:
            raise DataError(f"z: expected latent codes of shape (n, {self.spec.latent}), got shape {z.shape}")
        if not np.isfinite(z).all():
            raise DataError("z: expected finite values")
        return z

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path, *, wait: float = 0.0) -> Path:
        """Write the run to the folder ``path``: ``spec.toml`` and ``idata.nc`` (NetCDF), no pickle, as a whole
        (:mod:`pbnn.rundir`); read it back with :func:`pbnn.load`."""
        spec_text = self.spec.to_toml()
        check_vae_run(self.spec, self.idata, f"run for {path}")
        return rundir.save_run(path, spec_text, self.idata, wait=wait)

    @classmethod
    def load(cls, path: str | Path) -> VAEFit:
        """Read a run written by :meth:`save`, checked: its attributes and every weight of the spec, finite, in
        the shapes the spec gives; errors name the file and the field."""
        path = Path(path)
        spec, idata = rundir.read_run(path, VAE)
        check_vae_run(spec, idata, str(path / IDATA_FILE), spec_file=str(path / SPEC_FILE))
        return cls(spec, idata)

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        elbo = self.optimizer_stats["elbo"].values
        tail = elbo[-max(1, len(elbo) // 10):]
        return "\n".join([
            f"VAEFit of {self.spec!r}",
            f"  {len(elbo)} steps, {self.seconds:.1f} s; {self.idata['latent'].sizes['obs']} training observations "
            f"of shape {self.input_shape}",
            f"  final ELBO {np.mean(tail):.2f} nats per observation (mean of the last 10% of the steps)",
        ])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"


#: The model and compiled functions of recent (spec, input shape) pairs, shared by the fits of that pair (a loaded
#: run, the seeds of a benchmark): JAX compiles each function once per pair and shape of its arguments.
NETWORKS_CACHE_SIZE = 4
_NETWORKS: OrderedDict = OrderedDict()


def _networks(spec: VAE, input_shape: tuple[int, ...]) -> tuple[Any, dict[str, Callable]]:
    """``(VAEModel, {name: jitted function})`` of ``spec`` on observations of ``input_shape``."""
    import jax
    import jax.numpy as jnp

    from pbnn.vae.model import VAEModel

    key = (spec, tuple(input_shape))
    if key in _NETWORKS:
        _NETWORKS.move_to_end(key)
        return _NETWORKS[key]
    model = VAEModel(spec, tuple(input_shape))

    def decode_mean(draws, z):  # the mean over draws of E[x | z, w_s]
        def add(total, w):
            return total + model.mean_of(model.decode(w, z)), None

        total, _ = jax.lax.scan(add, jnp.zeros((z.shape[0], model.n_features)), draws)
        return total / jax.tree.leaves(draws)[0].shape[0]

    def decode_picked(draws, z, picks):  # row i decoded with draw picks[i]
        def pick(out, sw):
            s, w = sw
            return jnp.where((picks == s)[:, None], model.mean_of(model.decode(w, z)), out), None

        n_draws = jax.tree.leaves(draws)[0].shape[0]
        out, _ = jax.lax.scan(pick, jnp.zeros((z.shape[0], model.n_features)), (jnp.arange(n_draws), draws))
        return out

    compiled = {
        "encode": jax.jit(model.encode),
        "decode_mean": jax.jit(decode_mean),
        "decode_picked": jax.jit(decode_picked),
        "sample_terms": jax.jit(model.sample_terms),
    }
    _NETWORKS[key] = (model, compiled)
    while len(_NETWORKS) > NETWORKS_CACHE_SIZE:
        _NETWORKS.popitem(last=False)
    return model, compiled


def _log_mean_exp(terms: np.ndarray) -> np.ndarray:
    """``log mean exp`` over the first axis, stable."""
    top = terms.max(axis=0)
    return top + np.log(np.mean(np.exp(terms - top), axis=0))


def check_vae_run(spec: VAE, idata: xr.DataTree, source: str, *, spec_file: str | None = None) -> None:
    """Raise ``ValueError`` (:class:`~pbnn.errors.SpecError` for the spec) naming ``source`` and the field unless
    ``idata`` is a VAE run of ``spec``: pbnn's attributes, and every weight of the encoder and decoder (and the
    sds and draws of a Bayesian decoder) present, finite and in the shapes the spec gives."""
    from pbnn.errors import SpecError
    from pbnn.results import check_run_attrs
    from pbnn.vae.model import VAEModel

    attrs = idata.attrs
    if attrs.get("pbnn_method") != METHOD:
        raise ValueError(f"{source}: not a pbnn VAE run (attribute pbnn_method is {attrs.get('pbnn_method')!r})")
    check_run_attrs(spec, attrs, source, spec_file=spec_file)
    input_shape = tuple(json.loads(attrs["pbnn_input_shape"]))
    try:
        spec.check_input_shape(input_shape)
    except SpecError as err:
        raise ValueError(f"{source}: attribute pbnn_input_shape {list(input_shape)} does not fit the spec: {err}") from None
    model = VAEModel(spec, input_shape)
    wanted = [("encoder", model.encoder_params, ()), ("decoder", model.decoder_params, ())]
    if spec.bayesian:
        wanted += [("decoder_sd", model.decoder_params, ()), ("posterior", model.decoder_params, ("chain", "draw"))]
    for group in ("latent", "optimizer_stats"):
        if group not in idata.children:
            raise ValueError(f"{source}: group {group!r} is missing")
    for group, params, lead in wanted:
        if group not in idata.children:
            raise ValueError(f"{source}: group {group!r} is missing; a {spec.describe_decoder()} decoder has it")
        ds = idata[group]
        for p in params:
            if p.name not in ds:
                raise ValueError(f"{source}: {group} variable {p.name!r} is missing; the spec has it with shape {p.shape}")
            var = ds[p.name]
            if var.dims[:len(lead)] != lead or var.shape[len(lead):] != p.shape:
                raise ValueError(f"{source}: {group} variable {p.name!r}: expected shape {(*lead, *p.shape)} as the "
                                 f"spec says, got {dict(var.sizes)}")
    if spec.likelihood == "normal" and idata["decoder"].get("noise_sd") is None:
        raise ValueError(f"{source}: decoder variable 'noise_sd' is missing; a normal likelihood has one per feature")
    for group in ("encoder", "decoder", "decoder_sd", "posterior", "latent"):
        if group not in idata.children:
            continue
        for name, var in idata[group].data_vars.items():
            if not np.isfinite(var.values).all():
                raise ValueError(f"{source}: {group} variable {name!r} holds NaN/inf values; a fit stores finite "
                                 "values only (the file was edited or damaged)")
