"""``method="ensemble"``: a deep ensemble (Lakshminarayanan et al. 2017), M independently initialised fits.

Each member is a fit of the ``member`` method (``map``: the posterior mode, Adam on the log posterior density;
``advi``: a mean-field Gaussian; ``swag``: SWA-Gaussian, so that an ensemble of SWAGs is MultiSWAG) by that
method's own engine, on the same model, from its own seed: member ``m`` is exactly ``pbnn.fit(spec, X, y,
member, seed=member_seeds(seed, M)[m], ...)`` (seeds from ``numpy.random.SeedSequence(seed)``, so the fit is
reproducible), with its own starting point (a prior draw) and minibatches. The members share the compiled loop:
only the first compiles.

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
        **options) -> EngineResult:
    """Fit ``members`` members of method ``member`` (see the module doc); ``options`` are
    :class:`~pbnn.inference.methods.EnsembleOptions`' other fields. A member that diverges or is interrupted
    ends the ensemble: the fault is the member's, the posterior holds the members fitted so far and that member's
    last state."""
    resolved = EnsembleOptions(members=members, member=member, **options).member_options()
    engine = get_method(member).load()
    results: list[EngineResult] = []
    fault, message = None, ""
    for m, member_seed in enumerate(member_seeds(seed, members)):
        try:
            result = engine(spec, model, X, y, seed=member_seed, progressbar=progressbar, **resolved.to_dict())
        except KeyboardInterrupt:  # before the member's first step
            if not results:
                raise
            fault, message = "interrupted", f"ensemble interrupted before member {m + 1} of {members}"
            break
        results.append(result)
        if result.fault is not None:
            fault, message = result.fault, f"ensemble member {m + 1} of {members}: {result.message}"
            break
    posterior = xr.concat([r.posterior for r in results], dim="chain", combine_attrs="drop")
    posterior = posterior.assign_coords(chain=np.arange(len(results)))
    posterior.attrs["pbnn_draws"] = member_draws(members, member)
    return EngineResult(posterior, _histories(results), fault, message)


def _histories(results: list[EngineResult]) -> xr.Dataset:
    """The members' per-step statistics stacked along ``chain`` (NaN after a member's last step)."""
    per_step = [r.sample_stats[[n for n, v in r.sample_stats.data_vars.items() if "step" in v.dims]]
                for r in results]
    stacked = xr.concat(per_step, dim="chain", join="outer", fill_value=np.nan)
    return stacked.assign_coords(chain=np.arange(len(results)))
