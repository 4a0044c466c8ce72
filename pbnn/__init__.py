"""pbnn: Bayesian neural networks on PyMC.

Describe a network declaratively, compile it to a PyMC model, fit it with ADVI or NUTS and get ArviZ
data back::

    import pbnn
    from pbnn import layers as L, priors as P

    spec = pbnn.BNN([L.Dense(5, activation="tanh"), L.Dense(5, activation="tanh"), L.Dense(1)],
                    prior=P.Normal(sigma=1.0), likelihood="bernoulli")
    fit = pbnn.fit(spec, X_train, y_train, method="advi", steps=10_000, seed=1)
    fit.predict(X_test).accuracy(y_test)
"""

from importlib.metadata import PackageNotFoundError, version

from pbnn import datasets, layers, likelihoods, metrics, plot, priors, zoo
from pbnn.compare import Comparison, compare
from pbnn.diagnostics import diagnose
from pbnn.errors import DataError, DivergenceError, FitError, SpecError
from pbnn.inference import fit
from pbnn.results import Fit, load
from pbnn.spec import BNN, load_spec
from pbnn.uncertainty import ood_auroc, scores, uncertainty

try:
    __version__ = version("pbnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "BNN",
    "Comparison",
    "DataError",
    "DivergenceError",
    "Fit",
    "FitError",
    "SpecError",
    "__version__",
    "compare",
    "datasets",
    "diagnose",
    "fit",
    "layers",
    "likelihoods",
    "load",
    "load_spec",
    "metrics",
    "ood_auroc",
    "plot",
    "priors",
    "scores",
    "sklearn",
    "uncertainty",
    "zoo",
]


def __getattr__(name: str):
    if name == "sklearn":  # scikit-learn estimators, imported on first use
        import importlib

        return importlib.import_module("pbnn.sklearn")
    raise AttributeError(f"module 'pbnn' has no attribute {name!r}")
