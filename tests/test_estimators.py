"""Tests for pbnn.inference.estimators: local reparameterization and Flipout estimate the same ELBO as the plain
reparameterization (exactly at sd 0, within Monte Carlo error otherwise) with a lower gradient variance;
short fits reach the plain estimator's accuracy; the refusals name ``estimator``."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import pbnn
from pbnn import layers as L
from pbnn import priors as P
from pbnn.inference import estimators, logdensity
from pbnn.inference.jax_advi import elbo_gradients
from pbnn.inference.methods import get_method

KEYS = 400


def _start(model, sd):
    fns = logdensity.log_density(model, ("X", "target"))
    mu = fns.flatten(logdensity.initial_point(model, seed=0))
    return {"mu": mu, "rho": np.full(mu.size, np.log(np.expm1(sd)))}


@pytest.fixture(scope="module")
def moons_gradients(small_moons):
    """ELBO estimates and gradients of the moons BNN at its start (sd 0.5), minibatch 50, for every estimator."""
    spec = pbnn.zoo.two_layer_tanh()
    model = spec.build(small_moons.X_train, small_moons.y_train)
    params = _start(model, 0.5)
    return {est: elbo_gradients(model, params, keys=KEYS, seed=1, batch_size=50, estimator=est, spec=spec,
                                data_names=("X", "target"), chunk=1)  # compiles faster than vectorized
            for est in ("reparam", "local", "flipout")}


@pytest.mark.slow  # the module's fixture: three compiled gradients
@pytest.mark.parametrize("estimator", ["local", "flipout"])
def test_same_expected_elbo_and_gradient(moons_gradients, estimator):
    (elbo0, grads0), (elbo, grads) = moons_gradients["reparam"], moons_gradients[estimator]
    se = np.sqrt(elbo0.var(ddof=1) / KEYS + elbo.var(ddof=1) / KEYS)
    assert abs(elbo.mean() - elbo0.mean()) < 4 * se  # measured: -1.0 se (se 1.5) for both
    for name in ("mu", "rho"):
        a, b = grads0[name], grads[name]
        z = (b.mean(0) - a.mean(0)) / np.sqrt(a.var(0, ddof=1) / KEYS + b.var(0, ddof=1) / KEYS)
        # 35 coordinates: mean z^2 measured 1.10-1.30, max |z| 2.3-2.8
        assert np.mean(z**2) < 2.0 and np.max(np.abs(z)) < 4.5, (name, z)


@pytest.mark.slow
@pytest.mark.parametrize(("estimator", "least"), [("local", 6.0), ("flipout", 4.0)])
def test_lower_gradient_variance(moons_gradients, estimator, least):
    grads0, grads = moons_gradients["reparam"][1], moons_gradients[estimator][1]
    ratio = {k: grads0[k].var(0).sum() / grads[k].var(0).sum() for k in ("mu", "rho")}
    # measured: local 17.6 (mu) / 43 (rho), flipout 9.7 / 7.3
    assert ratio["mu"] > least and ratio["rho"] > least / 2, ratio


def _sampled_and_models_loglik(spec, X, y, estimator):
    """The sampled log-likelihood at sd 0 (any noise) and the model's own, at the model's initial point."""
    model = spec.build(X, y)
    fns = logdensity.log_density(model, ("X", "target"))
    full = logdensity.data_arrays(model, ("X", "target"))
    values = fns.unflatten(fns.flatten(logdensity.initial_point(model, seed=0)))
    sampled = estimators.sampled_loglik(spec, model, estimator, rows=len(X))
    constrained = dict(zip(fns.rv_names, fns.constrain(*values)))
    mean = {name: constrained[name] for name in sampled.weights}
    sd = {name: np.zeros_like(m) for name, m in mean.items()}
    noise = np.random.default_rng(1).normal(size=sampled.noise_size)
    model_loglik = jax.jit(lambda v, data: fns.loglik(*v, *data)[0])  # jitted: eager dispatch is slower
    return float(jax.jit(sampled)(mean, sd, constrained, tuple(full), noise)), float(model_loglik(values, full))


@pytest.mark.slow
def test_sampled_loglik_is_the_models_at_zero_sd():
    """At sd 0 the noise vanishes (up to local reparameterization's sd floor, 1e-10): the sampled network is the model's, for biases, relu, a Normal likelihood's
    sigma, a convolution (Flipout's channel signs) and a Dense layer on its unflattened output."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    dense = pbnn.BNN([L.Dense(4, activation="relu"), L.Dense(1)], likelihood="normal")
    for estimator in ("local", "flipout"):
        sampled, model = _sampled_and_models_loglik(dense, X, y, estimator)
        assert sampled == pytest.approx(model, rel=1e-9)
    images, labels = rng.normal(size=(12, 2, 5, 5)), np.arange(12) % 3
    conv = pbnn.BNN([L.Conv2D(3, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Dense(3)],
                    likelihood="categorical")
    sampled, model = _sampled_and_models_loglik(conv, images, labels, "flipout")
    assert sampled == pytest.approx(model, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["local", "flipout"])
def test_short_fit_reaches_the_plain_accuracy(small_moons, quick_fit, estimator):
    """The conftest's plain fit (1500 full-batch steps, seed 3) and the same fit with ``estimator``."""
    X_tr, X_te, y_tr, y_te = small_moons
    plain = quick_fit.predict(X_te).accuracy(y_te)
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=1500, draws=200, seed=3, estimator=estimator,
                   progressbar=False)
    assert plain > 0.8  # measured 0.83; local and flipout 0.82 (100 test points)
    assert fit.predict(X_te).accuracy(y_te) >= plain - 0.02, plain


def test_refusals_name_the_estimator(small_moons):
    with pytest.raises(ValueError, match=r"^estimator: 'local' \(local reparameterization\) samples the "
                                         r"pre-activations of Dense layers only; layers\[1\] is Conv2D"):
        estimators.check(pbnn.zoo.conv(), None, "local")
    hierarchical = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], prior=P.Hierarchical(1.0))
    model = hierarchical.build(small_moons.X_train, small_moons.y_train)
    with pytest.raises(ValueError, match=r"^estimator: 'flipout' needs every weight array to be a free variable "
                                         r"with a Gaussian q; 'w_1' is a Deterministic of other variables"):
        estimators.check(hierarchical, model, "flipout")
    with pytest.raises(ValueError, match=r"^estimator: 'flipout' draws the weights independently, which needs the "
                                         r"mean-field approximation \(method='advi'\)"):
        get_method("fullrank_advi").resolve({"estimator": "flipout"})
    with pytest.raises(ValueError, match=r"^estimator: 'local' runs on the JAX engine"):
        get_method("advi").resolve({"estimator": "local", "engine": "pymc"})
    with pytest.raises(ValueError, match=r"^estimator: unknown estimator 'exact'; expected one of reparam, local, "
                                         r"flipout$"):
        get_method("advi").resolve({"estimator": "exact"})
