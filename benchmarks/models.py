"""The benchmark problems and their peers written outside pbnn (numpyro), so that every ratio compares like with like."""

from __future__ import annotations

import numpy as np

import pbnn


def moons(n_samples: int = 1000):
    """The issue's moons: 1000 points, noise 0.2, scaled, half train / half test, random_state 0."""
    return pbnn.datasets.moons(n_samples=n_samples)


def numpyro_bnn(widths=(5, 5), prior_sigma: float = 1.0):
    """The zoo's two-layer tanh BNN (no biases, N(0, sigma) weights, Bernoulli logits) as a numpyro model."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(X, y=None):
        h = X
        sizes = (X.shape[1], *widths, 1)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            w = numpyro.sample(f"w_{i}", dist.Normal(0.0, prior_sigma).expand((a, b)).to_event(2))
            h = h @ w
            if i < len(sizes) - 1:
                h = jnp.tanh(h)
        numpyro.sample("y", dist.Bernoulli(logits=h[:, 0]), obs=y)

    return model


def numpyro_posterior(samples: dict[str, np.ndarray]):
    """numpyro draws {w_i: (draws, a, b)} as a pbnn posterior Dataset (one chain)."""
    import xarray as xr

    return xr.Dataset({k: (("chain", "draw", f"{k}_a", f"{k}_b"), np.asarray(v)[None]) for k, v in samples.items()})
