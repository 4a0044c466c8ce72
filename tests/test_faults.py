"""Faults injected on purpose: saves killed with SIGKILL, two processes saving into one run, edited runs, and
a table of bad inputs with the exact message each must give (pbnn.rundir, pbnn.results, the checks at the boundary)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pbnn
from pbnn import layers as L
from pbnn import priors as P
from pbnn import rundir
from pbnn.cli import main
from pbnn.errors import DataError, SpecError
from pbnn.results import IDATA_FILE, SPEC_FILE, Fit

X = np.random.default_rng(0).normal(size=(20, 2))
Y = np.arange(20) % 2


def leftovers(parent: Path) -> list[str]:
    """Names next to runs that a save leaves only when it did not finish (the lock file stays)."""
    return sorted(n for n in os.listdir(parent) if ".tmp-" in n or ".trash-" in n)


@pytest.fixture(scope="module")
def wide_fit(small_moons):
    """A run of another spec than quick_fit's, ~19 MB on disk (801 parameters x 3000 draws)."""
    spec = pbnn.BNN([L.Dense(200, activation="tanh"), L.Dense(1)], name="wide")
    return pbnn.fit(spec, small_moons.X_train, small_moons.y_train, steps=20, draws=3000, seed=0, progressbar=False)


@pytest.fixture(scope="module")
def regression_fit():
    rng = np.random.default_rng(1)
    Xr = rng.normal(size=(40, 1))
    spec = pbnn.BNN([L.Dense(1)], likelihood="normal", name="line")
    return pbnn.fit(spec, Xr, 3 * Xr[:, 0] + rng.normal(size=40), steps=200, draws=20, seed=0, progressbar=False)


# -- saves killed at random moments -----------------------------------------------------------------------

#: A helper process: loads a run once, then for each command forks a child that saves it (the child is what the
#: test kills) and reports the child's pid, then its exit status and the seconds it took.
SAVER = textwrap.dedent("""
    import os, sys, time
    import pbnn
    fits = [pbnn.load(p) for p in sys.argv[1:]]
    for line in sys.stdin:
        target, *which = line.split()
        gate_r, gate_w = os.pipe()
        pids = []
        for k in which:
            pid = os.fork()
            if pid == 0:
                os.read(gate_r, 1)
                try:
                    fits[int(k)].save(target)
                    os._exit(0)
                except pbnn.rundir.RunLockedError as err:
                    sys.stderr.write(f"locked: {err}\\n")
                    os._exit(3)
            pids.append(pid)
        start = time.perf_counter()
        os.write(gate_w, b"x" * len(pids))
        print(*pids, flush=True)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        print(*codes, round(time.perf_counter() - start, 3), flush=True)
        os.close(gate_r)
        os.close(gate_w)
""")


@pytest.fixture(scope="module")
def saver(tmp_path_factory, quick_fit, wide_fit):
    src = tmp_path_factory.mktemp("sources")
    wide_fit.save(src / "wide")
    quick_fit.save(src / "old")
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(src / "wide"), str(src / "old")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())

    def command(target: Path, *which: int, kill_after: float | None = None) -> tuple[list[int], float]:
        proc.stdin.write(f"{target} {' '.join(map(str, which))}\n")
        proc.stdin.flush()
        pids = [int(p) for p in proc.stdout.readline().split()]
        if not pids:
            raise RuntimeError(proc.stderr.read())
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pids[0], signal.SIGKILL)
            except ProcessLookupError:  # the save had finished
                pass
        *codes, seconds = proc.stdout.readline().split()
        return [int(c) for c in codes], float(seconds)

    yield command
    proc.stdin.close()
    proc.wait(timeout=30)


def same_run(loaded: Fit, fit: Fit) -> bool:
    return loaded.spec == fit.spec and np.array_equal(loaded.posterior["w_1"].values, fit.posterior["w_1"].values)


