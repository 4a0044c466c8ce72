"""The ADVI learning-rate schedule, one definition for both engines.

Step ``t`` (0-based) of ``steps`` moves at ``first * exp(log_decay * t)``: ``first`` at the first step,
``last`` at the last (a geometric decay; ``last == first`` is a constant rate).

>>> round(0.01 * float(np.exp(log_decay(0.01, 0.001, 11) * 10)), 6)
0.001
"""

from __future__ import annotations

import numpy as np


def log_decay(first: float, last: float, steps: int) -> float:
    """Per-step log-decay of a rate going geometrically from ``first`` (step 0) to ``last`` (step ``steps - 1``)."""
    return float(np.log(last / first)) / max(steps - 1, 1)


class LearningRateSchedule:
    """``pm.fit`` callback: writes step ``i``'s rate into Adam's shared learning rate after ``i`` steps."""

    def __init__(self, rate, first: float, last: float, steps: int) -> None:
        self.rate, self.first, self.log_decay = rate, first, log_decay(first, last, steps)

    def __call__(self, approx, losses, i: int) -> None:  # i: steps done
        self.rate.set_value(np.float64(self.first * np.exp(self.log_decay * i)))
