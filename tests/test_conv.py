"""Convolutional BNNs: Conv2D / pooling layers, shape inference and errors, TOML, compiled dims, a fit that learns."""

from __future__ import annotations

import re

import numpy as np
import pytest

import pbnn
from pbnn import datasets
from pbnn import layers as L
from pbnn import priors as P
from pbnn.compile import layer_dims
from pbnn.errors import DataError, SpecError
from pbnn.ops.conv import conv2d_output_shape

FAST = "FAST_COMPILE"


# -- layers: shapes, parameter counts -------------------------------------------------------
@pytest.mark.parametrize(
    ("layer", "input_shape", "expected"),
    [
        (L.Conv2D(8, 3), (1, 8, 8), (8, 6, 6)),
        (L.Conv2D(8, 3, padding="same"), (1, 8, 8), (8, 8, 8)),
        (L.Conv2D(4, (3, 2), stride=(2, 1)), (3, 7, 5), (4, 3, 4)),
        (L.Conv2D(4, 3, stride=2, padding="same"), (2, 7, 7), (4, 4, 4)),
        (L.MaxPool2D(2), (8, 7, 7), (8, 3, 3)),
        (L.AvgPool2D(3, stride=(2, 1)), (2, 7, 5), (2, 3, 3)),
        (L.Dense(10), (16, 2, 2), (10,)),
    ],
)
def test_output_shapes(layer, input_shape, expected):
    assert layer.output_shape(input_shape) == expected
    if isinstance(layer, L.Conv2D):
        assert expected[1:] == conv2d_output_shape(input_shape[1:], layer.kernel_size, layer.stride, layer.padding)


def test_parameter_counts_of_the_zoo_conv_model():
    spec = pbnn.zoo.conv()
    assert spec.output_shapes((1, 8, 8)) == [(16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 2, 2), (10,)]
    # 16 * 1 * 3 * 3 + 16, 32 * 16 * 3 * 3 + 32, 128 * 10 + 10
    inputs = [(1, 8, 8), (16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 2, 2)]
    assert [layer.n_params(s) for layer, s in zip(spec.layers, inputs)] == [160, 0, 4640, 0, 1290]
    assert spec.n_params((1, 28, 28)) == 160 + 4640 + 32 * 7 * 7 * 10 + 10