@pytest.mark.slow
def test_kill_during_save_leaves_the_old_or_the_new_run(saver, quick_fit, wide_fit, tmp_path):
    """At least 10 saves of a 19 MB run over a run of another spec, each killed (SIGKILL) at a seeded random moment
    between its start and 1.5x the duration of a whole save (timed again every 5 trials: the machine's load
    changes it), until kills have landed both before and after the swap (at most 20): every load returns one of
    the two, complete, and no temporary folder remains."""
    target = tmp_path / "run"
    rng = np.random.default_rng(18)
    outcomes: list[str] = []
    for trial in range(20):
        if trial >= 10 and {"old", "new"} <= set(outcomes):
            break
        if trial % 5 == 0:  # one whole save, to time it
            quick_fit.save(target)
            codes, seconds = saver(target, 0)
            assert codes == [0] and same_run(pbnn.load(target), wide_fit)
        quick_fit.save(target)
        saver(target, 0, kill_after=float(rng.uniform(0, 1.5 * seconds)))
        loaded = pbnn.load(target)
        assert leftovers(tmp_path) == []
        assert sorted(os.listdir(target)) == [IDATA_FILE, SPEC_FILE]
        if same_run(loaded, wide_fit):
            outcomes.append("new")
        else:
            assert same_run(loaded, quick_fit)
            outcomes.append("old")
    assert {"old", "new"} <= set(outcomes), outcomes  # kills landed both before and after the swap


@pytest.mark.slow
def test_two_processes_saving_into_one_run(saver, quick_fit, wide_fit, tmp_path):
    target = tmp_path / "run"
    codes, _ = saver(target, 0, 1)  # both released at once
    assert sorted(codes) == [0, 3]  # one saved, the other was told (RunLockedError)
    loaded = pbnn.load(target)
    assert same_run(loaded, wide_fit if codes[0] == 0 else quick_fit)
    assert leftovers(tmp_path) == []


def test_a_save_in_progress_refuses_a_second_one(quick_fit, tmp_path):
    target = tmp_path / "run"
    quick_fit.save(target)
    with rundir._lock(Path(os.path.realpath(target)), exclusive=True, wait=0, user_path=target):
        with pytest.raises(rundir.RunLockedError, match=re.escape(
                f"{target}: another process (pid {os.getpid()}) is saving a run into it; wait until it is done or save elsewhere")):
            quick_fit.save(target)
    quick_fit.save(target)


@pytest.mark.parametrize("state", ["tmp only", "trash and tmp", "new and trash"])
def test_load_repairs_what_a_killed_save_left(quick_fit, wide_fit, tmp_path, state):
    """The three states of pbnn.rundir's table, made by hand."""
    target = tmp_path / "run"
    old, new = quick_fit.save(tmp_path / "src" / "old"), wide_fit.save(tmp_path / "src" / "new")
    tmp, trash = tmp_path / ".run.tmp-1-ab", tmp_path / ".run.trash-1-cd"
    if state == "tmp only":
        os.rename(old, target)
        os.rename(new, tmp)
        (tmp / IDATA_FILE).write_bytes((tmp / IDATA_FILE).read_bytes()[:1000])  # half written
        expected = quick_fit
    elif state == "trash and tmp":
        os.rename(old, trash)
        os.rename(new, tmp)
        expected = quick_fit
    else:
        os.rename(new, target)
        os.rename(old, trash)
        (trash / SPEC_FILE).unlink()  # the removal was under way
        expected = wide_fit
    assert same_run(pbnn.load(target), expected)
    assert sorted(os.listdir(tmp_path)) == [".run.lock", "run", "src"]


# -- failed saves ---------------------------------------------------------------------------------------------


