"""Normalizing-flow VI (``method="flow_vi"``, numpyro's IAF and BNAF) against mean-field and full-rank ADVI: the VI
check of Yao et al. (2018), the Pareto k-hat of p/q (``pbnn.elpd.vi_khat``), with the test accuracy or RMSE, the
test log predictive density and the seconds of each fit, on moons and on the noisy sine."""

from __future__ import annotations

import os
import time

import numpy as np
from scipy.special import logsumexp

import pbnn
from benchmarks.common import table

TITLE = "Normalizing-flow VI (flow_vi) vs ADVI: VI k-hat, test metrics and seconds"

SEED = 1
#: ADVI and full rank as bench_arviz's runs. The flows: fewer steps, as each costs more (the table's ms / step);
#: on the sine a rate of 0.005 diverged in quality (the loss ended at 1.3e7 from 1146; k-hat 153), hence 0.001;
#: no BNAF on the sine, whose D = 482 makes a BNAF step cost ~1.4 s here (its weights grow as (D * hidden)^2).
OPTIONS = {
    "moons": {
        "advi": {"steps": 20000, "draws": 1000},
        "fullrank_advi": {"steps": 20000, "draws": 1000, "mc_samples": 16, "final_learning_rate": 0.001},
        "flow_vi iaf": {"flow": "iaf", "steps": 10000, "draws": 1000, "mc_samples": 4, "learning_rate": 0.005,
                        "final_learning_rate": 0.0005},
        "flow_vi bnaf": {"flow": "bnaf", "steps": 5000, "draws": 1000, "mc_samples": 4, "learning_rate": 0.005,
                         "final_learning_rate": 0.0005},
    },
    "sine": {
        "advi": {"steps": 20000, "draws": 1000},
        "fullrank_advi": {"steps": 20000, "draws": 1000, "mc_samples": 16, "final_learning_rate": 0.001},
        "flow_vi iaf": {"flow": "iaf", "steps": 3000, "draws": 1000, "learning_rate": 0.001,
                        "final_learning_rate": 0.0001},
    },
}
QUICK = {data: {"advi": {"steps": 500, "draws": 100}, "flow_vi iaf": {"flow": "iaf", "steps": 300, "draws": 100}}
         for data in ("moons", "sine")}


def _lpd(pred) -> float:
    """Held-out log predictive density per test point (nats)."""
    ll = pred["log_likelihood"]["y"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    return float(np.mean(logsumexp(ll, axis=0) - np.log(len(ll))))


def epistemic_ratio(std: np.ndarray, x: np.ndarray, x_train: np.ndarray) -> float:
    """Mean epistemic std ``std`` (of the network's mean over draws) at the test inputs ``x`` outside the training
    interval over its mean inside it: how much more the posterior doubts the function away from the data.

    >>> epistemic_ratio(np.array([1.0, 1.0, 3.0]), np.array([0.0, 0.5, 2.0]), np.array([-0.5, 0.5]))
    3.0
    """
    x, x_train = np.ravel(x), np.ravel(x_train)
    inside = (x >= x_train.min()) & (x <= x_train.max())
    return float(np.mean(std[~inside]) / np.mean(std[inside]))


def _row(data: str, label: str, spec: pbnn.BNN, ds, opts: dict) -> dict:
    method, extra = label.split()[0], {}
    t0 = time.perf_counter()
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, method=method, seed=SEED, progressbar=False, **opts)
    seconds = time.perf_counter() - t0
    pred = fit.predict(ds.X_test, ds.y_test)
    if spec.task == "classification":
        metric = ("test acc", pred.accuracy(ds.y_test))
    else:
        mean = pred.mean().values.ravel()
        metric = ("test RMSE", float(np.sqrt(np.mean((mean - np.ravel(ds.y_test)) ** 2))))
        std = pbnn.uncertainty(pred)["epistemic_std"].values
        extra = {"epistemic out / in": epistemic_ratio(std, ds.X_test, ds.X_train)}
    stats = fit.optimizer_stats  # empty for a sampler (NUTS): no q for a k-hat, no optimisation loop
    variational = "step" in stats.sizes
    loop_seconds = stats.attrs.get("pbnn_run_seconds", float("nan"))  # flow_vi's: ADVI's engine does not record it
    return {"data": data, "method": label, metric[0]: metric[1], "test LPD": _lpd(pred),
            "k-hat": pbnn.elpd.vi_khat(fit) if variational else float("nan"), "fit s": seconds,
            "loop ms / step": 1e3 * loop_seconds / stats.sizes["step"] if variational else float("nan"), **extra}


def run(quick: bool = False) -> str:
    options = QUICK if quick else OPTIONS
    only = os.environ.get("PBNN_FLOW_METHODS")  # e.g. "flow_vi iaf" to rerun one configuration
    if only:
        wanted = [s.strip() for s in only.split(",")]
        options = {data: {k: v for k, v in opts.items() if k in wanted} for data, opts in options.items()}
    moons, sine = pbnn.datasets.moons(seed=SEED), pbnn.datasets.sine(seed=SEED)
    moons_rows = [_row("moons", m, pbnn.zoo.two_layer_tanh(), moons, o) for m, o in options["moons"].items()]
    sine_rows = [_row("sine", m, pbnn.zoo.sine(), sine, o) for m, o in options["sine"].items()]
    return "\n\n".join([
        f"`pbnn.datasets.moons(seed={SEED})` ({len(moons.y_train)} training points, `pbnn.zoo.two_layer_tanh()`, "
        f"D = 40) and `pbnn.datasets.sine(seed={SEED})` ({len(sine.y_train)} training points, `pbnn.zoo.sine()`, "
        f"D = 482), seed {SEED}; options: " + "; ".join(f"{d} {m} {o}" for d, opts in options.items()
                                                      for m, o in opts.items())
        + ". k-hat: `pbnn.elpd.vi_khat` (below 0.7 PSIS can correct q); test LPD: held-out log predictive density "
        "per point; `fit s`: `pbnn.fit`'s wall time (compilation, draws and the log-likelihood group included); "
        "`loop ms / step`: flow_vi's optimisation loop alone (`optimizer_stats.attrs['pbnn_run_seconds']`).",
        table(moons_rows), table(sine_rows),
    ])
