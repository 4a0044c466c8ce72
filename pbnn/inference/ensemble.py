"""``method="ensemble"``: a deep ensemble (Lakshminarayanan et al. 2017), M independently initialised fits.

Each member is a fit of the ``member`` method (``map``: the posterior mode, Adam on the log posterior density;
``advi``: a mean-field Gaussian; ``swag``: SWA-Gaussian, so that an ensemble of SWAGs is MultiSWAG) by that
method's own engine, on the same model, from its own seed: member ``m`` is exactly ``pbnn.fit(spec, X, y,
member, seed=member_seeds(seed, M)[m], ...)`` (seeds from ``numpy.random.SeedSequence(seed)``, so the fit is
reproducible), with its own starting point (a prior draw) and minibatches. The members share the compiled loop:
only the first compiles. With ``parallel="ray"`` each member is a Ray task (:mod:`pbnn.parallel`: a local Ray of
``workers`` CPUs started on demand, or the cluster at ``ray_address``) that builds the model from the spec and the
data and runs the same engine from the same seed: the same numbers as the members in turn, bit for bit. A
member's fault or Ctrl-C ends the ensemble as in turn: the members before it are kept (and the faulty one's last
state); Ctrl-C cancels the tasks still running and keeps the leading members that finished.

Chain ``m`` of the posterior holds member ``m`` (one draw for ``map``, ``draws`` for ``advi`` and ``swag``), so
``predict``, ``pbnn.uncertainty``, the scores and the training ``log_likelihood`` see the mixture of the
members: the epistemic spread is the spread between them. The chains are not Markov chains: ``pbnn.diagnose``
reports no r_hat and shows the spread between the members. For regression, pbnn's Gaussian likelihoods are
the proper scoring rule of the protocol (the zoo's ``regression`` model is its heteroscedastic network: each
member predicts a mean and a noise sd); there is no adversarial training. ``optimizer_stats`` holds each
member's per-step history (``lp`` or ``elbo``, dims ``chain, step``); the members' per-draw statistics
(ADVI's ``log q`` of its own Gaussian, not of the mixture) are not kept.

>>> import pbnn
>>> ds = pbnn.datasets.sine(n_samples=64)
>>> fit = pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, method="ensemble", members=3, steps=500, seed=0,
...                progressbar=False)
>>> dict(fit.posterior.sizes)["chain"], dict(fit.posterior.sizes)["draw"]
(3, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from pbnn.inference.methods import EngineResult, EnsembleOptions, get_method

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

__all__ = ["member_seeds", "run"]


def member_draws(members: int, member: str) -> str:
    """What ``posterior.attrs["pbnn_draws"]`` says of an ensemble's chains."""
    return (f"chain m holds member m of an ensemble of {members} independent {member} fits, each from its own "
            f"seed (pbnn.inference.ensemble.member_seeds): not Markov chains, so r_hat does not apply; the spread "
            f"between chains is the ensemble's epistemic spread")


def member_seeds(seed: int, members: int) -> list[int]:
    """The seeds of an ensemble's members: ``numpy.random.SeedSequence(seed).generate_state(members)``.

    >>> member_seeds(0, 3)
    [2968811710, 3677149159, 745650761]
    """
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(members)]


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, members: int = 5, member: str = "map",
        parallel: str = "serial", workers: int | None = None, ray_address: str | None = None,
        **options) -> EngineResult:
    """Fit ``members`` members of method ``member`` (see the module doc); ``options`` are
    :class:`~pbnn.inference.methods.EnsembleOptions`' other fields. A member that diverges or is interrupted
    ends the ensemble: the fault is the member's, the posterior holds the members fitted so far and that member's
    last state."""
    resolved = EnsembleOptions(members=members, member=member, parallel=parallel, workers=workers,
                               ray_address=ray_address, **options).member_options().to_dict()
    seeds = member_seeds(seed, members)
    if parallel == "ray":
        results, fault, message = _on_ray(spec, X, y, member, resolved, seeds, progressbar, workers, ray_address)
    else:
        results, fault, message = _in_turn(spec, model, X, y, member, resolved, seeds, progressbar)
    posterior = xr.concat([r.posterior for r in results], dim="chain", combine_attrs="drop")
    posterior = posterior.assign_coords(chain=np.arange(len(results)))
    posterior.attrs["pbnn_draws"] = member_draws(members, member)
    return EngineResult(posterior, _histories(results), fault, message)


