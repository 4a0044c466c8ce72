"""Many fits at once on Ray: ensemble members, SG-MCMC chains and benchmark records as Ray tasks.

pbnn owns Ray here and nowhere else. :func:`start` connects on first use: to a Ray already started in this
process (``ray.init(...)`` of your own, e.g. with a ``runtime_env``) as it is; else to the cluster at ``address``
or ``$PBNN_RAY_ADDRESS`` (``"auto"``: the one ``ray start`` runs on this machine; ``"ray://host:10001"``: Ray
Client); else it starts a local Ray of ``workers`` CPUs (None: all cores) without dashboard, which stays up for
the next fits until :func:`shutdown` or the end of the process (starting one took 6.3 s on the 2-core machine).
A local Ray's workers inherit the driver's environment and working directory, so they import the same pbnn
(and ``benchmarks``); a cluster's nodes need pbnn installed (the same version), or a ``runtime_env`` that
ships it. :func:`tasks` runs a picklable function over jobs, one task a job (one CPU each), and yields the
results as they finish; :func:`map_tasks` returns them in job order. A task's exception is raised as it is
(its remote traceback chained); Ctrl-C or an error cancels the tasks still running. Each task is as
reproducible as the same call here: fits seeded the same give the same numbers.

Ray is the ``ray`` extra (``pip install "pbnn[ray]"``); importing this module does not import it.

>>> from pbnn import parallel
>>> from pbnn.inference.ensemble import member_seeds
>>> parallel.map_tasks(member_seeds, [(0, 2), (1, 1)], workers=2)  # member_seeds(0, 2), member_seeds(1, 1)
[[2968811710, 3677149159], [1835504127]]
>>> parallel.shutdown()
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["ADDRESS_ENV", "map_tasks", "require_ray", "shutdown", "start", "tasks"]

#: The environment variable naming the Ray cluster to run on when no address is given.
ADDRESS_ENV = "PBNN_RAY_ADDRESS"
_remote: dict[Callable, Any] = {}  # function -> its ray.remote wrapper, exported once a session


def require_ray(what: str = "parallel='ray'") -> None:
    """An ImportError naming the extra when Ray is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise ImportError(f"{what} runs on Ray, which is not installed; install the extra with: "
                          'pip install "pbnn[ray]"')


def start(workers: int | None = None, address: str | None = None) -> None:
    """Connect to Ray (see the module doc): the session open in this process, else ``address`` or
    ``$PBNN_RAY_ADDRESS``, else a new local Ray of ``workers`` CPUs (None: all cores; ignored by a cluster)."""
    require_ray()
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get(ADDRESS_ENV) or None
    quiet = dict(logging_level=logging.ERROR, ignore_reinit_error=True)
    with warnings.catch_warnings():  # JAX warns at every fork; Ray's subprocesses exec a fresh program at once
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        if address is not None:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **quiet)
    _remote.clear()


def shutdown() -> None:
    """Disconnect from Ray (and stop the local Ray :func:`start` started); nothing when none is connected."""
    if importlib.util.find_spec("ray") is None:
        return
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _remote.clear()


def tasks(function: Callable[..., Any], jobs: Iterable[tuple], *, workers: int | None = None,
          address: str | None = None) -> Iterator[tuple[int, Any]]:
    """``(index, function(*jobs[index]))`` for every job (a tuple of arguments), as the Ray tasks finish; the
    tasks still running are cancelled when the caller stops early (an exception, Ctrl-C, ``break``). An array
    that several jobs pass (the same object) goes to Ray's object store once."""
    start(workers, address)
    import numpy as np
    import ray

    remote = _remote.get(function)
    if remote is None:
        remote = _remote[function] = ray.remote(num_cpus=1)(function)
    stored: dict[int, Any] = {}

    def put(arg: Any) -> Any:
        if not isinstance(arg, np.ndarray):
            return arg
        if id(arg) not in stored:
            stored[id(arg)] = ray.put(arg)
        return stored[id(arg)]

    index = {ref: i for i, ref in enumerate(remote.remote(*map(put, job)) for job in jobs)}
    pending = list(index)
    try:
        while pending:
            (done,), pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done)
            except ray.exceptions.RayTaskError as err:
                cause = err.cause if isinstance(err.cause, BaseException) else None
                if cause is None:
                    raise
                raise cause from err
            yield index[done], result
    finally:
        for ref in pending:
            ray.cancel(ref)


def map_tasks(function: Callable[..., Any], jobs: Iterable[tuple], *, workers: int | None = None,
              address: str | None = None) -> list[Any]:
    """``[function(*job) for job in jobs]``, each job a Ray task (see :func:`tasks`)."""
    jobs = list(jobs)
    results: dict[int, Any] = dict(tasks(function, jobs, workers=workers, address=address))
    return [results[i] for i in range(len(jobs))]
