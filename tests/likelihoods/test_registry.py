"""Likelihood objects: the registry, hyperpriors as spec fields with a TOML round trip, generic predictive
functions (pointwise log-likelihood, draws, moments) checked against scipy and each other."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import pbnn
from pbnn import layers as L
from pbnn import likelihoods as LK
from pbnn.errors import SpecError

DENSE = '\n[[layers]]\nkind = "dense"\nunits = 1\n'


def test_registry_lists_every_likelihood_and_imports_no_pymc_or_scipy_for_it():
    assert list(LK.LIKELIHOODS)[:5] == ["bernoulli", "categorical", "normal", "heteroscedastic_normal", "student_t"]
    for name, cls in LK.LIKELIHOODS.items():
        assert cls.name == name and cls.task in ("classification", "regression")
        tree = ast.parse(Path(sys.modules[cls.__module__].__file__).read_text())
        top = [a.name for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
               for a in ([ast.alias(node.module)] if isinstance(node, ast.ImportFrom) else node.names)]
        assert not [m for m in top if m.split(".")[0] in ("pymc", "pytensor", "scipy")], (name, top)  # inside methods
    assert LK.get_likelihood("normal") == LK.Normal()
    with pytest.raises(SpecError, match=re.escape(f"likelihood: unknown likelihood 'gamma'; expected one of {', '.join(LK.LIKELIHOODS)}")):
        LK.get_likelihood("gamma")


def test_non_default_hyperpriors_round_trip_through_toml():
    spec = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], likelihood=LK.StudentT(noise_scale=2.0, nu_rate=0.5))
    text = spec.to_toml()
    assert '[likelihood]\nname = "student_t"\nnoise_scale = 2.0\nnu_rate = 0.5\n' in text
    assert "likelihood =" not in text
    back = pbnn.BNN.from_toml(text)
    assert back == spec and back.likelihood_.nu_shape == 2.0 and back.likelihood_.nu_rate == 0.5
    # hand-written: an integer is a float; the model uses the field
    hand = pbnn.BNN.from_toml('[likelihood]\nname = "normal"\nnoise_scale = 2\n' + DENSE)
    assert hand.likelihood == LK.Normal(noise_scale=2.0)
    model = hand.build(np.zeros((4, 1)), np.zeros(4))
    assert model["sigma"].owner.inputs[-1].eval() == pytest.approx(2.0)  # HalfNormal(sigma=2)


def test_defaults_keep_the_short_form_and_equal_the_name():
    by_name = pbnn.BNN([L.Dense(1)], likelihood="normal")
    by_object = pbnn.BNN([L.Dense(1)], likelihood=LK.Normal())
    assert by_object == by_name and by_object.likelihood == "normal"
    assert 'likelihood = "normal"' in by_object.to_toml() and "[likelihood]" not in by_object.to_toml()
    assert pbnn.BNN.from_toml('[likelihood]\nname = "normal"\n' + DENSE) == by_name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[likelihood]\nname = "normal"\nnoise_scale = -1.0\n' + DENSE, "line 3: likelihood.noise_scale: expected a positive number, got -1.0"),
        ('[likelihood]\nname = "normal"\nnu_rate = 1.0\n' + DENSE, "likelihood: unknown key 'nu_rate' for 'normal'; expected keys are name, noise_scale"),
        ('[likelihood]\nnoise_scale = 1.0\n' + DENSE, "likelihood: no name in {'noise_scale': 1.0}; expected one of bernoulli"),
    ],
)
def test_bad_likelihood_tables_raise_clear_errors(text, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        pbnn.BNN.from_toml(text)


def test_zoo_specs_keep_the_short_form():
    for name in pbnn.zoo.names():
        spec = pbnn.load_spec(pbnn.zoo.path(name))
        assert isinstance(spec.likelihood, str) and f"likelihood = \"{spec.likelihood}\"" in spec.to_toml()
        assert pbnn.BNN.from_toml(spec.to_toml()) == spec


RNG = np.random.default_rng(0)
OUTPUTS = {  # three draws at four points, sigma per draw (normal) or per point (heteroscedastic)
    "normal": {"mu": RNG.normal(size=(3, 4)), "sigma": np.array([0.5, 1.0, 2.0])},
    "heteroscedastic_normal": {"mu": RNG.normal(size=(3, 4)), "sigma": RNG.uniform(0.5, 2, size=(3, 4))},
    "student_t": {"mu": RNG.normal(size=(3, 4)), "sigma": np.array([0.5, 1.0, 2.0]), "nu": np.array([3.0, 5.0, 30.0])},
}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_pointwise_log_likelihood_draws_and_moments_agree(name):
    lik, out = LK.get_likelihood(name), OUTPUTS[name]
    y = np.array([0.1, -0.5, 1.0, 2.0])
    sigma = np.broadcast_to(np.reshape(out["sigma"], (3, -1)), (3, 4))
    expected = (stats.t.logpdf(y, out["nu"][:, None], out["mu"], sigma) if name == "student_t"
                else stats.norm.logpdf(y, out["mu"], sigma))
    np.testing.assert_allclose(lik.log_likelihood(out, y), expected)
    mean, var = lik.moments(out)
    tiled = {k: np.repeat(v, 20_000, axis=0) for k, v in out.items()}  # 20k predictive draws per (draw, point)
    draws = lik.sample(tiled, np.random.default_rng(1)).reshape(3, 20_000, 4)
    np.testing.assert_allclose(draws.mean(axis=1), mean, atol=0.1)
    np.testing.assert_allclose(draws.var(axis=1), var, rtol=0.15)


def test_sampled_interval_matches_the_exact_gaussian_one():
    out = OUTPUTS["heteroscedastic_normal"]
    exact = LK.get_likelihood("normal").interval(out, 0.9)
    sampled = LK.Likelihood.interval(LK.get_likelihood("normal"), out, 0.9, seed=0)  # the generic one
    np.testing.assert_allclose(sampled, exact, atol=0.15)


TARGETS = {  # four targets in each likelihood's support
    "bernoulli": [0, 1, 1, 0], "categorical": [0, 2, 1, 2], "normal": [0.1, -0.5, 1.0, 2.0],
    "heteroscedastic_normal": [0.1, -0.5, 1.0, 2.0], "student_t": [0.1, -0.5, 1.0, 2.0], "poisson": [0, 3, 1, 7],
    "negative_binomial": [0, 3, 1, 7],
}


@pytest.mark.parametrize("name", list(LK.LIKELIHOODS))
def test_the_predictor_needs_no_model_and_agrees_with_it(name, monkeypatch):
    # the predictor's outputs and log-likelihood (network forward pass + link + distribution) equal the built
    # model's Deterministics and its observed variable's log density at the same parameter values
    import pymc as pm

    from pbnn import compile as C
    from pbnn.predict import LOG_LIKELIHOOD, Predictor

    lik = LK.get_likelihood(name)
    spec = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(lik.units or 3)], likelihood=name)
    X, y = np.random.default_rng(0).normal(size=(4, 2)), np.asarray(TARGETS[name])
    model = C.build_model(spec, X, y)
    assert model["y"].dtype == lik.target_dtype
    point = model.initial_point(random_seed=1)
    graphs = model.replace_rvs_by_values([*model.free_RVs, *(model[o] for o in lik.outputs)])  # at the point
    evaluate = model.compile_fn([*graphs, model.logp(vars=model.observed_RVs, sum=False)[0]], point_fn=True,
                                mode="FAST_COMPILE")  # the Python implementations: no C compile
    *values, expected_ll = evaluate(point)
    free = dict(zip([rv.name for rv in model.free_RVs], values[: len(model.free_RVs)], strict=True))
    expected = dict(zip(lik.outputs, values[len(model.free_RVs):], strict=True))
    monkeypatch.setattr(C, "build_model", lambda *a, **k: pytest.fail("the predictor built a model"))
    predictor = Predictor(spec, (2,), "jax", targets=True)
    assert predictor.param_names == list(free)
    out = predictor({k: np.asarray(v)[None] for k, v in free.items()}, X, y.astype(lik.target_dtype))
    for o in lik.outputs:
        np.testing.assert_allclose(out[o][0], expected[o], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out[LOG_LIKELIHOOD][0], expected_ll, rtol=1e-12)
    np.testing.assert_allclose(out[LOG_LIKELIHOOD][0], lik.log_likelihood({o: out[o] for o in lik.outputs}, y)[0],
                               rtol=1e-10)
