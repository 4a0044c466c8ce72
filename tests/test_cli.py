"""The ``pbnn`` command: every subcommand on small data, and its error paths (exit status 2, one line)."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

import pbnn
from pbnn.cli import main

FAST = ["--set", "steps=1500", "--set", "draws=100"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "missing.toml", "--data", "moons"], "pbnn: error: model: no such spec file 'missing.toml'"),
        (["fit", "no_such_model", "--data", "moons"], "pbnn: error: model: 'no_such_model' is neither a spec file nor a zoo model; zoo models: "),
        (["fit", "two_layer_tanh", "--data", "marbles"], "pbnn: error: --data: unknown data set 'marbles'; known names: moons"),
        (["compare", "two_layer_tanh", "--data", "moons", "--methods", "advi,svgd"], "pbnn: error: --methods: unknown method(s) svgd; expected a comma-separated list of advi, fullrank_advi, flow_vi, nuts"),
        (["fit", "two_layer_tanh", "--data", "moons", "--method", "svgd"], "pbnn: error: method: unknown method 'svgd'; expected one of advi"),
        (["fit", "two_layer_tanh", "--data", "moons", "--set", "steps"], "pbnn: error: --set 'steps': expected KEY=VALUE"),
        (["compare", "two_layer_tanh", "--data", "moons", "--set", "steps=10"], "pbnn: error: --set steps=...: expected METHOD.OPTION=VALUE with METHOD among advi, nuts"),
    ],
)
def test_error_paths(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_bad_target_column(capsys, tmp_path):
    path = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(size=(40, 2)), np.arange(40) % 2])
    np.savetxt(path, rows, delimiter=",", header="a,b,label", comments="")
    code, _, err = run(capsys, "fit", "two_layer_tanh", "--data", str(path), "--target", "colour")
    assert code == 2
    assert err.startswith("pbnn: error: --data: ") and "colour" in err and "a, b, label" in err.replace("'", ""), err


def test_zoo_lists_every_model(capsys):
    code, out, _ = run(capsys, "zoo")
    assert code == 0
    for name in pbnn.zoo.names():
        assert f"{name}:" in out or out.startswith(name)
    assert "Dense(5, tanh, no bias) -> Dense(5, tanh, no bias) -> Dense(1, identity, no bias)" in out


def test_fit_then_predict_csv(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, _ = run(capsys, "fit", "models/two_layer_tanh.toml", "--data", "moons", "--out", str(run_dir), *FAST)
    assert code == 0 and "test accuracy" in out
    assert (run_dir / "spec.toml").is_file() and (run_dir / "idata.nc").is_file()
    points = tmp_path / "points.csv"
    X = pbnn.datasets.moons().X_test[:20]
    np.savetxt(points, X, delimiter=",", header="x1,x2", comments="", fmt="%.17g")
    code, out, _ = run(capsys, "predict", str(run_dir), str(points), "--out", str(tmp_path / "pred.csv"))
    assert code == 0
    with open(tmp_path / "pred.csv") as f:
        rows = list(csv.DictReader(f))
    pred = pbnn.load(run_dir).predict(X)
    assert [int(r["class"]) for r in rows] == list(pred.classes())
    np.testing.assert_allclose([float(r["p_1"]) for r in rows], pred.mean().values, rtol=1e-5)
    assert all(abs(float(r["p_0"]) + float(r["p_1"]) - 1) < 1e-5 for r in rows)  # written with 6 digits


def test_compare_writes_every_file(capsys, tmp_path):
    out_dir = tmp_path / "cmp"
    code, out, _ = run(capsys, "compare", "two_layer_tanh", "--data", "moons", "--methods", "advi,map",
                       "--set", "advi.steps=3000", "--set", "map.steps=2000", "--out", str(out_dir), "-q")
    assert code == 0 and out == ""
    for name in ("advi/spec.toml", "advi/idata.nc", "map/idata.nc", "table.csv", "report.md", "uncertainty_maps.png",
                 "elbo.png", "reliability.png"):
        assert (out_dir / name).is_file(), name
    with open(out_dir / "table.csv") as f:
        table = {r["method"]: r for r in csv.DictReader(f)}
    assert float(table["advi"]["accuracy"]) >= 0.9
    assert "| advi |" in (out_dir / "report.md").read_text()


def test_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "pbnn.cli", "compare", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--methods" in result.stdout and "METHOD.KEY=VALUE" in result.stdout
