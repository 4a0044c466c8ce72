"""Specs as validated data: layers, priors, likelihoods, TOML round trip, the zoo."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

import pbnn
from pbnn import layers as L
from pbnn import priors as P
from pbnn.errors import SpecError
from pbnn.layers import ACTIVATIONS
from pbnn.likelihoods import LIKELIHOODS


def test_dense_shapes_and_counts():
    spec = pbnn.zoo.two_layer_tanh()
    assert spec.output_shapes((2,)) == [(5,), (5,), (1,)]
    assert spec.n_params((2,)) == 2 * 5 + 5 * 5 + 5
    assert L.Dense(3, bias=False).n_params((4,)) == 12


def test_flatten_shape():
    spec = pbnn.BNN([L.Flatten(), L.Dense(10)], likelihood="categorical")
    assert spec.output_shapes((1, 8, 8)) == [(64,), (10,)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: L.Dense(5, activation="tanhh"), "Dense.activation: unknown activation 'tanhh'; expected one of identity, tanh, relu"),
        (lambda: L.Dense(0), "Dense.units: expected a positive integer, got 0"),
        (lambda: L.Dense(-3), "Dense.units: expected a positive integer, got -3"),
        (lambda: L.Dense(2.5), "Dense.units: expected a positive integer, got 2.5"),
        (lambda: L.Dense(2, bias="yes"), "Dense.bias: expected true or false, got 'yes'"),
        (lambda: P.Normal(sigma=0), "Normal.sigma: expected a positive number, got 0"),
        (lambda: P.Normal(sigma=float("nan")), "Normal.sigma: expected a positive number, got nan"),
        (lambda: P.Hierarchical(scale=-1.0), "Hierarchical.scale: expected a positive number, got -1.0"),
        (lambda: pbnn.BNN([L.Dense(1)], likelihood="gamma"), f"likelihood: unknown likelihood 'gamma'; expected one of {', '.join(LIKELIHOODS)}"),
        (lambda: pbnn.BNN([L.Dense(3)], likelihood="bernoulli"), "likelihood 'bernoulli' needs a last layer with 1 unit, got 3"),
        (lambda: pbnn.BNN([L.Dense(1)], likelihood="categorical"), "likelihood 'categorical' needs a last layer with one unit per class (>= 2), got 1"),
        (lambda: pbnn.BNN([]), "layers: expected at least one layer, got an empty list"),
        (lambda: pbnn.BNN([L.Flatten()]), "layers: expected at least one layer with weights (e.g. Dense)"),
        (lambda: pbnn.BNN([L.Dense(1)], prior="normal"), "prior: expected a pbnn.priors object, got 'normal'"),
    ],
)
def test_validation_messages(make, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        make()


def test_shape_error_names_the_layer():
    spec = pbnn.BNN([L.Dense(4), L.MaxPool2D(2), L.Dense(1)])
    with pytest.raises(SpecError, match=re.escape("layers[2] MaxPool2D(2): MaxPool2D expects images (channels, height, width), got shape (4,)")):
        spec.output_shapes((1, 8, 8))


def test_activation_names_match_the_compiler():
    from pbnn.compile import ACTIVATIONS as COMPILED

    assert set(COMPILED) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", pbnn.zoo.names())
def test_toml_round_trip(name, tmp_path):
    spec = pbnn.zoo.get(name)
    assert pbnn.BNN.from_toml(spec.to_toml()) == spec
    assert pbnn.load_spec(spec.save(tmp_path / "m.toml")) == spec


def test_round_trip_of_every_field():
    spec = pbnn.BNN(
        [L.Flatten(), L.Dense(7, activation="relu", bias=False), L.Dense(3)],
        prior=P.Hierarchical(scale=0.5),
        likelihood="categorical",
        name='quote " and \\ backslash',
        description="two\nlines",
    )
    assert pbnn.BNN.from_toml(spec.to_toml()) == spec


def test_zoo_functions_equal_the_repository_files():
    assert pbnn.zoo.two_layer_tanh() == pbnn.load_spec("models/two_layer_tanh.toml")
    assert pbnn.zoo.hierarchical() == pbnn.load_spec("models/hierarchical.toml")
    assert isinstance(pbnn.zoo.hierarchical().prior, P.Hierarchical)
    with pytest.raises(ValueError, match=re.escape(f"zoo: unknown model 'nope'; expected one of {', '.join(pbnn.zoo.names())}")):
        pbnn.zoo.get("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('likelihood = "bernoulli"\n[[layers]]\nkind = "dense"\nunits = 1\nactivaton = "tanh"\n', "layers[1]: unknown key 'activaton'; expected keys are kind, units, activation, bias"),
        ('[[layers]]\nkind = "dens"\nunits = 1\n', "layers[1].kind: unknown kind 'dens'; expected one of dense, flatten"),
        ('[[layers]]\nkind = "dense"\nunits = "5"\n', "layers[1]: Dense.units: expected a positive integer, got '5'"),
        ('colour = 1\n[[layers]]\nkind = "dense"\nunits = 1\n', "spec: unknown key 'colour'; expected keys are name, description, likelihood, prior, layers"),
        ('[prior]\nkind = "normal"\nsigma = -2\n[[layers]]\nkind = "dense"\nunits = 1\n', "prior: Normal.sigma: expected a positive number, got -2.0"),
        ('name = "x"\n', "layers: missing; expected a list of [[layers]] tables"),
        ('name = \n', "not valid TOML"),
    ],
)
def test_spec_file_errors(text, message, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        pbnn.load_spec(path)
    assert str(path) in str(info.value)


def test_missing_spec_file():
    with pytest.raises(FileNotFoundError, match="spec file 'nope.toml' does not exist"):
        pbnn.load_spec("nope.toml")


def test_specs_are_frozen_and_summarized():
    spec = pbnn.zoo.two_layer_tanh()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.likelihood = "normal"
    text = spec.summary((2,))
    assert "Dense(5, tanh, no bias)" in text and "total parameters: 40" in text
    assert "<pre>" in spec._repr_html_()


def test_html_display_shows_shapes_only_when_the_input_shape_is_known(quick_fit):
    spec = pbnn.zoo.two_layer_tanh()
    unknown = spec._repr_html_()
    assert "?" not in unknown and "output shape  params" not in unknown and "total parameters" not in unknown
    assert unknown.count("Dense(5, tanh, no bias)") == 2
    known = spec._repr_html_((2,))
    assert "output shape  params" in known and "total parameters: 40" in known
    assert "Dense(1, identity, no bias)  (1,)          5" in known
    fit_html = quick_fit._repr_html_()  # a fit knows its input shape
    assert "method advi" in fit_html and "total parameters: 40" in fit_html
    assert "?" not in spec.summary()


# -- fit settings (the [fit] table) -------------------------------------------------------------------
def test_fit_settings_round_trip_and_apply_to_their_method_only():
    spec = pbnn.BNN([L.Dense(1)], fit_settings={"method": "map", "steps": 10, "standardize": False})
    text = spec.to_toml()
    assert "[fit]" in text and pbnn.BNN.from_toml(text) == spec and hash(pbnn.BNN.from_toml(text)) == hash(spec)
    assert spec.fit_method == "map"
    assert spec.fit_options("map") == {"steps": 10, "standardize": False}
    assert spec.fit_options("advi") == {"standardize": False}
    assert "[fit]" not in pbnn.zoo.two_layer_tanh().to_toml()  # no table, no settings


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("seed = 1", "line 2: fit.seed: seed is an argument of each call of pbnn.fit, not a setting of the model"),
        ("method = 3", "line 2: fit.method: expected a method name such as \"advi\", got 3"),
        ("steps = [1, 2]", "line 2: fit.steps: expected a number, a string or true/false, got [1, 2]"),
    ],
)
def test_bad_fit_tables_name_the_line(table, message):
    text = pbnn.BNN([L.Dense(1)]).to_toml() + f"\n[fit]\n{table}\n"
    line = len(text.splitlines())
    with pytest.raises(SpecError, match=re.escape(message.replace("line 2", f"line {line}"))):
        pbnn.BNN.from_toml(text)


def test_fit_uses_the_settings_unless_the_caller_overrides_them():
    import numpy as np

    X, y = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 2
    spec = pbnn.BNN([L.Dense(1)], fit_settings={"method": "map", "steps": 7, "learning_rate": 0.02})
    fit = pbnn.fit(spec, X, y, seed=0, progressbar=False)
    assert fit.method == "map"
    options = json.loads(fit.idata.attrs["pbnn_options"])
    assert (options["steps"], options["learning_rate"]) == (7, 0.02)
    options = json.loads(pbnn.fit(spec, X, y, seed=0, progressbar=False, steps=5).idata.attrs["pbnn_options"])
    assert (options["steps"], options["learning_rate"]) == (5, 0.02)
    fit = pbnn.fit(spec, X, y, "advi", seed=0, progressbar=False, steps=20, draws=5)  # another method: none apply
    options = json.loads(fit.idata.attrs["pbnn_options"])
    assert (fit.method, options["steps"], options["learning_rate"]) == ("advi", 20, 0.01)