def test_a_save_failing_half_way_keeps_the_old_run(quick_fit, tmp_path):
    target = tmp_path / "run"
    quick_fit.save(target)
    before = {n: (target / n).read_bytes() for n in os.listdir(target)}
    broken = Fit(quick_fit.spec, quick_fit.idata.copy(deep=True))
    broken.idata["posterior"].attrs["note"] = "a\x00b"  # HDF5 cannot store the NUL: to_netcdf fails mid-file
    with pytest.raises(ValueError):
        broken.save(target)
    assert {n: (target / n).read_bytes() for n in os.listdir(target)} == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        ("pbnn_seed", 2**63, "attribute pbnn_seed: expected an integer in [0, 2**63), got 9223372036854775808"),
        ("pbnn_input_shape", "[2", "attribute pbnn_input_shape: expected a JSON list of positive integers, got '[2'"),
        ("pbnn_spec", "name = 1", "attribute pbnn_spec differs from the fit's spec"),
    ],
)
def test_a_run_that_would_not_load_is_not_written(quick_fit, tmp_path, attr, value, message):
    target = tmp_path / "run"
    quick_fit.save(target)
    before = (target / IDATA_FILE).read_bytes()
    broken = Fit(quick_fit.spec, quick_fit.idata.copy(deep=True))
    broken.idata.attrs[attr] = value
    with pytest.raises(ValueError, match=re.escape(f"run for {target}: {message}")):
        broken.save(target)
    assert (target / IDATA_FILE).read_bytes() == before and leftovers(tmp_path) == []


def test_files_honour_the_umask(quick_fit, tmp_path):
    old = os.umask(0o027)
    try:
        quick_fit.save(tmp_path / "run")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "run", *(tmp_path / "run").iterdir()]}
    assert modes == {"run": 0o750, SPEC_FILE: 0o640, IDATA_FILE: 0o640}


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")), FileExistsError,
         "run: is a folder holding files that are not part of a pbnn run (notes.txt); saving would delete them"),
        (lambda p: p.write_text("x"), FileExistsError, "run: is an existing file; a run is saved as a folder"),
    ],
)
def test_save_never_replaces_what_is_not_a_run(quick_fit, tmp_path, make, error, message):
    make(tmp_path / "run")
    with pytest.raises(error, match=re.escape(message)):
        quick_fit.save(tmp_path / "run")


@pytest.mark.parametrize("name", ["cr\r", "esc\x1b", "del\x7f", "nul\x00", 'tab\t "quoted" \\ \b\f'])
def test_control_characters_round_trip(quick_fit, tmp_path, name):
    spec = pbnn.BNN(quick_fit.spec.layers, prior=quick_fit.spec.prior, name=name)
    assert pbnn.BNN.from_toml(spec.to_toml()) == spec
    assert pbnn.load_spec(spec.save(tmp_path / "spec.toml")).name == name


# -- edited runs fail in load, naming the file and the field --------------------------------------------------


def edit(run: Path, change) -> None:
    with xr.open_datatree(run / IDATA_FILE, engine="h5netcdf") as tree:
        idata = tree.load()
    change(idata)
    (run / IDATA_FILE).unlink()
    idata.to_netcdf(run / IDATA_FILE, engine="h5netcdf")


def _nan_draw(idata):
    post = idata["posterior"].to_dataset()
    post["w_1"] = post["w_1"].copy(data=np.where(np.arange(post["w_1"].size).reshape(post["w_1"].shape) == 3,
                                                 np.nan, post["w_1"].values))
    idata["posterior"] = xr.DataTree(post)


