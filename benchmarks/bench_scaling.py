"""How the cost of an ADVI step grows with the data (minibatch 128) and with the width of the network."""

from __future__ import annotations

import numpy as np

import pbnn
from benchmarks.common import table
from pbnn import layers as L
from pbnn import priors as P
from pbnn.inference.jax_advi import fit_advi

TITLE = "Scaling of the JAX ADVI engine: data size and width"


def _spec(width: int) -> pbnn.BNN:
    return pbnn.BNN([L.Dense(width, activation="tanh"), L.Dense(width, activation="tanh"), L.Dense(1)],
                    prior=P.Normal(1.0), likelihood="bernoulli", name=f"tanh-{width}")


def _step_ms(spec, n, batch_size, steps):
    ds = pbnn.datasets.moons(n_samples=2 * n)
    model = spec.build(ds.X_train, ds.y_train)
    res = fit_advi(model, steps=steps, batch_size=batch_size, data_names=("X", "target"), seed=0, init_scale=0.1)
    return 1e3 * res.run_seconds / steps, res.compile_seconds


def run(quick: bool = False) -> str:
    steps = 500 if quick else 2_000
    rows = []
    for n in (1_000, 10_000, 100_000):
        for bs in (128, None):
            ms, comp = _step_ms(_spec(5), n, bs, steps)
            rows.append({"points": n, "width": 5, "batch": bs or "full", "ms/step": ms, "compile s": comp})
    for width in (5, 50, 500):
        ms, comp = _step_ms(_spec(width), 1_000, 128, steps)
        rows.append({"points": 1_000, "width": width, "batch": 128, "ms/step": ms, "compile s": comp})
    def growth(batch) -> float:  # step time at 100k points over that at 1k points
        ms = {r["points"]: r["ms/step"] for r in rows[:6] if r["batch"] == batch}
        return ms[100_000] / ms[1_000]

    return (
        f"Mean-field ADVI, {steps} steps, 2-W-W-1 tanh BNN on moons of the given size; time per step of the "
        f"compiled loop (compile reported apart). From 1k to 100k points (100x) the step time grows "
        f"{growth(128):.1f}x with minibatches of 128 and {growth('full'):.0f}x with the full batch.\n\n" + table(rows)
    )
