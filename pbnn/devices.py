"""Where JAX runs pbnn's work: ``device=None`` (JAX's default: the GPU when there is one), ``"cpu"`` or ``"gpu"``.

The JAX ADVI engine, the JAX NUTS samplers (numpyro, blackjax) and the JAX predictor accept ``device=``;
small BNNs often run faster on the CPU, large convolutional ones on the GPU.

>>> from pbnn.devices import on_device
>>> with on_device("cpu"):
...     pass
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

DEVICES = (None, "cpu", "gpu")


def check_device(device: Any) -> str | None:
    """Validate a device name (without importing JAX)."""
    if device not in DEVICES:
        raise ValueError(f"device: expected None, 'cpu' or 'gpu', got {device!r}")
    return device


def jax_device(device: str | None) -> Any:
    """The first JAX device of that kind, or None for JAX's default; a clear error when there is none."""
    if check_device(device) is None:
        return None
    import jax

    try:
        devices = jax.devices(device)
    except RuntimeError as err:
        have = sorted({d.platform for d in jax.devices()})
        raise RuntimeError(
            f"device={device!r}: JAX has no {device} backend here (available: {', '.join(have)}); "
            "install a CUDA-enabled jaxlib or use device='cpu' or None"
        ) from err
    return devices[0]


@contextlib.contextmanager
def on_device(device: str | None) -> Iterator[None]:
    """Run the JAX computations of the block on ``device`` (no-op for None)."""
    dev = jax_device(device)
    if dev is None:
        yield
        return
    import jax

    with jax.default_device(dev):
        yield
