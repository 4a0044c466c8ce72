"""``pbnn.fit_vae``: amortized variational inference of a :class:`~pbnn.VAE` with the optax loop of
:mod:`pbnn.inference.loop`, and the checks of a VAE's data."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from dataclasses import fields
from typing import Any

import numpy as np
import xarray as xr

from pbnn.errors import DataError, SpecError
from pbnn.vae.results import ELBO_MEANING, METHOD, VAEFit
from pbnn.vae.spec import VAE, VAE_LIKELIHOODS, VAEOptions

__all__ = ["check_observations", "fit_vae"]


def fit_vae(spec: VAE, X: Any, *, seed: int | None = None, progressbar: bool = True, **options: Any) -> VAEFit:
    """Fit ``spec`` to observations ``X`` (N, *shape) by amortized VI; returns a :class:`~pbnn.vae.VAEFit`.

    Each step draws ``batch_size`` observations (with replacement), one ``z ~ q(z | x)`` per observation by the
    reparameterization trick (``mc_samples`` draws to average more) and, for a Bayesian decoder, one draw of the
    decoder's weights from their mean-field Gaussian ``q(w)``; Adam (lr ``learning_rate``, or ``optimizer``) then
    climbs the ELBO per observation,

        ``mean over the batch of [E_q log p(x | z, w) - KL(q(z | x) || p(z))] - KL(q(w) || p(w)) / N``

    (the KL terms analytic: the minibatch objective is the full-data ELBO divided by N, unbiased). ``optimizer_stats
    .elbo`` holds it per step, in nats per observation. The loop is :func:`pbnn.inference.loop.run`: seeded (the same
    ``seed`` gives the same fit), compiled in chunks of steps, with a progress bar (``progressbar``), a divergence
    guard and Ctrl-C returning the fit so far.

    ``options``: those of :class:`~pbnn.vae.spec.VAEOptions` (``steps``, ``batch_size``, ``learning_rate``,
    ``final_learning_rate``, ``mc_samples``, ``draws``, ``init_scale``, ``device``, ``optimizer``), else the spec's
    fit settings, else the defaults (5000 steps of 128 at lr 1e-3). ``X`` is modelled as given (no
    standardization): values in [0, 1] for ``bernoulli``. Faults: bad data raise :class:`~pbnn.errors.DataError`
    naming the field; a diverging run :class:`~pbnn.errors.DivergenceError` with the last finite fit.

    >>> import pbnn
    >>> ds = pbnn.datasets.digits()
    >>> fit = pbnn.fit_vae(pbnn.zoo.vae_digits(), ds.X_train, steps=500, progressbar=False, seed=0)
    >>> elbo = fit.optimizer_stats["elbo"].values
    >>> bool(elbo[-50:].mean() > elbo[:50].mean())
    True
    """
    from pbnn.inference import loop
    from pbnn.inference.progress import progress_bar
    from pbnn.validation import check_seed
    from pbnn.vae.results import _networks

    if not isinstance(spec, VAE):
        raise TypeError(f"spec: expected a pbnn.VAE, got {type(spec).__name__}")
    X = check_observations(spec, X, support=True)
    resolved = _resolve(spec, options, n=len(X))
    seed = check_seed(seed)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)
    start = time.perf_counter()
    n, input_shape = len(X), tuple(X.shape[1:])
    batch_size = None if resolved.batch_size is None or resolved.batch_size >= n else resolved.batch_size
    model = _networks(spec, input_shape)[0]
    params0 = model.init(seed, resolved.init_scale)
    loss = model.negative_elbo(n_data=n, batch_size=batch_size, mc_samples=resolved.mc_samples)
    rate = None if resolved.optimizer is not None else resolved.learning_rate
    optimizer = loop.optimizer_from(resolved.optimizer, resolved.learning_rate, resolved.final_learning_rate,
                                    steps=resolved.steps)
    key = (spec, input_shape, n, batch_size, resolved.mc_samples,
           loop.optimizer_key(resolved.optimizer, resolved.learning_rate, resolved.final_learning_rate,
                              steps=resolved.steps))
    with progress_bar(progressbar, resolved.steps, label="VAE", value_name="elbo") as advance:
        out = loop.run(loss, params0, steps=resolved.steps, optimizer=optimizer, seed=seed, data=(X,),
                       callback=lambda done, losses: advance(done, -losses), device=resolved.device,
                       cache=_LOOPS, cache_key=key)
    while len(_LOOPS) > LOOP_CACHE_SIZE:
        _LOOPS.popitem(last=False)
    fitted = _make_fit(spec, model, X, resolved, seed, start, out)
    fault, message = loop.outcome(out, label="VAE", steps=resolved.steps, learning_rate=rate)
    if fault == "diverged":
        from pbnn.errors import DivergenceError

        raise DivergenceError(message, fit=fitted)
    if fault == "interrupted":
        import warnings

        warnings.warn(message, UserWarning, stacklevel=2)
    return fitted


#: Compiled optimisation loops of recent fits (by spec, data shape, batch and optimizer), reused by the next fit
#: of the same kind: seeds and folds skip the XLA compilation.
LOOP_CACHE_SIZE = 4
_LOOPS: OrderedDict = OrderedDict()


def check_observations(spec: VAE, X: Any, *, support: bool = True) -> np.ndarray:
    """``X`` as float64 observations (N, *shape) that the encoder takes (a 3-D array gets a channel axis) and,
    with ``support``, inside the likelihood's support (``bernoulli``: [0, 1]); else a
    :class:`~pbnn.errors.DataError` naming the field.

    >>> import numpy as np, pbnn
    >>> check_observations(pbnn.zoo.vae_digits(), np.full((2, 64), 16.0))
    Traceback (most recent call last):
    ...
    pbnn.errors.DataError: X: likelihood 'bernoulli' models values in [0, 1], got values up to 16 (128 value(s) outside); scale the data into [0, 1] (8x8 digits: X / 16) or use likelihood 'normal'
    """
    from pbnn.validation import check_X

    X = check_X(X)
    try:
        spec.check_input_shape(X.shape[1:])
    except SpecError as err:
        raise DataError(f"X: observations of shape {X.shape[1:]} do not fit the encoder: {err}") from None
    if support and spec.likelihood == "bernoulli":
        outside = (X < 0) | (X > 1)
        if outside.any():
            low, high = float(X.min()), float(X.max())
            got = f"values up to {high:g}" if high > 1 else f"values down to {low:g}"
            raise DataError(f"X: likelihood 'bernoulli' models values in [0, 1], got {got} ({int(outside.sum())} "
                            "value(s) outside); scale the data into [0, 1] (8x8 digits: X / 16) or use likelihood "
                            "'normal'")
    return X


def _resolve(spec: VAE, given: dict[str, Any], *, n: int) -> VAEOptions:
    known = [f.name for f in fields(VAEOptions)]
    for name in given:
        if name not in known:
            raise TypeError(f"{name}: not an option of pbnn.fit_vae; its options are {', '.join(known)}")
    options = VAEOptions(**{**spec.fit_settings, **given})
    if options.batch_size is not None and options.batch_size >= n:
        if "batch_size" in given and options.batch_size > n:
            raise DataError(f"batch_size: expected at most the number of observations ({n}), got {options.batch_size}")
        options = dataclasses.replace(options, batch_size=None)  # a default or spec's batch as large as the data
    return options


def _make_fit(spec: VAE, model, X: np.ndarray, options: VAEOptions, seed: int, start: float, out) -> VAEFit:
    """The DataTree of a run (:mod:`pbnn.vae.results` lists its groups) from the loop's final parameters."""
    import jax

    from pbnn.inference.fitting import _jsonable, _version
    from pbnn.network import input_dims

    params = jax.tree.map(np.asarray, model.constrain(out.params))
    input_shape = tuple(X.shape[1:])

    def weights(values: dict[str, np.ndarray], plist, lead: tuple[str, ...] = ()) -> xr.Dataset:
        return xr.Dataset({p.name: ((*lead, *_decoder_dims(p.dims, plist is model.decoder_params)),
                                    values[p.name]) for p in plist})

    groups: dict[str, xr.Dataset] = {
        "encoder": weights(params["encoder"], model.encoder_params),
        "decoder": weights(params["decoder"], model.decoder_params),
    }
    if spec.likelihood == "normal":
        groups["decoder"]["noise_sd"] = ("output", params["noise"])
    if spec.bayesian:
        groups["decoder_sd"] = weights(params["decoder_sd"], model.decoder_params)
        rng = np.random.default_rng(seed)
        draws = {p.name: (params["decoder"][p.name] + params["decoder_sd"][p.name]
                          * rng.standard_normal((options.draws, *p.shape)))[None] for p in model.decoder_params}
        posterior = weights(draws, model.decoder_params, ("chain", "draw"))
        groups["posterior"] = posterior.assign_coords(chain=[0], draw=np.arange(options.draws))
        groups["posterior"].attrs["pbnn_draws"] = ("independent draws of the mean-field q(w) of the decoder's "
                                                   "weights, not a Markov chain")
    fitted = VAEFit(spec, xr.DataTree.from_dict(groups))
    fitted.idata.attrs["pbnn_input_shape"] = json.dumps(list(input_shape))
    mean, scale = fitted._encode(X)
    obs = {"obs": np.arange(len(X))}
    groups["latent"] = xr.Dataset({"mean": (("obs", "latent"), mean), "scale": (("obs", "latent"), scale)},
                                  coords=obs)
    groups["optimizer_stats"] = xr.Dataset({"elbo": ("step", -np.asarray(out.losses))},
                                           coords={"step": np.arange(1, len(out.losses) + 1)})
    groups["optimizer_stats"]["elbo"].attrs["meaning"] = ELBO_MEANING
    groups["observed_data"] = xr.Dataset({"X": (("obs", *input_dims(input_shape)), X)}, coords=obs)
    attrs = {
        "pbnn_version": _version(),
        "pbnn_method": METHOD,
        "pbnn_options": json.dumps(_jsonable(options.to_dict()), sort_keys=True),
        "pbnn_spec": spec.to_toml(),
        "pbnn_input_shape": json.dumps(list(input_shape)),
        "pbnn_fit_seconds": float(time.perf_counter() - start),
        "pbnn_seed": int(seed),
        "pbnn_likelihood": f"{spec.likelihood}: {VAE_LIKELIHOODS[spec.likelihood]}",
        "pbnn_elbo": ELBO_MEANING,
        "pbnn_steps_done": int(out.steps),
    }
    for ds in groups.values():
        ds.attrs.update({k: attrs[k] for k in ("pbnn_version", "pbnn_method")})
    idata = xr.DataTree.from_dict(groups)
    idata.attrs.update(attrs)
    return VAEFit(spec, idata)


def _decoder_dims(dims: tuple[str, ...], decoder: bool) -> tuple[str, ...]:
    """A decoder's input dim is ``latent`` (:mod:`pbnn.network` calls a network's input ``input``)."""
    return tuple("latent" if decoder and d == "input" else d for d in dims)
