"""Regression on scikit-learn's diabetes data: pbnn's methods next to scikit-learn's MLP and GP, same splits."""

from __future__ import annotations

import time

import numpy as np

import pbnn
from benchmarks.common import table
from pbnn import metrics

TITLE = "Regression: diabetes (442 x 10), random 90/10 splits, RMSE and test log-likelihood"


def random_splits(
    n: int, n_splits: int = 20, test_fraction: float = 0.1, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random train/test splits as in Hernandez-Lobato & Adams (2015): 20 x 90/10.

    Each split is a fresh permutation of ``range(n)`` from one
    ``numpy.random.default_rng(seed)``; the first ``round(n * (1 -
    test_fraction))`` indices train, the rest test. Returns a list of
    ``(train_idx, test_idx)`` pairs of sorted int64 arrays.

    >>> tr, te = random_splits(308)[0]
    >>> len(tr), len(te)
    (277, 31)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n_train = int(np.round(n * (1.0 - test_fraction)))
    out = []
    for _ in range(n_splits):
        perm = rng.permutation(n)
        out.append((np.sort(perm[:n_train]), np.sort(perm[n_train:])))
    return out


def _splits(n_splits: int):
    ds = pbnn.datasets.diabetes(test_size=0.1)
    X, y = np.concatenate([ds.X_train, ds.X_test]), np.concatenate([ds.y_train, ds.y_test])
    for train, test in random_splits(len(y), n_splits=n_splits, test_fraction=0.1, seed=0):
        loc, scale = X[train].mean(0), X[train].std(0)
        yield (X[train] - loc) / scale, (X[test] - loc) / scale, y[train], y[test]


def _pbnn(method: str, options: dict):
    def run(X_tr, X_te, y_tr, y_te, seed):
        fit = pbnn.fit(pbnn.zoo.regression(), X_tr, y_tr, method=method, seed=seed, progressbar=False, **options)
        pred = fit.predict(X_te)
        mu = pred.draws("mu")
        sigma = np.broadcast_to(pred["predictions"]["sigma"].values.reshape(len(mu), -1), mu.shape)
        return metrics.rmse(mu, y_te), metrics.gaussian_log_likelihood(mu, sigma, y_te)

    return run


def _mlp(X_tr, X_te, y_tr, y_te, seed):
    from sklearn.neural_network import MLPRegressor

    y_loc, y_scale = y_tr.mean(), y_tr.std()
    net = MLPRegressor(hidden_layer_sizes=(50, 50), alpha=1e-2, max_iter=2000, early_stopping=True, random_state=seed)
    net.fit(X_tr, (y_tr - y_loc) / y_scale)
    mu = net.predict(X_te) * y_scale + y_loc
    sigma = (net.predict(X_tr) * y_scale + y_loc - y_tr).std()  # the training residual sd as its noise
    return metrics.rmse(mu[None], y_te), metrics.gaussian_log_likelihood(mu[None], np.full((1, len(mu)), sigma), y_te)


def _gp(X_tr, X_te, y_tr, y_te, seed):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel() * RBF(length_scale=np.ones(X_tr.shape[1])) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    gp.fit(X_tr, y_tr)
    mu, sd = gp.predict(X_te, return_std=True)  # sd includes the learned white noise
    return metrics.rmse(mu[None], y_te), metrics.gaussian_log_likelihood(mu[None], sd[None], y_te)


def run(quick: bool = False) -> str:
    n_splits = 2 if quick else 5
    steps = 2_000 if quick else 10_000
    # numpyro NUTS on 3.1k weights: ~0.4 s per iteration on this machine, so it runs on the first splits only
    nuts_draws, nuts_splits = (50, 1) if quick else (300, 3)
    nuts_name = f"pbnn nuts (numpyro; first {nuts_splits} splits)"
    systems = {
        "pbnn advi": _pbnn("advi", dict(steps=steps, draws=500)),
        nuts_name: _pbnn("nuts", dict(sampler="numpyro", chains=2, tune=nuts_draws, draws=nuts_draws)),
        "pbnn map": _pbnn("map", dict(steps=steps // 2)),
        "pbnn mc_dropout": _pbnn("mc_dropout", dict(steps=steps // 2, draws=500)),
        "sklearn MLPRegressor": _mlp,
        "sklearn GaussianProcessRegressor": _gp,
    }
    splits = list(_splits(n_splits))
    rows = []
    for name, fn in systems.items():
        n = nuts_splits if name == nuts_name else n_splits
        t0 = time.perf_counter()
        scores = np.array([fn(*split, seed) for seed, split in enumerate(splits[:n])])
        seconds = (time.perf_counter() - t0) / n
        se = scores.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(2, np.nan)
        rows.append({
            "system": name,
            "RMSE": f"{scores[:, 0].mean():.1f} ± {se[0]:.1f}",
            "test LL": f"{scores[:, 1].mean():.3f} ± {se[1]:.3f}",
            "s / split": round(seconds, 1),
        })
        print(rows[-1], flush=True)
    return (
        f"{n_splits} random 90/10 splits (`random_splits` of this script, seed 0) of scikit-learn's diabetes data, "
        "features standardized with training statistics; the target in its units (pbnn standardizes it "
        "internally). pbnn's systems use `pbnn.zoo.regression()` (2 x 50 relu, fan-in scaled Normal priors, heteroscedastic "
        f"Gaussian): ADVI {steps} steps, 500 draws; NUTS numpyro 2 chains x {nuts_draws} tune + {nuts_draws} draws "
        f"on the first {nuts_splits} splits (the time it takes); MAP {steps // 2} Adam steps; MC dropout (hidden units dropped with "
        f"p 0.1) {steps // 2} steps, 500 passes. MLPRegressor: (50, 50) relu, alpha 0.01, early stopping, its "
        "noise sd the training residual sd. GP: constant x ARD RBF + white noise, normalize_y. Test LL: mean "
        "over test points of log mean_s N(y | mu_s, sigma_s) (nats); ± one standard error over splits.\n\n"
        + table(rows)
    )
