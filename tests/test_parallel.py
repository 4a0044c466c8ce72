"""Many fits on Ray (pbnn/parallel.py): ensemble members and SG-MCMC chains as tasks of a 2-worker local Ray give the
numbers of the serial run with the same seeds; the options are checked; Ray is shut down at the end."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
import xarray as xr

import pbnn
from pbnn import layers as L
from pbnn import parallel
from pbnn import priors as P
from pbnn.inference import ensemble
from pbnn.inference.methods import EngineResult, get_method, positive_int

ray = pytest.importorskip("ray")

SPEC = pbnn.BNN([L.Dense(3, activation="tanh"), L.Dense(1)], prior=P.Normal(sigma=1.0), likelihood="bernoulli")
pytestmark = pytest.mark.filterwarnings("ignore:sgld. function-space r_hat:UserWarning")


@pytest.fixture(scope="module")
def tiny():
    """40 moons points: (X, y)."""
    ds = pbnn.datasets.moons(n_samples=80)
    return ds.X_train, ds.y_train


@pytest.fixture(scope="module")
def local_ray():
    """One 2-worker local Ray for the module's tests (starting one takes seconds), shut down after them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(parallel.ADDRESS_ENV, raising=False)
        parallel.shutdown()  # a Ray of another size that an earlier test left
        parallel.start(workers=2)
    assert ray.cluster_resources()["CPU"] == 2
    yield
    parallel.shutdown()
    assert not ray.is_initialized()


def _in_turn(function, jobs, **_):
    """:func:`pbnn.parallel.tasks`' stand-in: the same tasks, in turn in this process."""
    return ((i, function(*job)) for i, job in enumerate(jobs))


def _posterior_arrays(fit) -> dict[str, np.ndarray]:
    return {name: var.values for name, var in fit.posterior.data_vars.items()}


@pytest.mark.slow  # Ray start and each worker's first fit (PyMC import, compilation): 15-20 s
def test_tasks_return_in_job_order_and_raise_a_tasks_error_as_it_is(local_ray):
    assert parallel.map_tasks(positive_int, [("steps", 3), ("draws", 1), ("chains", 2)]) == [3, 1, 2]
    with pytest.raises(ValueError, match=re.escape("draws: expected a positive integer, got 0")):
        parallel.map_tasks(positive_int, [("steps", 3), ("draws", 0)])


@pytest.mark.slow
def test_ensemble_members_on_ray_equal_the_members_in_turn(local_ray, tiny):
    X, y = tiny
    options = dict(members=2, steps=300, seed=5, progressbar=False)
    serial = pbnn.fit(SPEC, X, y, "ensemble", **options)
    on_ray = pbnn.fit(SPEC, X, y, "ensemble", parallel="ray", workers=2, **options)
    expected, got = _posterior_arrays(serial), _posterior_arrays(on_ray)
    assert list(got) == list(expected) and on_ray.posterior.sizes["chain"] == 2
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    np.testing.assert_array_equal(on_ray.idata["optimizer_stats"]["lp"].values,
                                  serial.idata["optimizer_stats"]["lp"].values)
    assert not np.array_equal(expected["w_1"][0], expected["w_1"][1])  # two members, each from its own seed
    assert '"parallel": "ray"' in on_ray.idata.attrs["pbnn_options"]


@pytest.mark.slow
def test_sgld_chains_on_ray_equal_the_chains_alone_and_the_vmapped_chains_to_rounding(local_ray, tiny, monkeypatch):
    X, y = tiny
    options = dict(chains=2, draws=50, burn_in=150, thin=3, batch_size=10, step_size=1e-3, seed=0, progressbar=False)
    vmapped = _posterior_arrays(pbnn.fit(SPEC, X, y, "sgld", **options))
    with monkeypatch.context() as patch:  # the same tasks, in turn in this process (first: the workers then find
        # its compiled chunk in the tests' XLA cache)
        patch.setattr(parallel, "tasks", _in_turn)
        alone = _posterior_arrays(pbnn.fit(SPEC, X, y, "sgld", parallel="ray", **options))
    on_ray = pbnn.fit(SPEC, X, y, "sgld", parallel="ray", **options)
    assert on_ray.posterior.sizes["chain"] == 2 and on_ray.posterior.sizes["draw"] == 50
    for name, values in _posterior_arrays(on_ray).items():
        np.testing.assert_array_equal(values, alone[name], err_msg=name)
        np.testing.assert_allclose(values, vmapped[name], rtol=0, atol=1e-12, err_msg=name)
    assert on_ray.idata["sample_stats"]["lp"].shape == (2, 50)


