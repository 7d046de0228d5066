"""SimCLR's NT-Xent (normalised temperature-scaled cross-entropy) over the 2N views of a batch.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020,
eq. 1: with z normalised and sim(u, v) = u.v / (|u| |v|), the loss of the positive pair (i, j) is

    l(i, j) = -log exp(sim(z_i, z_j) / t) / sum_{k != i} exp(sim(z_i, z_k) / t),

averaged over all 2N ordered pairs (i, j) and (j, i). The 2(N - 1) negatives of an anchor are
the other views of the batch. Under DDP the candidates are the views of the *global* batch
(:func:`priormatch.distributed.all_gather_with_grad`), so W ranks of N/W samples compute the
loss of one process with N samples, and their averaged gradients are its gradient.

Shapes: z1, z2 (N, D): row i of z1 and row i of z2 are two views of sample i.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.distributed import all_gather_with_grad, rank
from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_min_size, check_positive, check_same_shape


def _check_views(z1: Tensor, z2: Tensor) -> None:
    check_same_shape("z1", z1, "z2", z2, "(N, D)")
    check_min_size("z1 and z2", z1.shape[0], 1, "sample")


@in_float32
def nt_xent_loss(z1: Tensor, z2: Tensor, *, temperature: float = 0.5) -> Tensor:
    """Scalar NT-Xent loss of two views (N, D) each; negatives from the global batch.

    ``temperature`` (> 0) divides the cosine similarities. With one sample (N = 1, one process)
    there are no negatives and the loss is 0.
    """
    check_positive("temperature", temperature)
    _check_views(z1, z2)
    local = F.normalize(torch.cat([z1, z2]), dim=1)  # (2n, D): rows 0..n-1 view 1, n..2n-1 view 2
    candidates = all_gather_with_grad(local)  # (W*2n, D), rank-major
    n2 = local.shape[0]
    logits = local @ candidates.t() / temperature  # (2n, W*2n)
    own = rank() * n2 + torch.arange(n2, device=local.device)  # column of each anchor itself
    positive = rank() * n2 + (torch.arange(n2, device=local.device) + n2 // 2) % n2  # its other view
    logits = logits.masked_fill(F.one_hot(own, logits.shape[1]).bool(), float("-inf"))  # k != i
    return F.cross_entropy(logits, positive)
