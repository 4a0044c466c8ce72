"""Inference behind :func:`pbnn.fit`: a registry of methods (:mod:`pbnn.inference.methods`), each returning
the same :class:`~pbnn.results.Fit`. Importing this package is light; engines load when a method runs.

>>> import pbnn
>>> sorted(pbnn.inference.METHODS)  # doctest: +NORMALIZE_WHITESPACE
['advi', 'ensemble', 'flow_vi', 'fullrank_advi', 'laplace', 'map', 'mc_dropout', 'nuts', 'pathfinder',
 'sghmc', 'sgld', 'swag']
"""

from __future__ import annotations

from typing import Any

from pbnn.inference.methods import METHODS, Capabilities, EngineResult, Method, Options, get_method

__all__ = ["METHODS", "Capabilities", "EngineResult", "Method", "Options", "draws_to_posterior", "fit", "get_method"]


def __getattr__(name: str) -> Any:
    if name in ("fit", "draws_to_posterior"):  # these import PyMC
        from pbnn.inference import fitting

        return getattr(fitting, name)
    raise AttributeError(f"module 'pbnn.inference' has no attribute {name!r}")
