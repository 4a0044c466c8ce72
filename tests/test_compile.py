"""spec -> pm.Model: named dims, pm.Data inputs, output Deterministic, minibatch scaling."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

import pbnn
from pbnn import layers as L
from pbnn import priors as P

X = np.random.default_rng(0).normal(size=(30, 2))
Y = (X[:, 0] > 0).astype(int)
FAST = "FAST_COMPILE"  # graph checks need no optimized code


def evaluate(model, name, point):
    """Value of model variable ``name`` at a point of value variables."""
    [out] = model.replace_rvs_by_values([model[name]])
    fn = model.compile_fn(out, inputs=model.value_vars, mode=FAST, on_unused_input="ignore")
    return fn(point)


def test_two_layer_tanh_model_dims():
    model = pbnn.zoo.two_layer_tanh().build(X, Y)
    dims = model.named_vars_to_dims
    assert dims["X"] == ("obs", "input")
    assert dims["target"] == ("obs",)
    assert dims["w_1"] == ("input", "hidden_1")
    assert dims["w_2"] == ("hidden_1", "hidden_2")
    assert dims["w_3"] == ("hidden_2", "output")
    assert dims["p"] == ("obs",)
    assert dims["y"] == ("obs",)
    assert [rv.name for rv in model.free_RVs] == ["w_1", "w_2", "w_3"]
    assert {k: len(v) for k, v in model.coords.items()} == {"obs": 30, "input": 2, "hidden_1": 5, "hidden_2": 5, "output": 1}


def test_data_can_be_swapped():
    model = pbnn.zoo.two_layer_tanh().build(X, Y)
    point = model.initial_point()
    assert evaluate(model, "p", point).shape == (30,)
    with model:
        pm.set_data({"X": X[:7], "target": Y[:7]}, coords={"obs": range(7)})
    assert evaluate(model, "p", point).shape == (7,)


def test_hierarchical_is_non_centred_with_one_scale_per_layer():
    model = pbnn.zoo.hierarchical().build(X, Y)
    assert model.named_vars_to_dims["layer_sigma"] == ("layer",)
    assert list(model.coords["layer"]) == [1, 2, 3]
    assert {rv.name for rv in model.free_RVs} == {"layer_sigma", "w_1_z", "w_2_z", "w_3_z"}
    det = {d.name for d in model.deterministics}
    assert {"w_1", "w_2", "w_3", "p"} <= det
    # w_i equals layer_sigma[i] * w_i_z
    point = model.initial_point()
    point["layer_sigma_log__"] = np.log([0.5, 2.0, 3.0])
    w2 = evaluate(model, "w_2", point)
    np.testing.assert_allclose(w2, 2.0 * point["w_2_z"])


def test_categorical_output_has_a_class_dim():
    spec = pbnn.BNN([L.Dense(4, activation="relu"), L.Dense(3)], likelihood="categorical")
    model = spec.build(X, np.arange(30) % 3)
    assert model.named_vars_to_dims["p"] == ("obs", "class")
    assert model.named_vars_to_dims["b_1"] == ("hidden_1",)
    p = evaluate(model, "p", model.initial_point())
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_normal_likelihood_learns_noise():
    spec = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], likelihood="normal")
    model = spec.build(X, X[:, 0] * 2.0)
    assert model.named_vars_to_dims["mu"] == ("obs",)
    assert "sigma" in {rv.name for rv in model.free_RVs}


def test_images_get_input_dims_and_flatten():
    spec = pbnn.BNN([L.Flatten(), L.Dense(3)], prior=P.Normal(0.5), likelihood="categorical")
    images = np.random.default_rng(1).uniform(size=(6, 1, 4, 4))
    model = spec.build(images, np.arange(6) % 3)
    assert model.named_vars_to_dims["X"] == ("obs", "channel", "height", "width")
    assert model.named_vars_to_dims["w_2"] == ("flat_1", "output")


def test_minibatch_likelihood_is_scaled_to_the_full_data():
    """With total_size, a batch's log-likelihood estimates the full one: equal at any point when the
    model has one observation pattern (all rows identical)."""
    Xc, yc = np.ones((40, 2)), np.ones(40, dtype=int)
    spec = pbnn.zoo.two_layer_tanh()
    full = spec.build(Xc, yc)
    mini = spec.build(Xc, yc, batch_size=10)
    point = full.initial_point()
    point.update({k: np.full_like(v, 0.3) for k, v in point.items()})
    lp_full = full.compile_logp(mode=FAST)(point)
    lp_mini = mini.compile_logp(mode=FAST)(point)
    np.testing.assert_allclose(lp_mini, lp_full, rtol=1e-10)
    assert "p" not in mini.named_vars  # the output of a random batch is not a model quantity


@pytest.mark.parametrize("activation", pbnn.layers.ACTIVATIONS)
def test_every_activation_compiles(activation):
    spec = pbnn.BNN([L.Dense(2, activation=activation), L.Dense(1)])
    model = spec.build(X, Y)
    assert np.isfinite(model.compile_logp(mode=FAST)(model.initial_point()))


def test_the_model_reads_the_callers_inputs_without_a_copy():
    X = np.random.default_rng(0).uniform(size=(6, 1, 4, 4))
    model = pbnn.BNN([L.Dense(3)], likelihood="categorical").build(X, np.arange(6) % 3)
    assert model["X"].get_value(borrow=True) is X
    ints = np.arange(12).reshape(6, 2)  # not float64: pm.Data's own float copy
    model = pbnn.zoo.two_layer_tanh().build(ints, np.arange(6) % 2)
    assert model["X"].get_value(borrow=True).dtype == np.float64