@pytest.mark.slow
@pytest.mark.parametrize(("burn_in", "step_size", "held"), [
    (0, 3.0, r"the \d+ draws per chain before it"),
    (150, 1e3, "the last finite state of every chain"),  # in the burn-in
])
def test_a_diverging_chain_on_ray_ends_the_run_where_the_vmapped_run_ends(local_ray, tiny, burn_in, step_size, held):
    X, y = tiny
    options = dict(chains=2, draws=50, burn_in=burn_in, thin=1, batch_size=10, step_size=step_size, seed=0,
                   progressbar=False)
    errors = []
    for extra in ({}, {"parallel": "ray"}):
        with pytest.raises(pbnn.DivergenceError, match=rf"^SGLD diverged: chain \d's .* exc\.fit holds {held}") as err:
            pbnn.fit(SPEC, X, y, "sgld", **options, **extra)
        errors.append(err.value)
    vmapped, on_ray = errors
    assert str(on_ray) == str(vmapped), str(vmapped)
    # the chain alone and the vmapped chains are different XLA programs; a diverging chain (draws ~1e4) grows
    # their last-bit differences: 1.4e-12 relative measured on a cold-cache run
    for name, values in _posterior_arrays(on_ray.fit).items():
        np.testing.assert_allclose(values, vmapped.fit.posterior[name].values, rtol=1e-10, err_msg=name)


def _member(value: float, fault: str | None = None) -> EngineResult:
    posterior = xr.Dataset({"w": (("chain", "draw"), [[value]])}, coords={"chain": [0], "draw": [0]})
    return EngineResult(posterior, xr.Dataset(), fault, f"MAP {fault}" if fault else "")


@pytest.mark.parametrize(("finished", "kept", "fault", "message"), [
    ([1, 0, 2], [0, 1, 2], None, ""),
    ([2, 1, "!", 0], [0, 1], "diverged", "ensemble member 2 of 3: MAP diverged"),  # member 1 diverged
    ([0, 2, "^C"], [0], "interrupted", "ensemble interrupted before member 2 of 3"),
    ([1, "^C"], None, None, None),  # member 0 not finished: Ctrl-C stops the fit
])
def test_members_on_ray_are_kept_as_in_turn_whatever_order_they_finish_in(monkeypatch, finished, kept, fault, message):
    """Member 1 of 3 diverges where ``"!"`` stands (its result comes in after the member before it); ``"^C"``:
    Ctrl-C."""
    results = {0: _member(0.0), 1: _member(1.0, "diverged" if "!" in finished else None), 2: _member(2.0)}

    def tasks(function, jobs, **_):
        for m in finished:
            if m == "^C":
                raise KeyboardInterrupt
            if m != "!":
                yield m, results[m]

    monkeypatch.setattr(parallel, "tasks", tasks)
    run = lambda: ensemble._on_ray(SPEC, None, None, "map", {}, [1, 2, 3], False, None, None)  # noqa: E731
    if kept is None:
        with pytest.raises(KeyboardInterrupt):
            run()
        return
    got, got_fault, got_message = run()
    assert [r.posterior["w"].values.item() for r in got] == kept and (got_fault, got_message) == (fault, message)


def test_a_cluster_address_comes_from_the_option_or_the_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda address=None, **kw: calls.append((address, kw.get("num_cpus"))))
    monkeypatch.setenv(parallel.ADDRESS_ENV, "ray://head:10001")
    parallel.start(workers=3)
    parallel.start(workers=3, address="auto")
    monkeypatch.delenv(parallel.ADDRESS_ENV)
    parallel.start(workers=3)
    assert calls == [("ray://head:10001", None), ("auto", None), (None, 3)]


@pytest.mark.parametrize("method", ["ensemble", "sgld", "sghmc"])
@pytest.mark.parametrize(("options", "message"), [
    ({"parallel": "dask"}, "parallel: unknown parallel backend 'dask'; expected one of serial, ray"),
    ({"workers": 2}, "workers: an option of parallel='ray', got parallel='serial'"),
    ({"ray_address": "auto"}, "ray_address: an option of parallel='ray', got parallel='serial'"),
    ({"parallel": "ray", "workers": 0}, "workers: expected a positive integer, got 0"),
    ({"parallel": "ray", "ray_address": ""}, "ray_address: expected a name (a non-empty str), got ''"),
])
def test_bad_parallel_options_name_the_field(method, options, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        get_method(method).resolve(options)


def test_without_ray_the_error_names_the_extra(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    message = "parallel='ray' runs on Ray, which is not installed; install the extra with: pip install \"pbnn[ray]\""
    with pytest.raises(ImportError, match=f"^{re.escape(message)}$"):
        get_method("ensemble").resolve({"parallel": "ray"})
    assert get_method("sgld").resolve({}).parallel == "serial"  # the default needs no Ray
