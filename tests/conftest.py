"""Shared fixtures: the moons split of the core issue and a few small fits reused across tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PBNN_QUICK", "1")
# One XLA compilation cache for the whole run, shared by the xdist workers, the CLI subprocesses and the notebook
# kernels (they inherit the environment; jax reads it on import). Each fit builds its jitted functions anew, so
# without it every fit recompiles the same programs: a 200-step moons fit takes 3.9 s, 0.9 s with it, same numbers.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="pbnn-tests-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)

import pbnn  # noqa: E402
from pbnn import datasets  # noqa: E402


@pytest.fixture(scope="session")
def moons():
    """make_moons(1000, noise=0.2, random_state=0), scaled, split half/half with random_state=0."""
    return datasets.moons()


@pytest.fixture(scope="session")
def small_moons():
    """A 200-point moons split for quick checks that do not need accuracy."""
    return datasets.moons(n_samples=200)


@pytest.fixture(scope="session")
def quick_fit(small_moons):
    """A short full-batch ADVI fit of the two-layer tanh model (seconds)."""
    X_tr, _, y_tr, _ = small_moons
    return pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=1500, draws=200, seed=3, progressbar=False)


@pytest.fixture(scope="session")
def short_swag():
    """Options of a short SWAG run on small moons; runs with them share one compiled loop."""
    return dict(steps=800, burn_in=400, collect_every=20, rank=10)


def _write_uci(root: Path, folder: str = "yacht", n: int = 12) -> np.ndarray:
    """A tiny UCI benchmark layout under ``root/folder``: ``n`` rows, features 0-1, target 2, two splits of 9
    training rows and ``n - 9`` test rows."""
    d = root / folder
    d.mkdir(parents=True)
    data = np.column_stack([np.arange(n) * 1.0, np.arange(n) ** 2.0, np.arange(n) * 0.5 + 1])
    np.savetxt(d / "data.txt", data)
    np.savetxt(d / "index_features.txt", [0, 1], fmt="%d")
    np.savetxt(d / "index_target.txt", [2], fmt="%d")
    (d / "n_splits.txt").write_text("2\n")
    perm = np.random.default_rng(0).permutation(n)
    for k in range(2):
        p = np.roll(perm, 3 * k)
        np.savetxt(d / f"index_train_{k}.txt", p[:9], fmt="%d")
        np.savetxt(d / f"index_test_{k}.txt", p[9:], fmt="%d")
    return data


@pytest.fixture
def write_uci():
    """``write_uci(root, folder="yacht", n=12) -> data``: writes a tiny UCI benchmark layout (two splits)."""
    return _write_uci


#: The modules that take longest (seconds of one worker on the quiet 2-core machine, 2026-12-02: notebooks 257,
#: NUTS and ADVI acceptance 225, scikit-learn's conformance suite 184, README 173, zoo defaults 146), run first.
LONGEST_FIRST = ("test_notebooks.py", "test_fit.py", "test_sklearn.py", "test_readme.py", "test_zoo.py")


def pytest_collection_modifyitems(config, items):
    """The modules of :data:`LONGEST_FIRST`, then the other modules with slow tests, then the rest. ``make test``
    runs xdist with ``--dist loadfile --no-loadscope-reorder``: each module goes whole to one worker (its
    module-scoped fits are built once), in this order, so the long ones start early and the run does not end with
    one worker on a long module while the other idles. (``--dist loadgroup`` would not keep a module together:
    pytest-xdist 3.8 marks a group by rewriting ``item._nodeid``, which pytest 9 no longer reads.)"""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item) -> tuple[int, bool]:
        name = item.path.name
        return (LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST),
                item.path not in slow_modules)

    items.sort(key=rank)


@pytest.fixture
def sigint_child(tmp_path):
    """``sigint_child(script, ready) -> (returncode, out, err, waited)``: runs ``script`` in a child interpreter,
    sends it SIGINT (as Ctrl-C does) at the first line of its stdout for which ``ready(line)`` is true, and
    returns its exit status, the rest of its stdout, its stderr and the seconds from the signal to its exit."""
    import signal
    import subprocess
    import sys
    import time

    def run(script: str, ready) -> tuple[int, str, str, float]:
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        try:
            for line in child.stdout:
                if ready(line):
                    break
            sent = time.perf_counter()
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=120)
        finally:
            child.kill()
        return child.returncode, out, err, time.perf_counter() - sent

    return run


@pytest.fixture
def interrupt_at(monkeypatch):
    """``interrupt_at(done, label=None, value_name=None)``: every engine's progress bar
    (:func:`pbnn.inference.progress.progress_bar`) replaced by one that presses Ctrl-C (raises KeyboardInterrupt)
    once ``done`` steps are reported; it asserts the ``label`` and ``value_name`` it is opened with, when given."""
    from pbnn.inference import progress

    def set_at(done: int, label: str | None = None, value_name: str | None = None) -> None:
        expected = (label, value_name)

        class StandIn:
            def __init__(self, enabled, total, label="", value_name=""):
                for want, got in zip(expected, (label, value_name), strict=True):
                    assert want is None or got == want, (label, value_name)

            def __enter__(self):
                def advance(steps_done, values):
                    if steps_done >= done:
                        raise KeyboardInterrupt

                return advance

            def __exit__(self, *exc):
                return None

        monkeypatch.setattr(progress, "progress_bar", StandIn)

    return set_at