def _drop(name):
    def change(idata):
        post = idata["posterior"].to_dataset().drop_vars(name)
        idata["posterior"] = xr.DataTree(post)
    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_nan_draw, "posterior variable 'w_1' holds 1 NaN/inf value(s); a fit stores finite draws only (the file was edited or damaged)"),
        (_drop("w_2"), "posterior variable 'w_2' is missing; the spec has it with shape (5, 5)"),
        (lambda t: t.attrs.pop("pbnn_options"), "attribute pbnn_options is missing; expected the method's options as a JSON object"),
        (lambda t: t.attrs.update(pbnn_options="{oops"), "attribute pbnn_options: expected the method's options as a JSON object, got '{oops'"),
        (lambda t: t.attrs.update(pbnn_input_shape="[3]"), "posterior variable 'w_1': expected dims (chain, draw, input, hidden_1) of shape (.., .., 3, 5) as the spec says, got {'chain': 1, 'draw': 200, 'input': 2, 'hidden_1': 5}"),
        (lambda t: t.attrs.update(pbnn_fit_seconds=-1.0), "attribute pbnn_fit_seconds: expected a finite number of seconds >= 0, got"),
    ],
)
def test_edited_runs_fail_in_load(quick_fit, tmp_path, change, message):
    run = quick_fit.save(tmp_path / "run")
    edit(run, change)
    with pytest.raises(ValueError, match=re.escape(f"{run / IDATA_FILE}: {message}")):
        pbnn.load(run)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "attribute pbnn_y_scale: expected a finite number > 0, got nan"),
        (0.0, "attribute pbnn_y_scale: expected a finite number > 0, got 0.0"),
        (None, "attribute pbnn_y_scale is missing; a regression run stores the target scaling"),
    ],
)
def test_bad_target_scaling_fails_in_load(regression_fit, tmp_path, value, message):
    run = regression_fit.save(tmp_path / "run")
    edit(run, lambda t: t.attrs.pop("pbnn_y_scale") if value is None else t.attrs.update(pbnn_y_scale=value))
    with pytest.raises(ValueError, match=re.escape(f"{run / IDATA_FILE}: {message}")):
        pbnn.load(run)


# -- bad input: the table -------------------------------------------------------------------------------------

DEEP = "a = " + "[" * 5000 + "]" * 5000 + "\n"
NESTED = "a = " + "[" * 20 + "]" * 20 + "\n"
SPEC = pbnn.zoo.two_layer_tanh()
LINE = pbnn.BNN([L.Dense(1)], likelihood="normal")


