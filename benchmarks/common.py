"""What every benchmark shares: timing with repeats, the machine and versions, markdown tables.

Each benchmark module ``benchmarks/bench_<name>.py`` defines ``TITLE`` (its section heading) and
``run(quick: bool = False) -> str``, which returns
the markdown body of its section of ``RESULTS.md`` (tables and a sentence on what was measured); ``run.py``
adds the heading with date, machine and versions and replaces that section only.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from typing import Any

VERSIONS = ("pbnn", "pymc", "pytensor", "arviz", "jax", "numpyro", "blackjax", "nutpie", "pymc-extras", "numpy")


def machine() -> str:
    """One line: CPU model, cores, memory, OS."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def versions(names: Sequence[str] = VERSIONS) -> str:
    """``pymc 6.4.0, pytensor 3.3.7, ...`` for the installed packages among ``names``."""
    out = []
    for name in names:
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


def header() -> str:
    """The provenance line every section starts with."""
    return f"Measured {date.today().isoformat()} on {machine()}.  \nVersions: {versions()}."


def repeat(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Call ``fn`` ``repeats`` times; returns (median seconds, all seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def table(rows: Sequence[dict[str, Any]], floatfmt: str = ".3g") -> str:
    """A markdown table from dicts sharing their keys (in the first row's order)."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
