"""pbnn: Bayesian neural networks on PyMC.

Describe a network declaratively, compile it to a PyMC model, fit it with ADVI or NUTS and get ArviZ
data back::

    import pbnn
    from pbnn import layers as L, priors as P

    spec = pbnn.BNN([L.Dense(5, activation="tanh"), L.Dense(5, activation="tanh"), L.Dense(1)],
                    prior=P.Normal(sigma=1.0), likelihood="bernoulli")
    fit = pbnn.fit(spec, X_train, y_train, method="advi", steps=10_000, seed=1)
    fit.predict(X_test).accuracy(y_test)

A variational autoencoder is a spec too (:mod:`pbnn.vae`): ``pbnn.fit_vae(pbnn.zoo.vae_digits(), X_train)``.

``import pbnn`` loads nothing but this file and :mod:`pbnn.errors`: each public name and submodule is
imported on first use, so that the command line and spec files work without PyMC, JAX or scikit-learn
(``pbnn --help`` takes 0.16 s of CPU time instead of 5.1 s when everything was imported up front,
2-core machine, 2026-12-01).
"""

import importlib
import sys
import types

from pbnn.errors import DataError, DivergenceError, FitError, SpecError

#: Public name -> the module that defines it.
_EXPORTS = {
    "BNN": "pbnn.spec",
    "load_spec": "pbnn.spec",
    "Comparison": "pbnn.compare",
    "compare": "pbnn.compare",
    "diagnose": "pbnn.diagnostics",
    "fit": "pbnn.inference",
    "Fit": "pbnn.results",
    "load": "pbnn.results",
    "prior_predictive": "pbnn.predictive",
    "ood_auroc": "pbnn.uncertainty",
    "scores": "pbnn.uncertainty",
    "uncertainty": "pbnn.uncertainty",
    "VAE": "pbnn.vae.spec",
    "VAEFit": "pbnn.vae.results",
    "fit_vae": "pbnn.vae.fitting",
}

__all__ = [
    "BNN",
    "Comparison",
    "DataError",
    "DivergenceError",
    "Fit",
    "FitError",
    "SpecError",
    "VAE",
    "VAEFit",
    "__version__",
    "compare",
    "conformal",
    "datasets",
    "diagnose",
    "elpd",
    "fit",
    "fit_vae",
    "layers",
    "likelihoods",
    "load",
    "load_spec",
    "metrics",
    "ood_auroc",
    "plot",
    "prior_predictive",
    "prior_predictive",
    "priors",
    "scores",
    "sklearn",
    "uncertainty",
    "vae",
    "zoo",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name == "__version__":
        value = _version()
    elif name.startswith("__"):
        raise AttributeError(f"module 'pbnn' has no attribute {name!r}")
    else:  # a submodule: pbnn.datasets, pbnn.zoo, pbnn.inference, ...
        try:
            value = importlib.import_module(f"pbnn.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"pbnn.{name}":
                raise
            raise AttributeError(f"module 'pbnn' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pbnn")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"


class _Package(types.ModuleType):
    """``pbnn.uncertainty`` and ``pbnn.compare`` stay the functions when their modules of the same name load.

    Importing a submodule sets it as an attribute of its package; these two would shadow the functions.
    The modules stay importable (``from pbnn.uncertainty import scores``) through ``sys.modules``.
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == _EXPORTS.get(name):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
