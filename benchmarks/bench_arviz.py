"""ADVI vs NUTS the ArviZ way: PSIS-LOO and ``az.compare`` of every method's fit on moons, and the VI check
of Yao et al. (2018), the Pareto k-hat of p/q, for each approximation on moons and on the noisy sine.

Every fit carries its ``log_likelihood`` group, so ``arviz_stats.compare`` takes the DataTrees as they come;
``pbnn.elpd.vi_khat`` is the k-hat, ``fit.predict(X, reweight="psis")`` the PSIS-corrected predictions.
"""

from __future__ import annotations

import time
import warnings

import arviz_stats as azs
import numpy as np
from scipy.special import logsumexp

import pbnn
from benchmarks.common import table

TITLE = "ADVI vs NUTS the ArviZ way: PSIS-LOO, az.compare and the VI check (Pareto k-hat of p/q)"

SEED = 1
#: Each method's options: ADVI and full rank as the compare report's published runs, NUTS 2 x (500 + 500).
OPTIONS = {
    "advi": {"steps": 20000, "draws": 1000},
    "fullrank_advi": {"steps": 20000, "draws": 1000, "mc_samples": 16, "final_learning_rate": 0.001},
    "laplace": {"draws": 1000},
    "pathfinder": {"draws": 1000},
    "nuts": {"sampler": "numpyro", "draws": 500, "tune": 500, "chains": 2},
}
QUICK = {"advi": {"steps": 1000, "draws": 100}, "fullrank_advi": {"steps": 1000, "draws": 100, "mc_samples": 4},
         "laplace": {"draws": 100}, "pathfinder": {"draws": 100},
         "nuts": {"sampler": "numpyro", "draws": 50, "tune": 50, "chains": 2}}


def _fits(spec: pbnn.BNN, ds: pbnn.datasets.Dataset, options: dict) -> dict[str, tuple[pbnn.Fit, float]]:
    fits = {}
    for method, opts in options.items():
        t0 = time.perf_counter()
        fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=SEED, progressbar=False, **opts)
        fits[method] = (fit, time.perf_counter() - t0)
    return fits


def _lpd(pred: pbnn.predict.Predictions) -> float:
    """Held-out log predictive density per test point (nats)."""
    ll = pred["log_likelihood"]["y"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    return float(np.mean(logsumexp(ll, axis=0) - np.log(len(ll))))


def _khat_row(data: str, method: str, fit: pbnn.Fit, ds: pbnn.datasets.Dataset, seconds: float) -> dict:
    row = {"data": data, "method": method, "k-hat": pbnn.elpd.vi_khat(fit), "fit s": seconds}
    plain = fit.predict(ds.X_test, ds.y_test)
    row["test LPD"] = _lpd(plain)
    if "log_q" in fit.idata["sample_stats"]:  # Pathfinder's draws are resampled by PSIS already
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the k-hat >= 0.7 warning: the table shows k-hat
            psis = fit.predict(ds.X_test, ds.y_test, reweight="psis")
        row["test LPD, PSIS-resampled"] = _lpd(psis)
        resampled, _ = pbnn.elpd.psis_posterior(fit)  # the draws predict(reweight="psis") used (seed 0)
        first = next(iter(resampled.data_vars.values())).values.reshape(resampled.sizes["draw"], -1)
        row["distinct draws after PSIS"] = len(np.unique(first, axis=0))
    else:
        row["test LPD, PSIS-resampled"] = float("nan")
        row["distinct draws after PSIS"] = float("nan")
    return row


def run(quick: bool = False) -> str:
    options = QUICK if quick else OPTIONS
    moons = pbnn.datasets.moons(seed=SEED)
    fits = _fits(pbnn.zoo.two_layer_tanh(), moons, options)
    compared = azs.compare({m: f.idata for m, (f, _) in fits.items()})
    loo_rows = []
    for method, (fit, seconds) in fits.items():
        loo = azs.loo(fit.idata, pointwise=True)
        loo_rows.append({"method": method, "elpd_loo": float(loo.elpd), "se": float(loo.se), "p_loo": float(loo.p),
                         "share k > 0.7": float(np.mean(np.asarray(loo.pareto_k) > 0.7)),
                         "rank": int(compared.loc[method, "rank"]), "elpd_diff": float(compared.loc[method, "elpd_diff"]),
                         "dse": float(compared.loc[method, "dse"]),
                         "test acc": fit.predict(moons.X_test).accuracy(moons.y_test), "fit s": seconds})
    khat_rows = [_khat_row("moons", m, f, moons, s) for m, (f, s) in fits.items() if m != "nuts"]
    sine = pbnn.datasets.sine(seed=SEED)
    sine_options = {m: options[m] for m in ("advi", "fullrank_advi")}
    khat_rows += [_khat_row("sine", m, f, sine, s) for m, (f, s) in _fits(pbnn.zoo.sine(), sine, sine_options).items()]
    return "\n\n".join([
        f"`pbnn.datasets.moons(seed={SEED})` ({len(moons.y_train)} training, {len(moons.y_test)} test points), "
        f"`pbnn.zoo.two_layer_tanh()`, seed {SEED}; options: "
        + "; ".join(f"{m} {o}" for m, o in options.items())
        + ". PSIS-LOO of each fit's `log_likelihood` group on the training data (`arviz_stats.loo`) and "
        "ArviZ's ranking (`arviz_stats.compare`, stacking weights):",
        table(loo_rows),
        "The VI check (Yao, Vehtari, Simpson and Gelman 2018): k-hat of log p(theta, y) - log q(theta) over each "
        "approximation's draws (`pbnn.elpd.vi_khat`; Pathfinder's is pymc-extras' own, over its paths' draws "
        "before its PSIS resampling). Below 0.7 PSIS can correct q's expectations; the PSIS-resampled column is "
        "`fit.predict(X_test, y_test, reweight='psis')`. Sine: `pbnn.datasets.sine(seed="
        f"{SEED})` ({len(sine.y_train)} training points), `pbnn.zoo.sine()`.",
        table(khat_rows),
    ])
