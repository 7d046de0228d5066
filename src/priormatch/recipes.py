"""The default recipe per data kind: method, batch, steps and encoder size, chosen by measurement.

``SSLEncoder`` takes all of it; ``priormatch train`` (``training.config.resolve_config``) takes the
series recipe whole and the image recipe's method (its image budget is the CLI's own image recipe).

Series: TS2Vec's objective (Yue et al., AAAI 2022) on TS2Vec's dilated conv network (hidden 64,
10 residual blocks, 320-dim output) at TS2Vec's budget (batch 8; 200 iterations, 600 when the
train split holds more than 100,000 values). Measured in ``benchmarks/ucr_benchmark.py`` (protocol
v2, docs/time_series.md): it beats the same network untrained on UCR by about 0.08 accuracy and is
level with the authors' TS2Vec run on the same arrays and SVM, while MSN / PMSN on that network
and budget do not clearly beat the untrained network. Every series method gets the recipe's
budget and network; only ``method=None`` picks its method.

Images: PMSN, batch 64, 200 steps for ``SSLEncoder`` (its earlier defaults; the CLI's image recipe,
15 epochs of Fashion-MNIST, is ``priormatch train`` with no keys, docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from priormatch.data.arrays import Kind

TS2VEC_VALUES_LIMIT = 100_000  # TS2Vec trains 200 iterations up to this many train values, else 600


def ts2vec_iterations(x: np.ndarray) -> int:
    """TS2Vec's training length for a train split ``x`` (n, C, T): 200 iterations when it holds at
    most 100,000 values (n x C x T), else 600."""
    return 200 if x.size <= TS2VEC_VALUES_LIMIT else 600


@dataclass(frozen=True)
class Recipe:
    """The defaults of one data kind: ``method`` (when none is given), ``batch_size``, the step rule
    and the conv1d encoder's size (applied under the user's own ``encoder__*`` keys)."""

    method: str
    batch_size: int
    fixed_steps: int | None  # None: TS2Vec's rule (:func:`ts2vec_iterations`)
    conv1d: dict[str, Any] = field(default_factory=dict)

    def steps(self, x: np.ndarray) -> int:
        """Optimizer steps for the train array ``x``."""
        return ts2vec_iterations(x) if self.fixed_steps is None else self.fixed_steps


RECIPES: dict[Kind, Recipe] = {
    "series": Recipe(method="ts2vec", batch_size=8, fixed_steps=None, conv1d={"hidden": 64, "depth": 10, "embed_dim": 320}),
    "image": Recipe(method="pmsn", batch_size=64, fixed_steps=200),
}
