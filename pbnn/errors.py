"""Exceptions pbnn raises on bad input. Each message names the field and the expected form."""

from __future__ import annotations


class SpecError(ValueError):
    """A network spec (layers, prior, likelihood, or a spec file) is invalid."""


class DataError(ValueError):
    """Input data do not fit the spec or the likelihood."""
