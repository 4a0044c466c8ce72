"""Has the fit converged? One call, one verdict table a user can read.

A BNN's weight posterior has symmetric modes (permuted hidden units, sign flips): chains that agree
on every prediction can disagree on every weight, so weight-space r_hat alone misleads. pbnn judges
convergence in function space, on the predicted probabilities (or means) at a probe set, and shows
the weight-space numbers next to them for information. Samplers add their divergences; ADVI is judged
by its ELBO history. r_hat, ESS and MCSE come from ArviZ (``arviz_stats``).

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> d = pbnn.diagnose(fit)
>>> [c.name for c in d.checks]
['ELBO relative change', 'ELBO non-finite steps', 'Pareto k-hat of p/q', 'MCSE of the mean (max)']
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from pbnn.elpd import has_vi_khat
from pbnn.inference import methods
from pbnn.results import Fit
from pbnn.validation import check_X

__all__ = ["Check", "Diagnosis", "diagnose", "elbo_relative_change"]

#: Methods whose draws are Markov chains (r_hat and ESS apply; the registry's ``chains`` capability); other
#: methods draw independently.
MCMC_METHODS = tuple(methods.names(chains=True))
SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class Check:
    """One row of the verdict table.

    ``status`` is ``"ok"`` or ``"FAIL"`` for checks that decide the verdict, ``"WARN"`` for a quality check
    that does not (a variational approximation's k-hat) and ``"info"`` for numbers shown for information
    (weight-space r_hat, MCSE).
    """

    space: str
    name: str
    value: float
    target: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found: the checks, and the numbers behind them.

    ``function``: r_hat, bulk ESS and MCSE of every predicted output at the probe set (MCMC only
    r_hat/ESS; an ensemble adds ``member_sd``, the sd between its members' mean predictions); ``weights``: the worst r_hat, ESS and MCSE per posterior variable (MCMC only).
    """

    method: str
    checks: tuple[Check, ...]
    function: xr.Dataset
    weights: xr.Dataset | None = None

    @property
    def ok(self) -> bool:
        """True when no check that decides the verdict failed."""
        return all(c.status != "FAIL" for c in self.checks)

    @property
    def verdict(self) -> str:
        failed = [c.name for c in self.checks if c.status == "FAIL"]
        return "converged" if not failed else "NOT converged: " + ", ".join(failed)

    @property
    def table(self) -> xr.Dataset:
        """The checks as a Dataset along ``check`` (``space``, ``value``, ``target``, ``status``, ``note``)."""
        fields = ("space", "value", "target", "status", "note")
        return xr.Dataset(
            {f: ("check", [getattr(c, f) for c in self.checks]) for f in fields},
            coords={"check": [c.name for c in self.checks]},
            attrs={"method": self.method, "verdict": self.verdict},
        )

    def _rows(self) -> list[tuple[str, ...]]:
        return [(c.space, c.name, _fmt(c.value), c.target, c.status, c.note) for c in self.checks]

    def __repr__(self) -> str:
        header = ("space", "check", "value", "target", "status", "note")
        rows = [header, *self._rows()]
        widths = [max(len(r[k]) for r in rows) for k in range(len(header) - 1)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1] for r in rows]
        return f"Diagnosis ({self.method}): {self.verdict}\n" + "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("space", "check", "value", "target", "status", "note"))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self._rows()
        )
        return (
            f"<p><b>Diagnosis ({html.escape(self.method)}): {html.escape(self.verdict)}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def diagnose(
    fit: Fit,
    X_probe: Any = None,
    *,
    n_probe: int = 200,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    elbo_window: float = 0.1,
    elbo_rtol: float = 0.01,
    spread_min: float = 0.05,
) -> Diagnosis:
    """Check the convergence of ``fit`` and return a :class:`Diagnosis` (print it for the table).

    ``X_probe``: inputs at which the predictions are checked; default: up to ``n_probe`` training
    inputs, evenly spaced through the training set.

    MCMC (NUTS): divergences must be 0; in function space the rank-normalized split r_hat of every
    predicted output must be at most ``rhat_max`` and its bulk ESS at least ``ess_min`` (default
    100 per chain); weight-space r_hat/ESS/MCSE are shown for information. ADVI: the ELBO history
    must be finite and the relative change of its mean between the last two windows of
    ``elbo_window`` of the steps (:func:`elbo_relative_change`) at most ``elbo_rtol``. Both show
    the Monte Carlo standard error of the predictive mean. Classifiers: the predictive probability of
    some class must vary by at least ``spread_min`` over the probe set; a network that predicts the
    same (the base rate, or 0.5) everywhere has learnt nothing from ``X``: a failed check is added
    whose note names the likely cause (e.g. unscaled features fitted with ``standardize=False``).
    An ensemble (chains that are independent members, the registry's ``members`` capability) gets no r_hat: an
    info row shows the sd between the members' mean predictions, averaged over the probe set, and ADVI members'
    ELBO checks report the worst member.
    ADVI (JAX engine), Laplace and Pathfinder fits add the Pareto k-hat
    of their importance ratios p/q (:func:`pbnn.elpd.vi_khat`; WARN at 0.7 and above, outside the verdict).
    """
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit (from pbnn.fit), got {type(fit).__name__}")
    if not 0 < elbo_window <= 0.5:
        raise ValueError(f"elbo_window: expected a fraction of the steps in (0, 0.5], got {elbo_window!r}")
    outputs = _probe_outputs(fit, X_probe, n_probe)
    method = methods.METHODS.get(fit.method)
    stats = fit.idata["sample_stats"].to_dataset() if "sample_stats" in fit.idata.children else xr.Dataset()
    n_chains = fit.idata["posterior"].sizes["chain"]
    mcse = azs.mcse(outputs, sample_dims=SAMPLE_DIMS, method="mean")
    mcse_check = Check("function", "MCSE of the mean (max)", _max(mcse), "", "info", "Monte Carlo error of the predictions")
    checks: list[Check] = []
    function = xr.Dataset({"mcse": mcse})
    weights = None
    if "elbo" in fit.optimizer_stats:
        checks += _elbo_checks(fit.optimizer_stats["elbo"].values, elbo_window, elbo_rtol)
    members = method is not None and method.capabilities.members
    if has_vi_khat(fit):
        checks.append(_khat_check(fit))
    if "diverging" in stats:
        n_div = int(stats["diverging"].sum())
        checks.append(Check("sampler", "divergences", n_div, "= 0", _status(n_div == 0), "sampler left the posterior's geometry" if n_div else ""))
    if fit.method in MCMC_METHODS:
        ess_min = 100.0 * n_chains if ess_min is None else float(ess_min)
        rhat = azs.rhat(outputs, sample_dims=SAMPLE_DIMS)
        ess = azs.ess(outputs, sample_dims=SAMPLE_DIMS, method="bulk")
        function = xr.Dataset({"r_hat": rhat, "ess_bulk": ess, "mcse": mcse})
        checks += [
            Check("function", "r_hat (max)", _max(rhat), f"<= {rhat_max:g}", _status(_max(rhat) <= rhat_max), "predictions at the probe set"),
            Check("function", "ESS bulk (min)", _min(ess), f">= {ess_min:g}", _status(_min(ess) >= ess_min)),
            mcse_check,
        ]
        weights = _weight_summary(fit.posterior)
        checks += [
            Check("weights", "r_hat (max)", float(weights["r_hat_max"].max()), f"<= {rhat_max:g}", "info",
                  "symmetric modes (permuted units, sign flips) inflate it"),
            Check("weights", "ESS bulk (min)", float(weights["ess_bulk_min"].min()), f">= {ess_min:g}", "info"),
            Check("weights", "MCSE of the mean (max)", float(weights["mcse_max"].max()), "", "info"),
        ]
    else:
        checks.append(mcse_check)
    if members and n_chains > 1:
        spread = outputs.mean("draw").std("chain", ddof=1)
        function["member_sd"] = spread
        checks.append(Check("function", "spread between members (mean sd)", float(spread.mean()), "", "info",
                            f"sd of the {n_chains} members' mean predictions at the probe set (not r_hat: members "
                            "are independent fits)"))
    if fit.spec.task == "classification" and (constant := _constant_check(fit, outputs, spread_min)) is not None:
        checks.append(constant)
    return Diagnosis(fit.method, tuple(checks), function, weights)


