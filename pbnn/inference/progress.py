"""The progress bar of the optimisation methods, advanced between chunks of :func:`pbnn.inference.loop.run`.

A rich bar in a terminal (time remaining while it runs, time elapsed once it stops); in Jupyter without
``ipywidgets``, where rich would only print ``install "ipywidgets" for Jupyter support``, a plain text line
rewritten in place.

>>> import numpy as np
>>> with progress_bar(False, 100, label="MAP") as advance:  # disabled: a no-op
...     advance(100, np.zeros(100))
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

Advance = Callable[[int, np.ndarray], None]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, label: str = "", value_name: str = "loss") -> Iterator[Advance]:
    """Yield ``advance(steps_done, values_of_the_chunk)``, which shows the chunk's mean as ``value_name``."""
    if not enabled:
        yield lambda done, values: None
        return
    if _in_jupyter() and not _has_ipywidgets():
        bar = _TextBar(total, label, value_name)
        try:
            yield bar.advance
        finally:
            bar.close()
        return
    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                        TextColumn(f"{value_name} {{task.fields[value]}}"), _TimeColumn())
    task = progress.add_task(label, total=total, value="")

    def advance(done: int, values: np.ndarray) -> None:
        progress.update(task, completed=done, value=_mean(values))

    progress.start()
    try:
        yield advance
    finally:
        progress.update(task, stopped=True)
        progress.stop()


def _mean(values: np.ndarray) -> str:
    return f"{float(np.mean(values)):.2f}"


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(seconds)))


def _in_jupyter() -> bool:
    from rich.console import Console

    return Console().is_jupyter


def _has_ipywidgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


class _TimeColumn(ProgressColumn):
    """Time remaining while the task runs; time elapsed once it is finished or stopped early."""

    def render(self, task) -> Text:
        if task.finished or task.fields.get("stopped"):
            return Text(f"{_clock(task.finished_time or task.elapsed or 0)} elapsed", style="progress.elapsed")
        remaining = task.time_remaining
        return Text("-:--:--" if remaining is None else f"{_clock(remaining)} left", style="progress.remaining")


class _TextBar:
    """One line of text, rewritten with ``\\r`` at every chunk; the elapsed time once closed."""

    def __init__(self, total: int, label: str, value_name: str, width: int = 30, stream=None) -> None:
        self.total, self.label, self.value_name, self.width = total, label, value_name, width
        self.stream = stream or sys.stdout
        self.start, self.done, self.value = time.perf_counter(), 0, ""

    def line(self, tail: str) -> str:
        filled = int(self.width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        return f"\r{self.label} [{bar}] {self.done}/{self.total} {self.value_name} {self.value} {tail}"

    def advance(self, done: int, values: np.ndarray) -> None:
        self.done, self.value = done, _mean(values)
        elapsed = time.perf_counter() - self.start
        left = elapsed * (self.total - done) / max(done, 1)
        self.stream.write(self.line(f"{_clock(left)} left"))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write(self.line(f"{_clock(time.perf_counter() - self.start)} elapsed") + "\n")
        self.stream.flush()
