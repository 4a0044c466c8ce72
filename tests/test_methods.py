"""The method registry (pbnn/inference/methods.py): options, checks, capabilities, and what reads them."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

import pbnn
from pbnn.inference import methods
from pbnn.inference.methods import METHODS, EngineResult, get_method

SPEC = pbnn.zoo.two_layer_tanh()
X = np.random.default_rng(0).normal(size=(20, 2))
Y = np.arange(20) % 2
README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_method_has_documented_checked_options():
    assert list(METHODS) == ["advi", "fullrank_advi", "flow_vi", "nuts", "sgld", "sghmc", "map", "ensemble", "swag",
                             "mc_dropout", "laplace", "pathfinder"]
    for method in METHODS.values():
        defaults = method.resolve()
        assert dataclasses.is_dataclass(defaults) and defaults == method.options()
        for f in dataclasses.fields(method.options):
            assert f.metadata["doc"], (method.name, f.name)
        with pytest.raises(dataclasses.FrozenInstanceError):
            defaults.draws = 5  # type: ignore[misc]
        assert callable(method.load())


@pytest.mark.parametrize(
    ("method", "options", "error", "message"),
    [
        ("nuts", {"target_accept": "0.9"}, ValueError, "target_accept: expected a number in (0, 1), got '0.9'"),
        ("advi", {"learning_rate": True}, ValueError, "learning_rate: expected a positive number, got True"),
        ("advi", {"learning_rate": float("nan")}, ValueError, "learning_rate: expected a positive number, got nan"),
        ("advi", {"backend": "fortran"}, ValueError, "backend: unknown backend 'fortran'; expected one of numba, c, jax"),
        ("nuts", {"backend": "fortran"}, ValueError, "backend: unknown backend 'fortran'; expected one of numba, c, jax"),
        ("pathfinder", {"backend": "jax"}, ValueError, "backend: unknown backend 'jax'; expected one of numba, c, python"),
        ("advi", {"engine": ["jax"]}, ValueError, "engine: unknown ADVI engine ['jax']; expected one of auto, jax, pymc"),
        ("advi", {"device": "tpu"}, ValueError, "device: expected None, 'cpu' or 'gpu', got 'tpu'"),
        ("advi", {"engine": "pymc", "device": "cpu"}, ValueError, "device: only the JAX engine runs on a chosen device"),
        ("nuts", {"device": "gpu"}, ValueError, "device: only the JAX samplers (numpyro, blackjax) run on a chosen device; sampler 'pymc' runs on the CPU"),
        ("fullrank_advi", {"engine": "pymc", "init_scale": 0.1}, ValueError, "init_scale: PyMC's full-rank ADVI (engine='pymc') has no initial scale"),
        ("mc_dropout", {"dropout": 1.0}, ValueError, "dropout: expected a probability in [0, 1), got 1.0"),
        ("laplace", {"optimize_method": 3}, ValueError, "optimize_method: expected a name (a non-empty str), got 3"),
        ("map", {"tune": 10}, TypeError, "tune: not an option of method 'map'; its options are steps, learning_rate, final_learning_rate, batch_size"),
    ],
)
def test_bad_options_name_the_field_and_the_form(method, options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        get_method(method).resolve(options)
    with pytest.raises(error, match=re.escape(message)):  # the same check before pbnn.fit does any work
        pbnn.fit(SPEC, X, Y, method, progressbar=False, **options)


def test_method_names_are_checked():
    with pytest.raises(TypeError, match=re.escape("method: expected a method name (a str), got list ['advi']")):
        pbnn.fit(SPEC, X, Y, method=["advi"])
    with pytest.raises(ValueError, match="method: unknown method 'svgd'; expected one of advi, fullrank_advi, flow_vi, nuts, sgld"):
        get_method("svgd")


def test_values_come_back_in_their_canonical_types():
    opts = get_method("advi").resolve({"steps": np.int64(50), "learning_rate": 1, "batch_size": np.int32(8)})
    assert (type(opts.steps), type(opts.learning_rate), type(opts.batch_size)) == (int, float, int)
    assert json.dumps(opts.to_dict())  # plain values: the DataTree stores them as JSON


def test_fit_records_the_resolved_options_defaults_included(quick_fit):
    recorded = json.loads(quick_fit.idata.attrs["pbnn_options"])
    expected = get_method("advi").resolve({"steps": 1500, "draws": 200}).to_dict()
    assert recorded == expected
    assert recorded["learning_rate"] == 0.01 and recorded["mc_samples"] == 1


def test_capabilities_drive_the_readers():
    import importlib

    compare, diagnostics = (importlib.import_module(f"pbnn.{m}") for m in ("compare", "diagnostics"))
    from pbnn.sklearn import FIT_OPTIONS

    assert methods.names(chains=True) == ["nuts", "sgld", "sghmc"] == list(diagnostics.MCMC_METHODS)
    assert methods.reference() == compare.REFERENCE == "nuts"
    assert methods.names(point=True) == ["map"]
    assert set(methods.names(minibatch=True)) == {"advi", "fullrank_advi", "flow_vi", "sgld", "sghmc", "map", "ensemble",
                                                  "swag", "mc_dropout"}
    assert methods.names(members=True) == ["ensemble"]
    every_option = {f.name for m in METHODS.values() for f in dataclasses.fields(m.options)}
    assert set(FIT_OPTIONS) <= every_option


def test_help_and_readme_list_every_option():
    text = methods.help_text()
    for method in METHODS.values():
        assert f"{method.name}: {method.summary}" in text
        for name, default, doc in method.options.describe():
            assert f"    {name} [{default}]: {doc}" in text
    assert methods.markdown_table() in README.read_text(), "README's methods table is stale: paste markdown_table()"


def test_fit_help_lists_the_options(capsys):
    from pbnn.cli import main

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "target_accept [0.9]: target acceptance rate" in out and "num_paths [4]" in out


def test_engine_result_faults_are_a_closed_set():
    with pytest.raises(ValueError, match="fault: expected one of"):
        EngineResult(None, None, fault="exploded")  # type: ignore[arg-type]


def test_register_refuses_a_second_method_of_the_same_name():
    with pytest.raises(ValueError, match="method 'advi' is registered already"):
        methods.register(METHODS["advi"])


def test_sklearn_passes_other_options():
    from pbnn.sklearn import BNNClassifier

    clf = BNNClassifier(steps=300, draws=20, options={"final_learning_rate": 1e-3})
    clf.fit(X, Y)
    assert json.loads(clf.pbnn_fit_.idata.attrs["pbnn_options"])["final_learning_rate"] == 1e-3
    with pytest.raises(ValueError, match="options: 'steps' is also given as the estimator parameter steps"):
        BNNClassifier(steps=300, options={"steps": 5}).fit(X, Y)


@pytest.mark.slow
def test_nuts_divergences_are_reported_when_the_fit_ends():
    # a step size tuned for 5 % acceptance leaves the posterior's geometry on almost every step
    with pytest.warns(UserWarning, match=r"nuts: \d+ divergences in 100 draws: .*raise target_accept \(now 0.05\)"):
        pbnn.fit(SPEC, X, Y, "nuts", sampler="numpyro", chains=1, tune=50, draws=100, target_accept=0.05,
                 progressbar=False, seed=0)