def masked(a, where):
    return np.ma.masked_array(a, mask=np.zeros_like(a, dtype=bool) | where)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # spec files
        (lambda p: pbnn.load_spec((p / "deep.toml", p.joinpath("deep.toml").write_text(DEEP))[0]), SpecError,
         "deep.toml: arrays or tables nested deeper than Python can parse; a spec nests at most 16 levels"),
        (lambda p: pbnn.load_spec((p / "n.toml", p.joinpath("n.toml").write_text(NESTED))[0]), SpecError,
         "n.toml: arrays or tables nested more than 16 levels deep; a spec nests at most 16"),
        (lambda p: pbnn.load_spec((p / "b.toml", p.joinpath("b.toml").write_bytes(b"\x89PNG\r\n\x1a\n"))[0]), SpecError,
         "b.toml: not a TOML text file (byte 0x89 at offset 0 is not UTF-8)"),
        (lambda p: pbnn.load_spec((p / "big.toml", p.joinpath("big.toml").write_text("#" * (1 << 21)))[0]), SpecError,
         "big.toml: 2097152 bytes, more than a spec file may have (1048576)"),
        (lambda p: pbnn.load_spec(p), IsADirectoryError, "is a directory; expected a .toml file (a saved run is read with pbnn.load)"),
        (lambda p: pbnn.BNN([L.Dense(1)], name="\ud800").to_toml(), SpecError,
         "name: cannot write the string '\\ud800' to TOML: it holds a lone surrogate '\\ud800', not text"),
        # spec objects
        (lambda p: P.Normal(1e300), SpecError, "Normal.sigma: expected a positive number in [1e-08, 1e+08], got 1e+300; a wider prior is flat to float64 precision"),
        (lambda p: P.Laplace(b=1e-300), SpecError, "Laplace.b: expected a positive number in [1e-08, 1e+08], got 1e-300"),
        (lambda p: P.ScaleMixture(pi=True), SpecError, "ScaleMixture.pi: expected a number in (0, 1), got True"),
        # seeds
        (lambda p: pbnn.fit(SPEC, X, Y, seed=2**63), ValueError, "seed: expected a non-negative integer or None, got 9223372036854775808; seeds lie in 0..2**32 - 1"),
        (lambda p: pbnn.fit(SPEC, X, Y, seed=2**32), ValueError, "seed: expected a non-negative integer or None, got 4294967296"),
        (lambda p: pbnn.fit(SPEC, X, Y, seed="1"), ValueError, "seed: expected a non-negative integer or None, got '1'"),
        (lambda p: pbnn.fit(SPEC, X, Y, seed=1.0), ValueError, "seed: expected a non-negative integer or None, got 1.0"),
        # data
        (lambda p: pbnn.fit(SPEC, X * 1e300, Y), DataError, "X: values too large for float64 arithmetic: the mean or sd of feature 0 overflows (max |X| = 2.33e+300); rescale X (e.g. sklearn.preprocessing.StandardScaler)"),
        (lambda p: pbnn.fit(LINE, X[:, :1], 1e200 * (1 + X[:, 0])), DataError, "y: values too large for float64 arithmetic: the mean or sd overflows (max |y| = 2.3e+200); rescale y"),
        (lambda p: pbnn.fit(SPEC, masked(X, np.arange(20)[:, None] == 2), Y), DataError, "X: a masked array with 2 masked value(s); pbnn does not impute: drop those samples or fill them (X.filled(value))"),
        (lambda p: pbnn.fit(SPEC, X, masked(Y, np.arange(20) == 0)), DataError, "y: a masked array with 1 masked value(s)"),
        (lambda p: SPEC.build(np.array([["1", "2"]] * 20), Y), DataError, "X: expected numbers, got an array of dtype <U1"),
    ],
)
def test_bad_input(tmp_path, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(tmp_path)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda pred, y: pred.reject(1.5), ValueError, "threshold: expected a number [0, 1] for by='confidence' (probability of the predicted class), got 1.5"),
        (lambda pred, y: pred.reject(-0.1, by="std"), ValueError, "threshold: expected a number [0, 0.5] for by='std'"),
        (lambda pred, y: pred.reject(0.9, by="entropy"), ValueError, "threshold: expected a number [0, 0.6931] for by='entropy' (entropy of the predictive mean (nats)), got 0.9"),
        (lambda pred, y: pred.accuracy(np.where(y == 1, "dog", "cat")), DataError, "y: labels 'cat' are not classes of this model; its classes are 0, 1"),
        (lambda pred, y: pred.accuracy(y + 3), DataError, "y: labels 3 are not classes of this model; its classes are 0, 1"),
        (lambda pred, y: pbnn.scores(pred, y.astype(str)), DataError, "y: labels '0' are not classes of this model; its classes are 0, 1"),
    ],
)
def test_bad_input_to_predictions(quick_fit, small_moons, call, error, message):
    pred = quick_fit.predict(small_moons.X_test)
    with pytest.raises(error, match=re.escape(message)):
        call(pred, small_moons.y_test)


def test_numpy_integers_make_layers():
    layer = L.Dense(np.int64(5), activation="tanh")
    assert layer == L.Dense(5, activation="tanh") and type(layer.units) is int
    assert L.Conv2D(np.int32(4), np.int64(3)).kernel_size == 3
    spec = pbnn.BNN([layer, L.Dense(1)], prior=P.Normal(np.float32(0.5)))
    assert type(spec.prior.sigma) is float and pbnn.BNN.from_toml(spec.to_toml()) == spec


