"""The network as functions: parameters of every zoo model, the forward pass against the built model, JAX."""

from __future__ import annotations

import sys

import numpy as np
import pytensor.tensor as pt
import pytest

import pbnn
from pbnn import layers as L
from pbnn import priors as P
from pbnn.network import forward, jax_forward, parameters

FAST = "FAST_COMPILE"


def _input_shape(name: str) -> tuple[int, ...]:
    if name in ("lenet5", "mnist_conv"):  # 5x5 convolutions and two poolings need 28x28
        return (1, 28, 28)
    return (1, 6, 6) if name.startswith("conv") else (3,)


def _data(spec, input_shape, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *input_shape))
    if spec.task == "regression":
        return X, rng.normal(size=n)
    return X, np.arange(n) % (spec.output_units if spec.likelihood == "categorical" else 2)


def _numpy_link(likelihood: str, out: np.ndarray) -> dict[str, np.ndarray]:
    if likelihood == "bernoulli":
        return {"p": 1.0 / (1.0 + np.exp(-out[:, 0]))}
    if likelihood == "categorical":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return {"p": e / e.sum(axis=1, keepdims=True)}
    if likelihood == "heteroscedastic_normal":
        return {"mu": out[:, 0], "sigma": np.exp(out[:, 1])}
    return {"mu": out[:, 0]}


@pytest.mark.parametrize("name", pbnn.zoo.names())
def test_parameters_of_every_zoo_model_match_the_built_model(name):
    spec, input_shape = pbnn.zoo.get(name), _input_shape(name)
    params = parameters(spec, input_shape)
    assert sum(p.size for p in params) == spec.n_params(input_shape)
    model = spec.build(*_data(spec, input_shape))
    for p in params:
        assert model.named_vars_to_dims[p.name] == p.dims
        assert tuple(len(model.coords[d]) for d in p.dims) == p.shape
        assert p.prior == (getattr(p.layer, "prior", None) or spec.prior)
        assert spec.layers[p.layer_index - 1] is p.layer and p.layer.has_params
    weighted = [i for i, layer in enumerate(spec.layers, start=1) if layer.has_params]
    assert [p.layer_index for p in params if p.kind == "weight"] == weighted
    assert {p.name for p in params if p.kind == "bias"} == {
        f"b_{i}" for i in weighted if spec.layers[i - 1].bias
    }


def test_parameter_metadata_of_the_conv_model():
    params = {p.name: p for p in parameters(pbnn.zoo.conv(), (1, 8, 8))}
    assert params["w_1"].dims == ("channel_1", "channel", "kernel_h_1", "kernel_w_1")
    assert params["w_1"].shape == (16, 1, 3, 3) and params["w_1"].fan_in == 9
    assert params["w_3"].shape == (32, 16, 3, 3) and params["w_3"].fan_in == 144
    assert params["w_5"].dims == ("flat_4", "output") and params["w_5"].shape == (128, 10)
    assert params["b_5"].kind == "bias" and params["b_5"].fan_in == 128 and params["b_5"].layer_index == 5


def test_a_layer_prior_overrides_the_spec_prior():
    spec = pbnn.BNN([L.Dense(4, prior=P.Laplace(0.5)), L.Dense(1, bias=False)], prior=P.Normal(2.0))
    params = parameters(spec, (3,))
    expected = [("w_1", P.Laplace(0.5)), ("b_1", P.Laplace(0.5)), ("w_2", P.Normal(2.0))]
    assert [(p.name, p.prior) for p in params] == expected


FORWARD_MODELS = ["two_layer_tanh", "hierarchical", "regression", "sine", "conv_hierarchical"]


@pytest.mark.parametrize("name", FORWARD_MODELS)
def test_forward_equals_the_built_models_output(name):
    """The same values by name (a hierarchical w_i is the Deterministic sigma * z) give the model's p / mu."""
    spec, input_shape = pbnn.zoo.get(name), _input_shape(name)
    X, y = _data(spec, input_shape)
    model = spec.build(X, y)
    names = [p.name for p in parameters(spec, input_shape)]
    outputs = [d.name for d in model.deterministics if d.name in ("p", "mu", "sigma")]
    fn = model.compile_fn([model[n] for n in names + outputs], inputs=model.value_vars, mode=FAST,
                          on_unused_input="ignore")
    got = fn(model.initial_point(random_seed=1))
    values = dict(zip(names, got[: len(names)]))
    out = forward(spec, X, values).eval(mode=FAST)
    assert out.shape == (len(X), spec.output_units)
    expected = _numpy_link(spec.likelihood, out)
    assert set(outputs) == set(expected)
    for k, value in zip(outputs, got[len(names):]):
        np.testing.assert_allclose(value, expected[k], rtol=1e-12, atol=1e-12)


#: A small convolutional net with every image layer: "same" padding with stride 2, max and average pooling.
SMALL_CONV = pbnn.BNN(
    [L.Conv2D(3, 3, stride=2, padding="same", activation="relu"), L.MaxPool2D(2, stride=1),
     L.Conv2D(2, (2, 1), activation="tanh"), L.AvgPool2D(2), L.Dense(3)],
    likelihood="categorical",
)


@pytest.mark.parametrize("spec, input_shape", [(pbnn.zoo.two_layer_tanh(), (2,)), (SMALL_CONV, (2, 7, 8))])
def test_the_jax_callable_equals_pytensor(spec, input_shape):
    import jax

    X, _ = _data(spec, input_shape, n=5, seed=1)
    rng = np.random.default_rng(2)
    values = {p.name: rng.normal(size=p.shape) for p in parameters(spec, input_shape)}
    expected = forward(spec, pt.specify_shape(pt.as_tensor(X), X.shape), values).eval(mode=FAST)
    got = np.asarray(jax.jit(jax_forward(spec, input_shape))(X, values))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_forward_names_a_missing_value():
    spec = pbnn.zoo.two_layer_tanh()
    values = {p.name: np.zeros(p.shape) for p in parameters(spec, (2,)) if p.name != "w_2"}
    with pytest.raises(KeyError, match=r"no value for 'w_2' \(layers\[2\] Dense\(5, tanh, no bias\)\)"):
        forward(spec, np.zeros((1, 2)), values)


@pytest.mark.parametrize("method, options", [("map", {"steps": 5}), ("advi", {"steps": 5, "batch_size": 8})])
def test_check_data_runs_once_per_fit(monkeypatch, small_moons, method, options):
    import pbnn.inference.fitting  # noqa: F401  (imported lazily by pbnn.fit: bound to check_data before patching)
    from pbnn import validation

    original, calls = validation.check_data, []

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    for module in [m for name, m in sys.modules.items() if name.startswith("pbnn") and m is not None]:
        if getattr(module, "check_data", None) is original:
            monkeypatch.setattr(module, "check_data", counted)
    X, y = small_moons.X_train[:40], small_moons.y_train[:40]
    pbnn.fit(pbnn.zoo.two_layer_tanh(), X, y, method=method, seed=0, progressbar=False, **options)
    assert len(calls) == 1
