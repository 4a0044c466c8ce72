"""SG-MCMC (SGLD, SGHMC) against NUTS and ADVI on moons: test accuracy and log predictive density, wall time,
function-space r_hat and ESS across 4 chains; and vmapped chains against chains in turn."""

from __future__ import annotations

import time
import warnings

import numpy as np

import pbnn
from benchmarks.common import table
from benchmarks.models import moons

TITLE = "SG-MCMC: SGLD and SGHMC vs NUTS and ADVI (moons, 2-5-5-1 tanh, 500 points)"


def _runs(quick: bool) -> list[tuple[str, str, dict]]:
    if quick:
        return [("sgld", "draws 20, thin 5", {"draws": 20, "burn_in": 100, "thin": 5}),
                ("sghmc", "draws 20, thin 5", {"draws": 20, "burn_in": 100, "thin": 5}),
                ("nuts", "numpyro, 20 + 20", {"sampler": "numpyro", "draws": 20, "tune": 20}),
                ("advi", "500 steps", {"steps": 500})]
    return [
        ("sgld", "defaults", {}),
        ("sgld", "thin 100 (105k steps)", {"thin": 100}),
        ("sgld", "cyclical, step 1e-3, thin 100", {"schedule": "cyclical", "step_size": 1e-3, "thin": 100}),
        ("sghmc", "defaults", {}),
        ("sghmc", "thin 100 (105k steps)", {"thin": 100}),
        ("nuts", "numpyro, 500 tune + 500 draws", {"sampler": "numpyro", "draws": 500, "tune": 500}),
        ("advi", "defaults (30k steps)", {}),
    ]


def run(quick: bool = False) -> str:
    ds = moons()
    spec = pbnn.zoo.two_layer_tanh()
    rows = []
    for method, label, options in _runs(quick):
        chains = {"chains": 4} if method != "advi" else {}
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # r_hat warnings: the table shows r_hat
            fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=0, progressbar=False, **chains, **options)
        wall = time.perf_counter() - t0
        scores = fit.predict(ds.X_test).scores(ds.y_test)
        checks = {c.name: c.value for c in pbnn.diagnose(fit).checks if c.space == "function"}
        rows.append({"method": method, "options": label, "fit s": wall, "test acc": float(scores["accuracy"]),
                     "test lpd": float(scores["lpd"]), "r_hat of p (max)": checks.get("r_hat (max)", "–"),
                     "ESS bulk of p (min)": checks.get("ESS bulk (min)", "–")})
    return (
        "4 chains each (ADVI: one fit); seed 0; `fit s` is the wall time of a first `pbnn.fit` in the process, "
        "compiling included. r_hat and ESS of the predicted probabilities at 200 training inputs, from "
        "`pbnn.diagnose`. SG-MCMC defaults: batch 32, 5000 burn-in steps, 1000 draws thinned by 50; SGLD step size "
        "5e-4, SGHMC step size 0.01 with friction 20.\n\n" + table(rows) + "\n\n" + _chains(ds, quick)
    )


def _chains(ds, quick: bool) -> str:
    """Seconds of 4 chains vmapped in one compiled chunk against 4 runs of one chain (compiled before)."""
    from pbnn.compile import build_model
    from pbnn.inference import sgmcmc

    model = build_model(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train)
    rows = []
    for batch_size in (32, None):
        opts = {"draws": 50 if quick else 500, "burn_in": 0 if quick else 5000, "thin": 50, "batch_size": batch_size,
                "step_size": 5e-4, "seed": 0, "progressbar": False}
        for chains in (1, 4):  # compile both
            sgmcmc.run("sgld", model, chains=chains, **{**opts, "draws": 1, "burn_in": 0})
        seconds = {}
        for chains in (1, 4):
            t0 = time.perf_counter()
            sgmcmc.run("sgld", model, chains=chains, **opts)
            seconds[chains] = time.perf_counter() - t0
        steps = opts["burn_in"] + opts["draws"] * opts["thin"]
        rows.append({"batch": batch_size or "all 500", "steps per chain": steps, "4 chains vmapped s": seconds[4],
                     "4 x 1 chain s": 4 * seconds[1], "vmapped / in turn": seconds[4] / (4 * seconds[1])})
    return ("SGLD chains: 4 vmapped in one compiled chunk against 4 runs of one chain (compiled before; CPU).\n\n"
            + table(rows))