def elbo_relative_change(elbo: np.ndarray, window: float = 0.1) -> float:
    """``|mean(last window) - mean(window before)| / |mean(last window)|`` of an ELBO history.

    Each window holds the fraction ``window`` of the steps (at least one step).

    >>> elbo_relative_change(np.r_[np.full(10, -110.0), np.full(10, -100.0)], window=0.5)
    0.1
    """
    elbo = np.asarray(elbo, dtype=np.float64)
    width = max(1, int(len(elbo) * window))
    if len(elbo) < 2 * width:
        raise ValueError(f"elbo: need at least {2 * width} steps, got {len(elbo)}")
    last, before = elbo[-width:].mean(), elbo[-2 * width : -width].mean()
    return float(abs(last - before) / abs(last))


def _elbo_checks(elbo: np.ndarray, window: float, rtol: float) -> list[Check]:
    if elbo.ndim == 2:  # an ensemble's members (chain, step): the worst change, the non-finite steps of all
        rows = [_elbo_checks(row, window, rtol) for row in elbo]
        change = max(rows, key=lambda r: -np.inf if np.isnan(r[0].value) else r[0].value)[0]
        bad = sum(r[1].value for r in rows)
        return [Check(change.space, change.name, change.value, change.target,
                      "FAIL" if any(r[0].status == "FAIL" for r in rows) else "ok",
                      f"worst of {len(rows)} members: {change.note}"),
                Check("optimizer", "ELBO non-finite steps", bad, "= 0", _status(bad == 0),
                      "a member diverged; lower learning_rate" if bad else "")]
    finite = np.isfinite(elbo)
    n_bad = int((~finite).sum())
    checks = [Check("optimizer", "ELBO non-finite steps", n_bad, "= 0", _status(n_bad == 0),
                    "the optimizer diverged; lower learning_rate" if n_bad else "")]
    if finite.sum() < 2:
        return [Check("optimizer", "ELBO relative change", float("nan"), f"<= {rtol:g}", "FAIL", "too few finite steps"), *checks]
    change = elbo_relative_change(elbo[finite], window)
    note = f"mean of the last {window:.0%} of {finite.sum()} steps vs the {window:.0%} before"
    return [Check("optimizer", "ELBO relative change", change, f"<= {rtol:g}", _status(change <= rtol),
                  note if change <= rtol else note + "; run more steps"), *checks]


