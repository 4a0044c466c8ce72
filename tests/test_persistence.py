"""fit.save / pbnn.load: spec TOML + NetCDF, atomic writes, identical predictions, clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import pbnn
from pbnn import results


def test_save_load_predict_identical(quick_fit, small_moons, tmp_path):
    X_te = small_moons.X_test
    path = quick_fit.save(tmp_path / "run")
    assert sorted(p.name for p in path.iterdir()) == ["idata.nc", "spec.toml"]
    loaded = pbnn.load(path)
    assert loaded.spec == quick_fit.spec
    assert loaded.method == "advi"
    assert loaded.idata.attrs["pbnn_seed"] == quick_fit.idata.attrs["pbnn_seed"]
    np.testing.assert_array_equal(loaded.predict(X_te)["predictions"]["p"].values, quick_fit.predict(X_te)["predictions"]["p"].values)
    np.testing.assert_array_equal(loaded.idata["optimizer_stats"]["elbo"].values, quick_fit.idata["optimizer_stats"]["elbo"].values)


def test_crash_during_save_keeps_the_previous_run(quick_fit, small_moons, tmp_path, monkeypatch):
    path = quick_fit.save(tmp_path / "run")
    before = (path / "idata.nc").read_bytes()

    def crash(self, target, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(quick_fit.idata), "to_netcdf", crash)
    with pytest.raises(KeyboardInterrupt):
        quick_fit.save(path)
    assert (path / "idata.nc").read_bytes() == before
    assert sorted(p.name for p in path.iterdir()) == ["idata.nc", "spec.toml"]  # no temp file left
    pbnn.load(path)


def test_corrupt_or_missing_files(quick_fit, tmp_path):
    path = quick_fit.save(tmp_path / "run")
    data = (path / "idata.nc").read_bytes()
    (path / "idata.nc").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=re.escape("idata.nc: could not be read as NetCDF")):
        pbnn.load(path)
    (path / "idata.nc").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape("not a saved pbnn run (missing idata.nc)")):
        pbnn.load(path)


def test_spec_and_data_must_match(quick_fit, tmp_path):
    path = quick_fit.save(tmp_path / "run")
    pbnn.zoo.hierarchical().save(path / results.SPEC_FILE)
    with pytest.raises(pbnn.SpecError, match=re.escape("spec.toml does not match the spec stored in idata.nc")):
        pbnn.load(path)


def test_summary_reads_well(quick_fit):
    text = repr(quick_fit)
    assert "method advi" in text and "1 chain(s) x 200 draws" in text and "final ELBO" in text
    assert "<pre>" in quick_fit._repr_html_()
