"""AdamW with two parameter groups: weight decay on weight matrices, none on the rest."""

from __future__ import annotations

import torch
from torch import nn

# Parameters whose names end like this never get weight decay (MSN: none on prototypes).
NO_DECAY_SUFFIXES = ("prototypes", "cls_token", "mask_token", "pos_embed")


def _decays(name: str, parameter: nn.Parameter) -> bool:
    return parameter.ndim >= 2 and not name.endswith(NO_DECAY_SUFFIXES)


def make_optimizer(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; group 0 decays, group 1 (biases, norms, prototypes,
    tokens) does not. Learning rate and weight decay are reset every step by the schedules."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if _decays(n, p)]
    no_decay = [p for n, p in named if not _decays(n, p)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def set_hyperparameters(optimizer: torch.optim.Optimizer, *, lr: float, weight_decay: float) -> None:
    decay_group, no_decay_group = optimizer.param_groups
    for group in optimizer.param_groups:
        group["lr"] = lr
    decay_group["weight_decay"] = weight_decay
    no_decay_group["weight_decay"] = 0.0