def _in_turn(spec, model, X, y, member: str, options: dict, seeds: list[int],
             progressbar: bool) -> tuple[list[EngineResult], str | None, str]:
    """The members one after the other on ``model``: (results, fault, message)."""
    engine = get_method(member).load()
    results: list[EngineResult] = []
    for m, member_seed in enumerate(seeds):
        try:
            result = engine(spec, model, X, y, seed=member_seed, progressbar=progressbar, **options)
        except KeyboardInterrupt:  # before the member's first step
            if not results:
                raise
            return results, "interrupted", f"ensemble interrupted before member {m + 1} of {len(seeds)}"
        results.append(result)
        if result.fault is not None:
            return results, result.fault, f"ensemble member {m + 1} of {len(seeds)}: {result.message}"
    return results, None, ""


def _on_ray(spec, X, y, member: str, options: dict, seeds: list[int], progressbar: bool, workers: int | None,
            address: str | None) -> tuple[list[EngineResult], str | None, str]:
    """The members as Ray tasks, kept as :func:`_in_turn` keeps them: up to and with the first faulty member."""
    from pbnn import parallel
    from pbnn.inference.progress import progress_bar

    finished: dict[int, EngineResult] = {}
    jobs = [(spec, X, y, member, options, s) for s in seeds]
    objective = get_method(member).capabilities.objective
    try:
        with progress_bar(progressbar, len(seeds), label="ensemble (Ray)", value_name=objective) as advance:
            for m, result in parallel.tasks(fit_member, jobs, workers=workers, address=address):
                finished[m] = result
                advance(len(finished), _last(result.sample_stats, objective))
                if any(r.fault is not None and all(j in finished for j in range(k)) for k, r in finished.items()):
                    break  # the members after a faulty one are not kept: cancel them
    except KeyboardInterrupt:
        pass
    results: list[EngineResult] = []
    for m in range(len(seeds)):
        if m not in finished:
            if not results:
                raise KeyboardInterrupt
            return results, "interrupted", f"ensemble interrupted before member {m + 1} of {len(seeds)}"
        results.append(finished[m])
        if finished[m].fault is not None:
            return results, finished[m].fault, f"ensemble member {m + 1} of {len(seeds)}: {finished[m].message}"
    return results, None, ""


def fit_member(spec, X, y, member: str, options: dict, seed: int) -> EngineResult:
    """One member (a Ray task): the ``member`` engine from ``seed`` on the model of ``spec`` and the (standardized)
    data ``X``, ``y``, taken from and given back to :func:`pbnn.fit`'s models of recent fits."""
    from pbnn.inference.fitting import on_kept_model

    engine = get_method(member).load()
    return on_kept_model(spec, X, y, lambda model: engine(spec, model, X, y, seed=seed, progressbar=False, **options),
                         faulty=lambda result: result.fault is not None)


def _last(stats: xr.Dataset, name: str) -> np.ndarray:
    """The last finite value of the per-step statistic ``name`` (NaN if none): a finished member's objective."""
    values = np.asarray(stats[name].values if name in stats else [np.nan], dtype=float).ravel()
    finite = values[np.isfinite(values)]
    return finite[-1:] if finite.size else np.array([np.nan])


def _histories(results: list[EngineResult]) -> xr.Dataset:
    """The members' per-step statistics stacked along ``chain`` (NaN after a member's last step)."""
    per_step = [r.sample_stats[[n for n, v in r.sample_stats.data_vars.items() if "step" in v.dims]]
                for r in results]
    stacked = xr.concat(per_step, dim="chain", join="outer", fill_value=np.nan)
    return stacked.assign_coords(chain=np.arange(len(results)))
