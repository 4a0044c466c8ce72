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

from pbnn import datasets, layers, metrics, plot, priors, zoo
from pbnn.errors import DataError, SpecError
from pbnn.inference import fit
from pbnn.results import Fit, load
from pbnn.spec import BNN, load_spec

try:
    __version__ = version("pbnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "BNN",
    "DataError",
    "Fit",
    "SpecError",
    "__version__",
    "datasets",
    "fit",
    "layers",
    "load",
    "load_spec",
    "metrics",
    "plot",
    "priors",
    "zoo",
]