# -- the command line: one line on stderr, exit status 2 -----------------------------------------------------------


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved_run(quick_fit, tmp_path):
    return quick_fit.save(tmp_path / "run")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "{tmp}/deep.toml", "--data", "moons"], "{tmp}/deep.toml: arrays or tables nested deeper than Python can parse"),
        (["fit", "two_layer_tanh", "--data", "moons", "--set", "steps=abc"], "steps: expected a positive integer, got 'abc'"),
        (["fit", "two_layer_tanh", "--data", "moons", "--out", "{tmp}/afile"], "--out: {tmp}/afile: is an existing file; a run is saved as a folder: choose another path"),
        (["fit", "two_layer_tanh", "--data", "moons", "--seed", "4294967296"], "seed: expected a non-negative integer or None, got 4294967296"),
        (["fit", "{tmp}", "--data", "moons"], "model: '{tmp}' is a folder; expected a spec file (.toml) or a zoo model name"),
        (["predict", "{tmp}/run", "{tmp}/objects.npy", "--out", "{tmp}/p.csv"], "inputs: {tmp}/objects.npy holds Python objects (pickled); pbnn reads numeric arrays only"),
        (["predict", "{tmp}/run", "{tmp}/points.npy", "--out", "{tmp}/missing/p.csv"], "--out: the folder '{tmp}/missing' does not exist; create it first"),
        (["predict", "{tmp}/run", "{tmp}/points.npy", "--out", "{tmp}/p.txt"], "--out: expected a .csv (per-point summary) or .nc (all draws) path, got '{tmp}/p.txt'"),
        (["predict", "{tmp}/spec.toml", "{tmp}/points.npy", "--out", "{tmp}/p.csv"], "{tmp}/spec.toml: not a saved pbnn run (missing spec.toml)"),
        (["predict", "{tmp}/edited", "{tmp}/points.npy", "--out", "{tmp}/p.csv"], "{tmp}/edited/idata.nc: attribute pbnn_input_shape: expected a JSON list of positive integers, got '[2'"),
    ],
)
def test_cli_errors_are_one_line(capsys, saved_run, tmp_path, argv, message):
    (tmp_path / "deep.toml").write_text(DEEP)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "spec.toml").write_text(SPEC.to_toml())
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "points.npy", X[:3])
    edited = pbnn.load(saved_run).save(tmp_path / "edited")
    edit(edited, lambda t: t.attrs.update(pbnn_input_shape="[2"))
    code, out, err = cli(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert (code, out) == (2, "")
    assert err == f"pbnn: error: {message.format(tmp=tmp_path)}\n" or (
        err.startswith(f"pbnn: error: {message.format(tmp=tmp_path)}") and err.count("\n") == 1), err


def test_cli_out_checked_before_the_fit(capsys, tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setattr(pbnn, "fit", lambda *a, **k: pytest.fail("the fit ran"))
    code, _, err = cli(capsys, "fit", "two_layer_tanh", "--data", "moons", "--out", tmp_path / "afile")
    assert code == 2 and "is an existing file" in err


def test_cli_divergence_is_one_line_and_debug_shows_the_traceback(capsys, tmp_path):
    argv = ["fit", "sine", "--data", "sine", "--set", "steps=500", "--set", "learning_rate=1e6", "--out", tmp_path / "r", "-q"]
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("pbnn: error: ADVI diverged: the ELBO or its gradient became NaN/inf at step ")
    assert not (tmp_path / "r").exists()
    result = subprocess.run([sys.executable, "-m", "pbnn.cli", "--debug", "fit", "missing.toml", "--data", "moons"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" in result.stderr and "CLIError: model: no such spec file" in result.stderr


def test_cli_quiet_prints_where_the_run_is(capsys, tmp_path):
    code, out, err = cli(capsys, "fit", "two_layer_tanh", "--data", "moons", "--set", "steps=200", "--set", "draws=20",
                         "--out", tmp_path / "r", "-q")
    assert (code, out) == (0, f"{tmp_path / 'r'}\n")
    options = json.loads(pbnn.load(out.strip()).idata.attrs["pbnn_options"])
    assert (options["steps"], options["draws"]) == (200, 20)
