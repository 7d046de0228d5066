"""Streaming feature extraction from a frozen encoder.

Only one batch of inputs lives on the device at a time, and inputs are converted to tensors one
batch at a time, so an ``np.memmap`` larger than memory works. The (n, D) output is allocated once
the first batch reveals D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from priormatch.errors import PriormatchError


def extract_features(
    encoder: Callable[[Tensor], Tensor],
    x: np.ndarray,
    *,
    batch_size: int = 512,
    transform: Callable[[Tensor], Tensor] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """(n, D) float32 features of x under ``encoder``, computed batch by batch in inference mode.

    encoder: maps a (B, *sample_shape) batch to (B, D) features; an ``nn.Module`` is switched to
      eval mode for the call and each submodule's previous mode is restored afterwards.
    x: (n, *sample_shape), e.g. images (n, C, H, W) or series (n, C, T); may be an ``np.memmap``.
    transform: applied on the device to each raw batch tensor (whatever x's dtype, e.g. uint8) and
      must return the encoder input; without it the batch is cast to float32.
    Raises PriormatchError if any feature is NaN/inf, naming the first bad sample.
    """
    _check_inputs(x, batch_size)
    features: np.ndarray | None = None
    batches = range(0, len(x), batch_size)
    with _eval_mode(encoder), torch.inference_mode():
        for start in tqdm(batches, desc="features", unit="batch", disable=not progress):
            batch = _to_device(x[start : start + batch_size], transform, device)
            out = _encode(encoder, batch)
            if features is None:
                features = np.empty((len(x), out.shape[1]), dtype=np.float32)
            _check_finite(out, start)
            features[start : start + len(out)] = out
    assert features is not None  # _check_inputs: x is not empty
    return features


def _encode(encoder: Callable[[Tensor], Tensor], batch: Tensor) -> np.ndarray:
    """(B, D) float32 NumPy features of one batch."""
    out = encoder(batch)
    if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != batch.shape[0]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise PriormatchError(
            f"encoder returned {shape} for a batch of {batch.shape[0]}; it must return a (batch, D) tensor "
            "(pool or flatten inside the encoder)"
        )
    return out.detach().to("cpu", torch.float32).numpy()


def _to_device(chunk: np.ndarray, transform: Callable[[Tensor], Tensor] | None, device: str | torch.device) -> Tensor:
    """One batch as a tensor on the device: raw dtype through ``transform``, else float32."""
    batch = torch.from_numpy(np.array(chunk, copy=True)).to(device)  # copy: reads a memmap slice
    return transform(batch) if transform is not None else batch.float()


def _check_finite(out: np.ndarray, start: int) -> None:
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        index = start + int(np.flatnonzero(bad)[0])
        raise PriormatchError(
            f"features of sample {index} are NaN/inf; check x[{index}] for NaN inputs or the checkpoint for diverged training"
        )


def _check_inputs(x: np.ndarray, batch_size: int) -> None:
    if not isinstance(x, np.ndarray) or x.ndim < 1 or len(x) == 0:
        raise PriormatchError(
            f"x must be a non-empty NumPy array (n, *sample_shape), got {type(x).__name__} of shape {getattr(x, 'shape', None)}"
        )
    if batch_size < 1:
        raise PriormatchError(f"batch_size={batch_size}; pass a positive batch size")


@contextmanager
def _eval_mode(encoder: Callable[[Tensor], Tensor]) -> Iterator[None]:
    """Put an nn.Module in eval mode, restoring every submodule's own mode on exit."""
    if not isinstance(encoder, nn.Module):
        yield
        return
    modes = [(module, module.training) for module in encoder.modules()]
    encoder.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
