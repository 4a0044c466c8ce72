"""Every zoo model meets its data set's bar with its own defaults (its [fit] table): seed 0, split 0 (conv_hierarchical
in the benchmark only); the 28x28 image models (benchmarks/bench_images.py) have the seed articles' layers.

benchmarks/bench_zoo.py runs the same fits for 5 seeds (and 2 splits of digits) and records them; the image models'
fits take 10-20 minutes each and are bench_images' alone."""

from __future__ import annotations


import numpy as np
import pytest

import pbnn
from benchmarks import bench_images
from benchmarks.bench_zoo import BARS, fit_with_defaults
from pbnn import priors as P


#: conv_hierarchical has conv's [fit] table (checked below); its fits are benchmarks/bench_zoo.py's alone (a minute)
IN_TESTS = sorted(set(BARS) - {"conv_hierarchical"})


@pytest.mark.slow
@pytest.mark.parametrize("name", IN_TESTS)
def test_zoo_model_meets_its_bar_with_its_defaults(name):
    row = fit_with_defaults(name, split=0, seed=0)
    assert row["met"] == "yes", row


def test_conv_models_carry_the_settings_that_make_them_work():
    for name in ("conv", "conv_hierarchical"):
        spec = pbnn.zoo.get(name)
        assert spec.fit_method == "advi"
        assert spec.fit_options("advi") == {"steps": 4000, "batch_size": 64, "learning_rate": 0.01,
                                            "final_learning_rate": 0.001, "init_scale": 0.01, "draws": 500}


#: The seed articles' networks, parameters per weighted layer at 1x28x28 (784 inputs): TensorFlow Probability's
#: LeNet-5 (seed 001: "same" convolutions, so the third convolution sees 7x7 and the dense layer 7*7*120 inputs) and
#: Wiecki's dense and convolutional MNIST nets (seed 003: "valid" 5x5 convolutions without biases, 28 -> 24 -> 12 -> 8
#: -> 4).
ARTICLE_PARAMS = {
    "lenet5": [6 * 25 + 6, 16 * 6 * 25 + 16, 120 * 16 * 25 + 120, 7 * 7 * 120 * 84 + 84, 84 * 10 + 10],
    "mnist_dense": [784 * 800 + 800, 800 * 800 + 800, 800 * 10 + 10],
    "mnist_dense_hierarchical": [784 * 800 + 800, 800 * 800 + 800, 800 * 10 + 10],
    "mnist_conv": [32 * 25, 32 * 32 * 25, 4 * 4 * 32 * 256 + 256, 256 * 10 + 10],
}
TOTALS = {"lenet5": 545_546, "mnist_dense": 1_276_810, "mnist_dense_hierarchical": 1_276_810, "mnist_conv": 160_298}


def test_every_zoo_model_is_benchmarked():
    assert sorted(set(BARS) | set(bench_images.MODELS)) == pbnn.zoo.names()
    assert set(ARTICLE_PARAMS) <= set(bench_images.MODELS)


@pytest.mark.parametrize("name", sorted(ARTICLE_PARAMS))
def test_image_models_have_the_articles_parameter_counts(name):
    spec = pbnn.zoo.get(name)
    assert getattr(pbnn.zoo, name)() == spec
    shapes = [(1, 28, 28), *spec.output_shapes((1, 28, 28))]
    per_layer = [layer.n_params(shape) for layer, shape in zip(spec.layers, shapes) if layer.has_params]
    assert per_layer == ARTICLE_PARAMS[name]
    assert spec.n_params((1, 28, 28)) == sum(per_layer) == TOTALS[name]
    assert spec.output_shapes((1, 28, 28))[-1] == (10,) and spec.likelihood == "categorical"


def test_image_models_layer_shapes_and_priors():
    assert pbnn.zoo.lenet5().output_shapes((1, 28, 28)) == [
        (6, 28, 28), (6, 14, 14), (16, 14, 14), (16, 7, 7), (120, 7, 7), (84,), (10,)]
    assert pbnn.zoo.mnist_conv().output_shapes((1, 28, 28)) == [
        (32, 24, 24), (32, 12, 12), (32, 8, 8), (32, 4, 4), (256,), (10,)]
    assert pbnn.zoo.mnist_dense().n_params((784,)) == 1_276_810  # flat pixels or images: the same network
    assert pbnn.zoo.mnist_dense().prior == P.Normal(0.1) and pbnn.zoo.mnist_conv().prior == P.Normal(0.1)
    assert pbnn.zoo.mnist_dense_hierarchical().prior == P.Hierarchical(1.0)
    assert [layer.activation for layer in pbnn.zoo.mnist_dense().layers] == ["tanh", "tanh", "identity"]
    assert pbnn.zoo.lenet5().fit_options("advi")["estimator"] == "flipout"
    for name in ("mnist_dense", "mnist_dense_hierarchical"):
        assert pbnn.zoo.get(name).fit_options("advi")["batch_size"] == 500  # the article's minibatches


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 1, 28, 28)), np.arange(n) % 10


def test_flipout_samples_every_weight_of_lenet5():
    from pbnn.inference import estimators

    X, y = _images(6)
    spec = pbnn.zoo.lenet5()
    model = spec.build(X, y)
    estimators.check(spec, model, "flipout")  # its [fit] estimator applies: no error
    sampled = estimators.sampled_loglik(spec, model, "flipout", rows=6)
    assert sampled.weights == ("w_1", "w_3", "w_5", "w_6", "w_7")
    assert sampled.shapes[2] == (120, 16, 5, 5) and sampled.others == ("b_1", "b_3", "b_5", "b_6", "b_7")
    with pytest.raises(ValueError, match="^estimator: 'local' .* layers\\[1\\] is Conv2D\\(6, 5x5, same, relu\\)"):
        estimators.check(spec, model, "local")


@pytest.mark.slow
def test_hierarchical_dense_model_learns_one_scale_per_layer():
    X, y = _images(12, seed=1)
    fit = pbnn.fit(pbnn.zoo.mnist_dense_hierarchical(), X.reshape(12, 784), y, seed=0, progressbar=False, steps=3,
                   batch_size=6, draws=3)
    sigma = fit.idata["posterior"]["layer_sigma"]
    assert sigma.shape == (1, 3, 3) and (sigma > 0).all()
    assert bench_images.layer_scales(fit).count(", ") == 2
    assert fit.predict(X[:4].reshape(4, 784)).draws().shape == (3, 4, 10)
