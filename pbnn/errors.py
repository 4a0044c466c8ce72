"""Exceptions pbnn raises on bad input and failed fits. Each message names the field and the expected form."""

from __future__ import annotations

from typing import Any


class SpecError(ValueError):
    """A network spec (layers, prior, likelihood, or a spec file) is invalid.

    ``table`` and ``key`` locate the error in a spec file when known (e.g. ``"layers[2]"`` and
    ``"units"``); :meth:`pbnn.BNN.from_toml` turns them into a line number.
    """

    def __init__(self, message: str, *, table: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.table, self.key = table, key


class DataError(ValueError):
    """Input data do not fit the spec or the likelihood."""


class FitError(RuntimeError):
    """An inference run failed or stopped early.

    ``fit`` is the :class:`~pbnn.results.Fit` of what was fitted before the failure, or None when
    nothing usable was; the original exception (e.g. PyMC's) is ``__context__``.
    """

    def __init__(self, message: str, *, fit: Any = None) -> None:
        super().__init__(message)
        self.fit = fit


class DivergenceError(FitError, FloatingPointError):
    """An optimizer's objective (ADVI's ELBO, MAP's log density, ...) or its gradient became NaN or inf; ``fit``
    holds the last finite parameters (for ADVI, draws from the last finite approximation)."""
