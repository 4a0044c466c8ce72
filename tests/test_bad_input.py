"""The issue's bad-input list and faults, item by item: each error names the argument and the expected form.

Asserted in other files and not repeated here: NaN/inf in X or y, X/y length mismatch, 1-D X, empty X,
string X, bernoulli/categorical labels with their hints, y of the wrong rank, batch_size larger than the
data, steps/draws/chains of 0 or below, unknown method/sampler/engine names (tests/test_validation.py);
spec-file keys and kinds (tests/test_spec.py, here with line numbers); a truncated idata.nc, a missing
file, a spec that does not match its run, a crash during save (tests/test_persistence.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import pbnn
from pbnn import layers as L
from pbnn.errors import DataError, DivergenceError, FitError, SpecError
from pbnn.likelihoods import LIKELIHOODS

SPEC = pbnn.zoo.two_layer_tanh()
X = np.random.default_rng(0).normal(size=(20, 2))
Y = np.arange(20) % 2


# -- data -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "X", "y", "message"),
    [
        (SPEC, np.array([[1.0, "a"]] * 20, dtype=object), Y, "X: expected numbers, got an array of dtype object; convert strings or objects to numbers first"),
        (SPEC, [[1.0, 2.0], [3.0]], Y[:2], "X: could not be read as an array (setting an array element with a sequence."),
        (pbnn.BNN([L.Dense(1)], likelihood="normal"), X, np.array(["cat", "dog"] * 10), "y: expected numbers, got an array of dtype <U3; convert strings or objects to numbers first"),
        (SPEC, X, np.array(["cat", "dog", None] * 6 + ["cat", "dog"], dtype=object), "y: expected a label in every row, got 6 missing (None/NaN), the first at index 2"),
        (pbnn.BNN([L.Dense(1)], likelihood="normal"), X, np.array([None] * 20), "y: expected numbers, got an array of dtype object; convert strings or objects to numbers first"),
        (pbnn.BNN([L.Conv2D(4, 3), L.Flatten(), L.Dense(1)]), X, Y, "X: inputs of shape (2,) do not fit the spec: layers[1] Conv2D(4, 3x3, identity): Conv2D expects images (channels, height, width), got shape (2,)"),
    ],
)
def test_bad_data_at_fit(spec, X, y, message):
    with pytest.raises(DataError, match=re.escape(message)):
        pbnn.fit(spec, X, y, progressbar=False)


def test_bad_data_at_predict(quick_fit):
    with pytest.raises(DataError, match=re.escape("X: expected inputs of shape (2,) (n_samples excluded), as in training, got (3,)")):
        quick_fit.predict(np.ones((4, 3)))
    with pytest.raises(DataError, match=re.escape("X: expected finite values, found 1 NaN/inf (first: NaN at index (1, 0))")):
        quick_fit.predict(np.array([[0.0, 1.0], [np.nan, 0.0]]))


# -- options ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 2.5}, "steps: expected a positive integer, got 2.5"),
        ({"draws": True}, "draws: expected a positive integer, got True"),
        ({"batch_size": 2.5}, "batch_size: expected a positive integer, got 2.5"),
        ({"learning_rate": -0.1}, "learning_rate: expected a positive number, got -0.1"),
        ({"init_scale": 0}, "init_scale: expected a positive number, got 0"),
        ({"method": "nuts", "tune": 0}, "tune: expected a positive integer, got 0"),
        ({"method": "nuts", "chains": -2}, "chains: expected a positive integer, got -2"),
    ],
)
def test_bad_option_values(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        pbnn.fit(SPEC, X, Y, progressbar=False, **options)


# -- spec files: the key and its line ----------------------------------------------------------------
LAYER = '[[layers]]\nkind = "dense"\nunits = 1\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[layers]]\nkind = "dense"\nunits = 4\n\n[[layers]]\nkind = "dense"\nunits = 1\nactivaton = "tanh"\n', 'line 8: layers[2]: unknown key \'activaton\'; expected keys are kind, units, activation, bias'),
        ('[[layers]]\nkind = "dense"\nunits = "5"\n', "line 3: layers[1]: Dense.units: expected a positive integer, got '5'"),
        ('[[layers]]\nkind = "dense"\nunits = 1\nbias = "yes"\n', "line 4: layers[1]: Dense.bias: expected true or false, got 'yes'"),
        ('[[layers]]\n  kind = "dens"\nunits = 1\n', "line 2: layers[1].kind: unknown kind 'dens'; expected one of dense"),
        ('name = "x"\ncolour = 1\n' + LAYER, "line 2: spec: unknown key 'colour'; expected keys are name, description, likelihood, prior, layers"),
        ('name = 3\n' + LAYER, "line 1: name: expected a string, got 3"),
        ('likelihood = "gamma"\n' + LAYER, f"line 1: likelihood: unknown likelihood 'gamma'; expected one of {', '.join(LIKELIHOODS)}"),
        ('layers = 5\n', "line 1: layers: expected a list of [[layers]] tables, got 5"),
        ('[prior] # weights\nkind = "normal"\nsigma = "big"\n' + LAYER, "line 3: prior: Normal.sigma: expected a positive number, got 'big'"),
        ('name = "x\n' + LAYER, "not valid TOML: "),
    ],
)
def test_spec_file_names_key_and_line(text, message, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=re.escape(f"{path}, {message}" if message.startswith("line") else f"{path}: {message}")):
        pbnn.load_spec(path)


# -- saved runs -----------------------------------------------------------------------------------
def test_corrupt_saved_runs(quick_fit, tmp_path):
    run = quick_fit.save(tmp_path / "run")
    spec_text = (run / "spec.toml").read_text()
    (run / "spec.toml").write_text(spec_text[: len(spec_text) // 2] + "\n[[layers\n")
    with pytest.raises(SpecError, match=re.escape(f"{run / 'spec.toml'}: not valid TOML")):
        pbnn.load(run)
    (run / "spec.toml").write_text(spec_text)
    (run / "idata.nc").write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(f"{run / 'idata.nc'}: could not be read as NetCDF (")):
        pbnn.load(run)
    xr.DataTree.from_dict({"posterior": xr.Dataset({"a": ("x", [1.0])})}).to_netcdf(run / "idata.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match=re.escape(f"{run / 'idata.nc'}: not a pbnn run (no pbnn attributes or no posterior group)")):
        pbnn.load(run)
    with pytest.raises(FileNotFoundError, match=re.escape(f"{run / 'spec.toml'}: not a saved pbnn run (missing spec.toml)")):
        pbnn.load(run / "spec.toml")


# -- faults ---------------------------------------------------------------------------------------
def test_diverging_advi_says_what_to_try_and_keeps_the_last_finite_fit():
    rng = np.random.default_rng(0)
    X_reg = rng.normal(size=(50, 2))
    y_reg = 3 * X_reg[:, 0] + rng.normal(size=50)
    spec = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], likelihood="normal")
    with pytest.raises(DivergenceError, match=re.escape(
        "of 3000. Try a lower learning_rate (now 1000.0), a smaller init_scale (now 0.1), or standardizing X "
        "(e.g. sklearn.preprocessing.StandardScaler). exc.fit holds draws from the last finite approximation."
    )) as info:
        pbnn.fit(spec, X_reg, y_reg, steps=3000, learning_rate=1e3, draws=20, progressbar=False, seed=0)
    err = info.value
    assert isinstance(err, FloatingPointError) and isinstance(err, FitError)
    step = int(re.search(r"at step (\d+) of", str(err))[1])
    elbo = err.fit.idata["optimizer_stats"]["elbo"].values
    assert len(elbo) == step and not np.isfinite(elbo[-1]) and np.isfinite(elbo[:-1]).all()
    assert np.isfinite(err.fit.posterior["w_1"].values).all()
    assert err.fit.predict(X_reg)["predictions"]["mu"].shape == (1, 20, 50)


def test_ctrl_c_returns_the_fit_so_far(small_moons, interrupt_at):
    X_tr, X_te, y_tr, _ = small_moons
    full = pbnn.fit(SPEC, X_tr, y_tr, steps=2000, draws=50, seed=5, progressbar=False)
    interrupt_at(2000, label="ADVI", value_name="ELBO")
    with pytest.warns(UserWarning, match=re.escape("ADVI interrupted after 2000 of 5000 steps: returning the fit so far")):
        stopped = pbnn.fit(SPEC, X_tr, y_tr, steps=5000, draws=50, seed=5, progressbar=False)
    # the steps done are exactly those of a 2000-step run with the same seed
    np.testing.assert_array_equal(stopped.idata["optimizer_stats"]["elbo"].values, full.idata["optimizer_stats"]["elbo"].values)
    np.testing.assert_array_equal(stopped.predict(X_te)["predictions"]["p"].values, full.predict(X_te)["predictions"]["p"].values)


def test_sampler_failure_surfaces_pymc_message(monkeypatch):
    import pymc as pm
    from pymc.exceptions import SamplingError

    def failing_sample(**kwargs):
        raise SamplingError("Initial evaluation of model at starting point failed!")

    monkeypatch.setattr(pm, "sample", failing_sample)
    with pytest.raises(FitError, match=re.escape("method 'nuts' failed: SamplingError: Initial evaluation of model at starting point failed!")) as info:
        pbnn.fit(SPEC, X, Y, method="nuts", draws=10, tune=10, chains=1, progressbar=False)
    assert info.value.fit is None and info.value.__suppress_context__
    assert isinstance(info.value.__context__, SamplingError)
