"""Feature standardization (pbnn.scaling.FeatureScaling): chosen from the training inputs, stored with the run,
applied by predict (also after load), off with standardize=False; diagnose flags a base-rate classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pbnn
from pbnn.scaling import FeatureScaling

SCALES = np.array([1.0, 1e2, 1e4, 1e5])


def unscaled(n: int = 300, seed: int = 0):
    """4 features in natural units (sd 1 to 1e5, offsets far from 0) and a label that depends on all of them."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 4))
    X = Z * SCALES + np.array([5.0, 300.0, 2e4, 5e5])
    y = (Z @ np.array([1.0, -1.5, 0.8, 1.2]) + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def test_tables_are_standardized_per_column_and_constant_columns_kept():
    X = np.array([[1.0, 10.0, 7.0], [3.0, 30.0, 7.0], [5.0, 50.0, 7.0]])
    s = FeatureScaling.from_inputs(X)
    np.testing.assert_allclose(s.loc, [3.0, 30.0, 7.0])
    np.testing.assert_allclose(s.scale, [np.sqrt(8 / 3), 10 * np.sqrt(8 / 3), 1.0])
    Z = s.standardize(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :2].std(axis=0), 1.0)
    assert (Z[:, 2] == 0).all()


def test_images_in_the_unit_range_are_left_and_others_mapped_into_it_per_channel():
    unit = np.random.default_rng(0).uniform(size=(5, 1, 4, 4))
    assert FeatureScaling.from_inputs(unit).is_identity
    raw = np.concatenate([np.round(16 * unit), 255 * unit], axis=1)  # channel 0: 0..16 digits, 1: 0..255 pixels
    s = FeatureScaling.from_inputs(raw)
    assert s.loc.shape == s.scale.shape == (2, 1, 1)
    np.testing.assert_allclose(s.scale.ravel(), [np.round(16 * unit).max(), 255 * unit.max()])
    scaled = s.standardize(raw)
    assert scaled.min() >= 0 and scaled.max() == pytest.approx(1.0)
    signed = FeatureScaling.from_inputs(unit - 0.75)  # negative pixels: the channel's range, from its min
    assert signed.standardize(unit - 0.75).min() == pytest.approx(0.0)


def test_fit_stores_the_scaling_and_predict_applies_it_after_load(tmp_path):
    X, y = unscaled()
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X[:200], y[:200], method="map", steps=1500, seed=0, progressbar=False)
    loc = json.loads(fit.idata.attrs["pbnn_x_loc"])
    np.testing.assert_allclose(loc, X[:200].mean(axis=0))
    np.testing.assert_array_equal(fit.idata["constant_data"]["X"].values, X[:200])  # the user's units
    pred = fit.predict(X[200:])
    np.testing.assert_array_equal(pred["predictions_constant_data"]["X"].values, X[200:])
    assert pred.accuracy(y[200:]) >= 0.85
    loaded = pbnn.load(fit.save(tmp_path / "run"))
    np.testing.assert_array_equal(loaded.predict(X[200:]).draws(), pred.draws())
    # the same problem in other units: the same network after standardization
    other = pbnn.fit(pbnn.zoo.two_layer_tanh(), 1e3 * X[:200] - 7.0, y[:200], method="map", steps=1500, seed=0,
                     progressbar=False)
    np.testing.assert_allclose(other.predict(1e3 * X[200:] - 7.0).draws(), pred.draws(), atol=1e-6)


def test_standardize_false_feeds_raw_features_and_diagnose_names_the_cause():
    X, y = unscaled()
    raw = pbnn.fit(pbnn.zoo.two_layer_tanh(), X[:200], y[:200], steps=3000, seed=0, progressbar=False,
                   standardize=False)
    assert "pbnn_x_loc" not in raw.idata.attrs
    p = raw.predict(X[200:]).mean().values
    assert np.ptp(p) < 0.01  # the same prediction everywhere: the tanh units saturate
    d = pbnn.diagnose(raw)
    check = next(c for c in d.checks if c.name == "spread of the predictions over inputs")
    assert check.status == "FAIL" and "unscaled" in check.note and "standardize=True" in check.note
    assert not d.ok and "spread of the predictions" in d.verdict and "base rate 0.525" in check.note
    fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X[:200], y[:200], steps=3000, seed=0, progressbar=False)
    assert fit.predict(X[200:]).accuracy(y[200:]) >= 0.85
    assert all(c.name != "spread of the predictions over inputs" for c in pbnn.diagnose(fit).checks)


def test_standardize_must_be_a_bool():
    X, y = unscaled(20)
    with pytest.raises(TypeError, match="standardize: expected True or False, got 'yes'"):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), X, y, standardize="yes")


def test_cli_standardizes_unless_told_not_to(tmp_path):
    from pbnn.cli import main

    X, y = unscaled(60)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,d,label", comments="", fmt="%.17g")
    fast = ["--data", str(path), "--set", "steps=200", "--set", "draws=20", "-q"]
    assert main(["fit", "two_layer_tanh", *fast, "--out", str(tmp_path / "on")]) == 0
    assert main(["fit", "two_layer_tanh", *fast, "--no-standardize", "--out", str(tmp_path / "off")]) == 0
    assert "pbnn_x_loc" in pbnn.load(tmp_path / "on").idata.attrs
    assert "pbnn_x_loc" not in pbnn.load(tmp_path / "off").idata.attrs