# -- errors that name the layer and the field -----------------------------------------------
@pytest.mark.parametrize(
    ("layers", "input_shape", "message"),
    [
        ([L.Conv2D(4, 3), L.MaxPool2D(2), L.Conv2D(4, 5), L.Dense(10)], (1, 8, 8),
         "layers[3] Conv2D(4, 5x5, identity): kernel_size 5 is larger than its input 3x3"),
        ([L.Conv2D(4, (2, 9)), L.Dense(10)], (1, 8, 8),
         "layers[1] Conv2D(4, 2x9, identity): kernel_size 2x9 is larger than its input 8x8"),
        ([L.Conv2D(4, 3), L.MaxPool2D(7), L.Dense(10)], (1, 8, 8),
         "layers[2] MaxPool2D(7): pool_size 7 is larger than its input 6x6"),
        ([L.Conv2D(4, 3), L.Dense(10)], (64,),
         "layers[1] Conv2D(4, 3x3, identity): Conv2D expects images (channels, height, width), got shape (64,)"),
        ([L.Dense(5), L.AvgPool2D(2), L.Dense(10)], (1, 8, 8),
         "layers[2] AvgPool2D(2): AvgPool2D expects images (channels, height, width), got shape (5,)"),
    ],
)
def test_shape_errors_name_the_layer(layers, input_shape, message):
    spec = pbnn.BNN(layers, likelihood="categorical")
    with pytest.raises(SpecError, match=re.escape(message)):
        spec.output_shapes(input_shape)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: L.Conv2D(0, 3), "Conv2D.filters: expected a positive integer, got 0"),
        (lambda: L.Conv2D(4, 0), "Conv2D.kernel_size: expected a positive integer or a pair [height, width] of them, got 0"),
        (lambda: L.Conv2D(4, (3, 3, 3)), "Conv2D.kernel_size: expected a positive integer or a pair [height, width] of them, got (3, 3, 3)"),
        (lambda: L.Conv2D(4, 3, stride=1.5), "Conv2D.stride: expected a positive integer or a pair [height, width] of them, got 1.5"),
        (lambda: L.Conv2D(4, 3, padding="full"), "Conv2D.padding: expected one of 'valid', 'same', got 'full'"),
        (lambda: L.Conv2D(4, 3, activation="rleu"), "Conv2D.activation: unknown activation 'rleu'"),
        (lambda: L.MaxPool2D(2, stride=0), "MaxPool2D.stride: expected a positive integer or a pair [height, width] of them, got 0"),
        (lambda: pbnn.BNN([L.Dense(4), L.Conv2D(10, 1)], likelihood="categorical"),
         "layers[2] Conv2D(10, 1x1, identity): the last layer with weights must be a Dense layer"),
    ],
)
def test_construction_errors(make, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        make()


def test_a_toml_error_names_the_layer_table():
    text = pbnn.zoo.conv().to_toml().replace("kernel_size = 3", "kernel_size = -3", 1)
    with pytest.raises(SpecError, match=re.escape("layers[1]: Conv2D.kernel_size: expected a positive integer")):
        pbnn.BNN.from_toml(text)


def test_images_that_do_not_fit_are_a_data_error():
    X = np.zeros((4, 1, 2, 2))
    with pytest.raises(DataError, match=re.escape("X: inputs of shape (5,) do not fit the spec: layers[1] Conv2D(16, 3x3, same, relu): Conv2D expects images")):
        pbnn.zoo.conv().build(np.zeros((4, 5)), np.zeros(4, dtype=int))
    with pytest.raises(DataError, match=re.escape("layers[2] MaxPool2D(2): pool_size 2 is larger than its input 1x1")):
        pbnn.BNN([L.Conv2D(2, 2), L.MaxPool2D(2), L.Dense(2)], likelihood="categorical").build(X, np.zeros(4, dtype=int))


# -- TOML ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["conv", "conv_hierarchical"])
def test_zoo_conv_models_round_trip(name):
    spec = getattr(pbnn.zoo, name)()
    assert spec == pbnn.zoo.get(name)
    assert pbnn.BNN.from_toml(spec.to_toml()) == spec


def test_pairs_and_default_strides_round_trip():
    spec = pbnn.BNN(
        [L.Conv2D(3, [3, 2], stride=(2, 1), padding="same", activation="tanh", bias=False), L.AvgPool2D(2, stride=[1, 2]),
         L.MaxPool2D(2), L.Flatten(), L.Dense(4)],
        prior=P.Normal(0.5), likelihood="categorical",
    )
    assert spec.layers[0].kernel_size == (3, 2)  # lists (as TOML reads them) become tuples
    text = spec.to_toml()
    assert "kernel_size = [3, 2]" in text
    assert text.count("stride") == 2  # the max pool's stride=None is left out (TOML has no null)
    again = pbnn.BNN.from_toml(text)
    assert again == spec
    assert again.layers[2].stride is None


def test_a_conv_layer_takes_its_own_prior():
    spec = pbnn.BNN([L.Conv2D(2, 3, prior=P.Normal(0.3)), L.MaxPool2D(2), L.Dense(3)], prior=P.Normal(1.0),
                    likelihood="categorical")
    text = spec.to_toml()
    assert 'prior = {kind = "normal", sigma = 0.3}' in text
    assert pbnn.BNN.from_toml(text) == spec
    assert "Conv2D(2, 3x3, identity, prior Normal(sigma=0.3))" in repr(spec)
    model = spec.build(np.zeros((4, 1, 8, 8)), np.zeros(4, dtype=int))
    sds = {name: np.unique(model[name].owner.inputs[-1].eval()).tolist() for name in ("w_1", "w_3")}
    assert sds == {"w_1": [0.3], "w_3": [1.0]}
    with pytest.raises(SpecError, match=re.escape("Conv2D.prior: expected a pbnn.priors object or None, got 0.3")):
        L.Conv2D(2, 3, prior=0.3)


# -- compiled model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return datasets.digits(seed=0)


def test_conv_model_dims_and_coords(digits):
    model = pbnn.zoo.conv().build(digits.X_train[:50], digits.y_train[:50])
    dims = model.named_vars_to_dims
    assert dims["X"] == ("obs", "channel", "height", "width")
    assert dims["w_1"] == ("channel_1", "channel", "kernel_h_1", "kernel_w_1")
    assert dims["b_1"] == ("channel_1",)
    assert dims["w_3"] == ("channel_3", "channel_1", "kernel_h_3", "kernel_w_3")
    assert dims["w_5"] == ("flat_4", "output")
    assert dims["p"] == ("obs", "class")
    sizes = {k: len(v) for k, v in model.coords.items()}
    assert sizes == {"obs": 50, "channel": 1, "height": 8, "width": 8, "channel_1": 16, "kernel_h_1": 3, "kernel_w_1": 3,
                     "channel_3": 32, "kernel_h_3": 3, "kernel_w_3": 3, "flat_4": 128, "output": 10, "class": 10}
    assert [rv.name for rv in model.free_RVs] == ["w_1", "b_1", "w_3", "b_3", "w_5", "b_5"]
    assert sum(model.initial_point()[name].size for name in ("w_1", "b_1", "w_3", "b_3", "w_5", "b_5")) == pbnn.zoo.conv().n_params((1, 8, 8))


def test_hierarchical_conv_has_one_scale_per_weighted_layer(digits):
    model = pbnn.zoo.conv_hierarchical().build(digits.X_train[:20], digits.y_train[:20])
    assert list(model.coords["layer"]) == [1, 3, 5]
    assert model.named_vars_to_dims["w_3_z"] == ("channel_3", "channel_1", "kernel_h_3", "kernel_w_3")


def test_the_dense_hierarchical_model_takes_images():
    ds = datasets.digits(classes=[3, 5], seed=0)
    model = pbnn.zoo.hierarchical().build(ds.X_train[:30], ds.y_train[:30])
    assert model.named_vars_to_dims["w_1_z"] == ("input", "hidden_1")  # the image, flattened
    assert len(model.coords["input"]) == 64
    dims, sizes = layer_dims(pbnn.BNN([L.Conv2D(2, 3), L.Dense(1)]), (1, 5, 5))
    assert dims[1].params["w"] == ("flat_1", "output") and sizes["flat_1"] == 2 * 3 * 3


def _numpy_net(point, X):
    """Conv2D(2, 2x2, tanh, valid) -> AvgPool2D(2) -> Dense(3) -> softmax, written out with loops."""
    w, b = point["w_1"], point["b_1"]
    n, _, h, wd = X.shape
    conv = np.zeros((n, 2, h - 1, wd - 1))
    for f in range(2):
        for i in range(h - 1):
            for j in range(wd - 1):
                conv[:, f, i, j] = np.tensordot(X[:, :, i : i + 2, j : j + 2], w[f], axes=3) + b[f]
    conv = np.tanh(conv)
    pooled = conv[:, :, :4, :4].reshape(n, 2, 2, 2, 2, 2).mean(axis=(3, 5))
    logits = pooled.reshape(n, -1) @ point["w_3"] + point["b_3"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_network_values_match_a_numpy_reference():
    spec = pbnn.BNN([L.Conv2D(2, 2, activation="tanh"), L.AvgPool2D(2), L.Dense(3)], prior=P.Normal(0.5), likelihood="categorical")
    X = np.random.default_rng(0).uniform(size=(5, 2, 6, 5))
    model = spec.build(X, np.arange(5) % 3)
    point = model.initial_point(random_seed=2)
    [p] = model.replace_rvs_by_values([model["p"]])
    got = model.compile_fn(p, inputs=model.value_vars, mode=FAST, on_unused_input="ignore")(point)
    np.testing.assert_allclose(got, _numpy_net(point, X), rtol=1e-10)


def test_initial_weights_are_scaled_to_the_fan_in(digits):
    """A prior draw shrunk by sqrt(2 / fan_in): sd 1 * sqrt(2 / 144) for the 16 x 3 x 3 inputs of layer 3."""
    from pbnn.compile import FAN_IN_INIT

    model = pbnn.zoo.conv().build(digits.X_train[:20], digits.y_train[:20])
    point = model.initial_point(random_seed=0)
    assert FAN_IN_INIT == 2.0
    np.testing.assert_allclose(point["w_3"].std(), np.sqrt(2 / 144), rtol=0.1)
    np.testing.assert_allclose(point["w_5"].std(), np.sqrt(2 / 128), rtol=0.15)
    assert 0.6 < point["b_3"].std() < 1.4  # biases keep their prior draw
    assert not np.allclose(model.initial_point(random_seed=1)["w_3"], point["w_3"])  # seeded, not fixed


# -- fitting and predicting -----------------------------------------------------------------
@pytest.fixture(scope="module")
def conv_fit(digits):
    """Minibatch ADVI on 500 training images (mostly compile time)."""
    return pbnn.fit(pbnn.zoo.conv(), digits.X_train[:500], digits.y_train[:500], batch_size=50, steps=1000,
                    draws=100, seed=0, progressbar=False)


def test_a_small_conv_fit_learns(conv_fit, digits):
    pred = conv_fit.predict(digits.X_test[:300])
    assert pred.accuracy(digits.y_test[:300]) >= 0.8  # chance is 0.1
    assert pred["predictions"]["p"].dims == ("chain", "draw", "obs", "class")
    post = conv_fit.idata["posterior"]
    assert post["w_3"].dims == ("chain", "draw", "channel_3", "channel_1", "kernel_h_3", "kernel_w_3")
    assert conv_fit.idata["constant_data"]["X"].dims == ("obs", "channel", "height", "width")


def test_images_without_a_channel_axis_are_accepted(conv_fit, digits):
    images = digits.X_test[:40, 0]  # (N, 8, 8)
    model = pbnn.zoo.conv().build(images, digits.y_test[:40])
    assert model["X"].get_value().shape == (40, 1, 8, 8)
    with_axis = conv_fit.predict(digits.X_test[:40]).draws()
    np.testing.assert_allclose(conv_fit.predict(images).draws(), with_axis)
