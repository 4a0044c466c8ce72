"""``device=`` for the JAX paths: "cpu" runs and gives the default's numbers; a missing GPU or a non-JAX path is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import pbnn

jax = pytest.importorskip("jax")
HAS_GPU = any(d.platform == "gpu" for d in jax.devices())


def test_advi_and_predict_on_cpu_match_the_default(small_moons):
    X_tr, X_te, y_tr, _ = small_moons
    kw = {"steps": 500, "draws": 20, "seed": 0, "progressbar": False}
    default = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, **kw)
    on_cpu = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, device="cpu", **kw)
    if not HAS_GPU:
        np.testing.assert_array_equal(default.posterior["w_1"].values, on_cpu.posterior["w_1"].values)
    p_default = default.predict(X_te)["predictions"]["p"].values
    p_cpu = default.predict(X_te, device="cpu")["predictions"]["p"].values
    np.testing.assert_allclose(p_cpu, p_default, rtol=1e-12)


def test_nuts_numpyro_on_cpu(small_moons):
    X_tr, _, y_tr, _ = small_moons
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, method="nuts", sampler="numpyro", device="cpu",
                   draws=20, tune=20, chains=2, seed=0, progressbar=False)
    assert fit.posterior.sizes["chain"] == 2


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_missing_gpu_is_a_clear_error(small_moons):
    X_tr, X_te, y_tr, _ = small_moons
    with pytest.raises(RuntimeError, match=r"device='gpu': JAX has no gpu backend here \(available: cpu\)"):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, device="gpu", steps=10, progressbar=False)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: pbnn.fit(pbnn.zoo.two_layer_tanh(), *d, engine="pymc", device="cpu", steps=10, progressbar=False),
         "device: only the JAX engine runs on a chosen device; engine='pymc' runs on the CPU"),
        (lambda d: pbnn.fit(pbnn.zoo.two_layer_tanh(), *d, method="nuts", sampler="pymc", device="cpu", progressbar=False),
         "device: only the JAX samplers (numpyro, blackjax) run on a chosen device; sampler 'pymc' runs on the CPU"),
        (lambda d: pbnn.fit(pbnn.zoo.two_layer_tanh(), *d, device="tpu", steps=10, progressbar=False),
         "device: expected None, 'cpu' or 'gpu', got 'tpu'"),
    ],
)
def test_device_errors(small_moons, call, message):
    X_tr, _, y_tr, _ = small_moons
    with pytest.raises(ValueError) as info:
        call((X_tr, y_tr))
    assert str(info.value) == message


def test_predict_device_needs_jax_backend(quick_fit, small_moons):
    with pytest.raises(ValueError, match="device: only the JAX backend runs on a chosen device, got backend 'numba'"):
        quick_fit.predict(small_moons.X_test, backend="numba", device="cpu")
