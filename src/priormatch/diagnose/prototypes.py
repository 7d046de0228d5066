"""Prototype assignments of training images under a run's trained model (MSN, PMSN, SwAV, ...).

``encoder.pt`` holds only the evaluation encoder; the prototypes and the projection head live in
``checkpoint.pt`` (``state["method"]``). So the method is rebuilt from the run's config with
:func:`priormatch.training.experiment.build_model` and the checkpoint loaded into it. A method
qualifies when it has a ``prototypes`` parameter (K, P) and a projection head: the assignment of
an image is ``softmax_k(cos(z, q_k) / temperature)`` with ``z`` the projection of its evaluation
features, using the EMA target branch where the method has one (``target_projector``; MSN's
targets come from it) and ``method.config.temperature``. Images are seen unaugmented, as in
evaluation; usage is the mean assignment ``p_bar`` over them, what the prior regulariser matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from priormatch.errors import PriormatchError
from priormatch.evaluation.features import extract_features
from priormatch.evaluation.run_evaluation import load_run
from priormatch.methods import SSLMethod
from priormatch.training.checkpoint import checkpoint_entry, load_checkpoint, load_weights
from priormatch.training.experiment import build_model, prepare_data
from priormatch.training.views import make_views

if TYPE_CHECKING:
    from priormatch.training.config import RunConfig
    from priormatch.training.experiment import PretrainingData

DEFAULT_TEMPERATURE = 0.1


@dataclass(frozen=True)
class PrototypeAnalysis:
    run: str
    probabilities: np.ndarray  # (n, K) assignment of each analysed image
    images: np.ndarray  # (n, C, H, W) the analysed images, unnormalised, or (n, C, T) series
    labels: np.ndarray  # (n,) their class labels
    class_names: tuple[str, ...]
    prior: np.ndarray  # (K,) the prior the method was trained towards (uniform without one)

    @property
    def usage(self) -> np.ndarray:
        """(K,) mean assignment probability p_bar over the analysed images."""
        return self.probabilities.mean(axis=0)

    @property
    def hard_counts(self) -> np.ndarray:
        """(K,) images whose most probable prototype is k."""
        return np.bincount(self.probabilities.argmax(axis=1), minlength=self.probabilities.shape[1])

    def normalised_entropy(self) -> float:
        """H(p_bar) / log K: 1 = perfectly uniform usage."""
        usage = np.clip(self.usage, 1e-12, None)
        return float(-(usage * np.log(usage)).sum() / np.log(len(usage)))

    def most_used(self, count: int) -> np.ndarray:
        """Indices of the ``count`` prototypes with the most images assigned (ties by p_bar)."""
        order = np.lexsort((-self.usage, -self.hard_counts))
        return order[:count]

    def top_images(self, prototype: int, count: int) -> np.ndarray:
        """Indices of the ``count`` images with the highest probability for ``prototype``."""
        return np.argsort(-self.probabilities[:, prototype], kind="stable")[:count]

    def purity(self, prototypes: int, images: int) -> float:
        """Mean share of the majority class among the top images of the most used prototypes."""
        shares = []
        for prototype in self.most_used(prototypes):
            labels = self.labels[self.top_images(prototype, images)]
            shares.append(np.bincount(labels).max() / len(labels))
        return float(np.mean(shares))


def has_prototypes(method: nn.Module) -> bool:
    return isinstance(getattr(method, "prototypes", None), torch.Tensor) and hasattr(method, "projector")


class _Assigner(nn.Module):
    """(B, C, H, W) normalised images -> (B, K) prototype probabilities."""

    def __init__(self, method: SSLMethod) -> None:
        super().__init__()
        self.encoder = method.evaluation_encoder()
        target = getattr(method, "target_projector", None)
        self.projector = cast(nn.Module, target if target is not None else method.projector)
        self.prototypes = cast(Tensor, method.prototypes).detach()  # has_prototypes(method)
        self.temperature = float(getattr(getattr(method, "config", None), "temperature", DEFAULT_TEMPERATURE))

    def forward(self, x: Tensor) -> Tensor:
        z = F.normalize(self.projector(self.encoder(x)), dim=1)  # (B, P)
        scores = z @ F.normalize(self.prototypes, dim=1).T  # (B, K)
        return torch.softmax(scores / self.temperature, dim=1)


def load_trained_method(path: str | Path) -> tuple[SSLMethod, RunConfig, PretrainingData]:
    """(method with the checkpoint's weights, run config, pretraining data) of a finished run."""
    run, config = load_run(path)
    data = prepare_data(config.data)
    method = build_model(config, data)
    fix = "checkpoint.pt must come from this run's own training; re-train the run"
    load_weights(method, checkpoint_entry(load_checkpoint(run.checkpoint), "method", run.checkpoint), path=run.checkpoint, fix=fix)
    return method.eval(), config, data


def analyse_run(
    path: str | Path, *, max_images: int = 2000, seed: int = 0, batch_size: int = 512, held_out: bool = False
) -> PrototypeAnalysis:
    """Assignments of up to ``max_images`` images (a seeded sample) to the prototypes.

    By default the images are pretraining images; with ``held_out`` they are training-split
    images the run never saw, drawn with the pretraining class profile (:func:`held_out_rows`),
    falling back to pretraining images where the split has none left over.
    """
    method, config, data = load_trained_method(path)
    if not has_prototypes(method):
        raise PriormatchError(
            f"run {path} trains method {config.method.name!r}, which has no prototypes; "
            "prototype galleries need a prototype method (msn, pmsn, swav)"
        )
    rng = np.random.default_rng(seed)
    rows = held_out_rows(data.splits.train.y, data.subset, max_images, rng) if held_out else None
    if rows is None:
        rows = data.subset[np.sort(rng.choice(len(data.subset), size=min(max_images, len(data.subset)), replace=False))]
    split = data.splits.train
    images = np.asarray(split.x[rows])
    views = make_views(config, data.train, method.encoder)
    probabilities = extract_features(_Assigner(method), images, batch_size=batch_size, transform=views.evaluation_view)
    prior = getattr(method, "prior", None)
    k = probabilities.shape[1]
    prior_array = prior.detach().cpu().numpy() if isinstance(prior, torch.Tensor) else np.full(k, 1.0 / k)
    return PrototypeAnalysis(str(path), probabilities, images, split.y[rows], tuple(split.class_names), prior_array)


def held_out_rows(labels: np.ndarray, subset: np.ndarray, max_images: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted indices of training-split rows outside ``subset`` with the subset's class profile.

    ``labels`` (n,) of the whole split, ``subset`` (m,) the pretraining indices. Each class gets
    ``round(scale * count)`` rows, the largest scale <= max_images / m that every class's
    left-over rows allow; None when some pretraining class has no row left over.
    """
    num_classes = int(labels.max()) + 1
    counts = np.bincount(labels[subset], minlength=num_classes)
    outside = np.ones(len(labels), dtype=bool)
    outside[subset] = False
    available = np.bincount(labels[outside], minlength=num_classes)
    present = counts > 0
    if (available[present] == 0).any():
        return None
    scale = min(max_images / len(subset), float((available[present] / counts[present]).min()))
    wanted = np.maximum(1, np.round(scale * counts)).astype(int) * present
    wanted = np.minimum(wanted, available)
    chosen = [rng.choice(np.flatnonzero(outside & (labels == c)), size=int(wanted[c]), replace=False) for c in np.flatnonzero(present)]
    return np.sort(np.concatenate(chosen))
