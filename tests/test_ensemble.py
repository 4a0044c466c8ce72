"""Deep ensembles (pbnn/inference/ensemble.py): members that differ, seeded members, one compilation, the chains'
meaning in diagnose, regression members, MultiSWAG, checked options and save/load."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import pbnn
from pbnn.inference import ensemble, loop
from pbnn.inference.methods import get_method

SPEC = pbnn.zoo.two_layer_tanh()
FAR = np.array([[4.0, 4.0], [-4.0, 3.0], [0.0, -5.0]])  # far from the moons' data


@pytest.fixture(scope="module")
def ensemble_fit(small_moons):
    X_tr, _, y_tr, _ = small_moons
    return pbnn.fit(SPEC, X_tr, y_tr, "ensemble", members=4, steps=400, seed=7, progressbar=False)


def test_members_differ_and_spread_where_one_map_fit_has_none(ensemble_fit, small_moons):
    X_tr, X_te, y_tr, y_te = small_moons
    w = ensemble_fit.posterior["w_1"].values[:, 0]  # (member, input, hidden)
    assert ensemble_fit.posterior.sizes["chain"] == 4 and ensemble_fit.posterior.sizes["draw"] == 1
    assert min(np.abs(w[i] - w[j]).max() for i in range(4) for j in range(i)) > 0.1
    map_fit = pbnn.fit(SPEC, X_tr, y_tr, "map", steps=400, seed=7, progressbar=False)
    spread = {name: float(f.predict(FAR)["predictions"]["p"].std(("chain", "draw")).mean())
              for name, f in (("ensemble", ensemble_fit), ("map", map_fit))}
    assert spread["map"] == 0.0 and spread["ensemble"] > 0.02, spread
    assert ensemble_fit.predict(X_te).accuracy(y_te) > 0.85
    assert ensemble_fit.idata["log_likelihood"]["y"].shape == (4, 1, len(y_tr))  # per draw: pbnn.fit adds it


def test_member_m_is_the_member_methods_fit_from_its_seed(ensemble_fit, small_moons):
    X_tr, _, y_tr, _ = small_moons
    seeds = ensemble.member_seeds(7, 4)
    assert len(set(seeds)) == 4 and seeds == [int(s) for s in np.random.SeedSequence(7).generate_state(4)]
    third = pbnn.fit(SPEC, X_tr, y_tr, "map", steps=400, seed=seeds[2], progressbar=False)
    np.testing.assert_array_equal(ensemble_fit.posterior["w_2"].values[2], third.posterior["w_2"].values[0])
    again = pbnn.fit(SPEC, X_tr, y_tr, "ensemble", members=4, steps=400, seed=7, progressbar=False)
    np.testing.assert_array_equal(again.posterior["w_1"].values, ensemble_fit.posterior["w_1"].values)


def test_the_members_rate_decays_as_the_member_methods(small_moons):
    X_tr, _, y_tr, _ = small_moons
    options = {"steps": 300, "learning_rate": 0.05, "final_learning_rate": 0.005, "progressbar": False}
    fit = pbnn.fit(SPEC, X_tr, y_tr, "ensemble", members=2, seed=3, **options)
    second = pbnn.fit(SPEC, X_tr, y_tr, "map", seed=ensemble.member_seeds(3, 2)[1], **options)
    np.testing.assert_array_equal(fit.posterior["w_1"].values[1], second.posterior["w_1"].values[0])
    assert json.loads(fit.idata.attrs["pbnn_options"])["final_learning_rate"] == 0.005


def test_diagnose_shows_the_members_spread_not_r_hat(ensemble_fit):
    d = pbnn.diagnose(ensemble_fit)
    names = [c.name for c in d.checks]
    assert "r_hat (max)" not in names and "spread between members (mean sd)" in names
    spread = next(c for c in d.checks if c.name.startswith("spread between members"))
    assert spread.status == "info" and spread.value == pytest.approx(float(d.function["member_sd"].mean()))
    assert "not Markov chains" in ensemble_fit.posterior.attrs["pbnn_draws"]
    assert "member m" in ensemble_fit.posterior.attrs["pbnn_draws"]


@pytest.mark.slow  # a model of its own: built and compiled here
def test_regression_members_are_heteroscedastic_networks_compiled_once(monkeypatch):
    built = []
    original = loop._chunk_fn
    monkeypatch.setattr(loop, "_chunk_fn", lambda *args: built.append(args[2]) or original(*args))
    ds = pbnn.datasets.sine(n_samples=64)
    spec = pbnn.BNN([pbnn.layers.Dense(8, activation="relu"), pbnn.layers.Dense(2)],
                    likelihood="heteroscedastic_normal")  # a spec no other test fits: nothing compiled yet
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, "ensemble", members=3, steps=300, seed=0, progressbar=False)
    assert built == [300]  # one chunk of 300 steps compiled, run by the three members
    pred = fit.predict(ds.X_test, ds.y_test)["predictions"]
    assert pred["mu"].shape == pred["sigma"].shape == (3, 1, len(ds.X_test))
    assert float(pred["sigma"].std("obs").min()) > 0  # a noise sd per point: each member's own
    assert not np.allclose(pred["mu"].values[0], pred["mu"].values[1])
    assert fit.optimizer_stats["lp"].dims == ("chain", "step") and fit.optimizer_stats["lp"].shape == (3, 300)


def test_advi_and_swag_members(small_moons, quick_fit, short_swag):
    X_tr, _, y_tr, _ = small_moons
    # the settings of conftest's quick_fit (advi) and short_swag: their compiled loops serve here
    advi = pbnn.fit(SPEC, X_tr, y_tr, "ensemble", member="advi", members=2, steps=1500, draws=20, seed=0,
                    progressbar=False)
    multiswag = pbnn.fit(SPEC, X_tr, y_tr, "ensemble", member="swag", members=2, **short_swag, draws=15, seed=0,
                         progressbar=False)
    assert (advi.posterior.sizes["chain"], advi.posterior.sizes["draw"]) == (2, 20)
    assert (multiswag.posterior.sizes["chain"], multiswag.posterior.sizes["draw"]) == (2, 15)
    assert "log_q" not in advi.idata["sample_stats"]  # each member's own q, not the mixture's: no k-hat
    assert [c.name for c in pbnn.diagnose(advi).checks][0] == "ELBO relative change"
    assert "swag fits" in multiswag.posterior.attrs["pbnn_draws"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"members": 0}, "members: expected a positive integer, got 0"),
        ({"member": "nuts"}, "member: unknown ensemble member 'nuts'; expected one of map, advi, swag"),
        ({"draws": 10}, "draws: a map member is one draw; draws applies to advi and swag members, got 10"),
        ({"rank": 5}, "rank: an option of swag members (member='swag'), got member='map'"),
        ({"member": "swag", "rank": 1}, "rank: expected an integer >= 2 (the covariance divides by rank - 1), got 1"),
        ({"member": "advi", "learning_rate": -1}, "learning_rate: expected a positive number, got -1"),
        ({"final_learning_rate": "0.1"}, "final_learning_rate: expected a positive number, got '0.1'"),
    ],
)
def test_bad_options_name_the_field(options, message, small_moons):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_method("ensemble").resolve(options)
    with pytest.raises(ValueError, match=re.escape(message)):  # before pbnn.fit does any work
        pbnn.fit(SPEC, small_moons.X_train, small_moons.y_train, "ensemble", progressbar=False, **options)


def test_save_and_load_round_trip(ensemble_fit, small_moons, tmp_path):
    loaded = pbnn.load(ensemble_fit.save(tmp_path / "ensemble"))
    assert loaded.method == "ensemble" and loaded.posterior.attrs["pbnn_draws"] == ensemble_fit.posterior.attrs["pbnn_draws"]
    np.testing.assert_array_equal(loaded.predict(small_moons.X_test)["predictions"]["p"].values,
                                  ensemble_fit.predict(small_moons.X_test)["predictions"]["p"].values)
    np.testing.assert_array_equal(loaded.optimizer_stats["lp"].values, ensemble_fit.optimizer_stats["lp"].values)