def _constant_check(fit: Fit, outputs: xr.DataArray, band: float) -> Check | None:
    """A failed check when the predictive probabilities hardly vary over the probe inputs (largest range of
    one class below ``band``); None otherwise."""
    mean = outputs.mean(SAMPLE_DIMS).values  # (obs,) for bernoulli's p, (obs, class) for categorical
    spread = float(np.ptp(mean, axis=0).max())
    name = "spread of the predictions over inputs"
    if spread >= band:
        return None
    y = fit.idata["observed_data"]["y"].values.astype(np.int64)
    base = y.mean() if mean.ndim == 1 else (np.bincount(y, minlength=mean.shape[-1]) / len(y)).max()
    p = mean.mean() if mean.ndim == 1 else mean.mean(axis=0).max()
    what = "p" if mean.ndim == 1 else "largest class probability"
    return Check("function", name, spread, f">= {band:g}", "FAIL",
                 f"the same prediction everywhere ({what} {p:.3f}; training base rate {base:.3f}): "
                 + _constant_cause(fit))


def _constant_cause(fit: Fit) -> str:
    from pbnn.scaling import FeatureScaling

    X = fit.idata["constant_data"]["X"].values
    if X.ndim == 2 and FeatureScaling.from_attrs(fit.idata.attrs).is_identity:
        sd = X.std(axis=0)
        sd = sd[sd > 0]
        if sd.size and (sd.max() > 10 or sd.max() / sd.min() > 100):
            return (f"the features are unscaled (sd {sd.min():.3g} to {sd.max():.3g}), so the first layer "
                    "saturates; fit with standardize=True (the default)")
    return ("the output does not depend on the inputs (the features carry no signal, or the fit stayed "
            "near the prior); try more steps, another learning_rate or seed")


def _khat_check(fit: Fit) -> Check:
    """The VI check of Yao et al. (2018): k-hat of log p - log q over the draws (:func:`pbnn.elpd.vi_khat`);
    WARN, not FAIL: a poor approximation can be a converged optimisation."""
    from pbnn.elpd import KHAT_GOOD, vi_khat

    khat = vi_khat(fit)
    good = khat < KHAT_GOOD
    note = ("importance ratios p/q light-tailed enough for PSIS" if good else
            "q is far from the posterior (heavy-tailed p/q): its spread and LOO are not the posterior's")
    return Check("approximation", "Pareto k-hat of p/q", khat, f"< {KHAT_GOOD:g}", "ok" if good else "WARN", note)


def _probe_outputs(fit: Fit, X_probe: Any, n_probe: int) -> xr.DataArray:
    """Predicted probabilities (or means) at the probe inputs, (chain, draw, obs, ...)."""
    if X_probe is None:
        X = fit.idata["constant_data"]["X"].values
        X_probe = X[np.unique(np.linspace(0, len(X) - 1, min(n_probe, len(X))).astype(int))]
    else:
        X_probe = check_X(X_probe, "X_probe")
    pred = fit.predict(X_probe)
    return pred["predictions"]["p" if fit.spec.task == "classification" else "mu"]


def _weight_summary(posterior: xr.Dataset) -> xr.Dataset:
    """Worst r_hat, bulk ESS and MCSE of each posterior variable, along ``variable``."""
    # numpyro's draws arrive as jax arrays; indexing them element-wise is slow, so copy to numpy once
    posterior = xr.Dataset(
        {name: (da.dims, np.asarray(da.data)) for name, da in posterior.data_vars.items()}, coords=posterior.coords
    )
    per_var = {
        "r_hat_max": (azs.rhat(posterior, sample_dims=SAMPLE_DIMS), "max"),
        "ess_bulk_min": (azs.ess(posterior, sample_dims=SAMPLE_DIMS, method="bulk"), "min"),
        "mcse_max": (azs.mcse(posterior, sample_dims=SAMPLE_DIMS, method="mean"), "max"),
    }
    names = list(posterior.data_vars)
    return xr.Dataset(
        {key: ("variable", [float(getattr(ds[v], how)()) for v in names]) for key, (ds, how) in per_var.items()},
        coords={"variable": names},
    )


def _status(passed: bool) -> str:
    return "ok" if passed else "FAIL"


def _max(da: xr.DataArray) -> float:
    """Largest finite value; NaN when there is none (e.g. the MCSE of a single-draw MAP fit)."""
    values = da.values[np.isfinite(da.values)]
    return float(values.max()) if values.size else float("nan")


def _min(da: xr.DataArray) -> float:
    values = da.values[np.isfinite(da.values)]
    return float(values.min()) if values.size else float("nan")


def _fmt(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value)}"
    return f"{value:.4g}"
