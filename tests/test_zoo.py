"""Every zoo model meets its data set's bar with its own defaults (its [fit] table): seed 0, split 0 (conv_hierarchical
in the benchmark only).

benchmarks/bench_zoo.py runs the same fits for 5 seeds (and 2 splits of digits) and records them."""

from __future__ import annotations

import pytest

import pbnn
from benchmarks.bench_zoo import BARS, fit_with_defaults


def test_every_zoo_model_has_a_bar():
    assert sorted(BARS) == pbnn.zoo.names()


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
