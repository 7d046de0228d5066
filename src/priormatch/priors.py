"""Cluster priors over K prototypes.

A prior ``pi`` is a 1-D float tensor of length K, non-negative, summing to 1. PMSN (Assran et al.,
ICLR 2023, sec. 4) regularises the mean prototype prediction towards it with KL(p_bar || pi).
Prior mass is attached to a fixed prototype index (the network chooses which prototype plays the
head); MSN's hidden prior is :func:`uniform_prior`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from priormatch.errors import PriormatchError


def _check_num_prototypes(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise PriormatchError(f"number of prototypes k={k!r} must be a positive integer")


def uniform_prior(k: int) -> Tensor:
    """(k,) the uniform prior 1/k: MSN's hidden prior."""
    _check_num_prototypes(k)
    return torch.full((k,), 1.0 / k, dtype=torch.float32)


def power_law_prior(k: int, tau: float) -> Tensor:
    """(k,) the power law pi_j = j^-tau / sum_i i^-tau for j = 1..k (tau = 0 is uniform).

    For k = 1024, tau = 0.25 gives pi_1 / pi_k = 1024^0.25 ~ 5.7 and tau = 1 gives 1024.
    """
    _check_num_prototypes(k)
    if not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau < 0:
        raise PriormatchError(f"power-law exponent tau={tau!r} must be a finite number >= 0")
    ranks = torch.arange(1, k + 1, dtype=torch.float64)
    weights = ranks.pow(-float(tau))
    return (weights / weights.sum()).to(torch.float32)


def prior_from_values(values: Sequence[float] | np.ndarray | Tensor, k: int, *, source: str = "prior") -> Tensor:
    """(k,) a user-supplied prior: validated (length k, finite, >= 0, not all zero) and normalised."""
    _check_num_prototypes(k)
    array = torch.as_tensor(np.asarray(values, dtype=np.float64))
    if array.ndim != 1:
        raise PriormatchError(f"{source} must be 1-D with {k} entries (one per prototype); got shape {tuple(array.shape)}")
    if array.numel() != k:
        raise PriormatchError(
            f"{source} has {array.numel()} entries but there are {k} prototypes; "
            f"give {k} values or set method.num_prototypes={array.numel()}"
        )
    if not torch.isfinite(array).all():
        raise PriormatchError(f"{source} contains NaN or Inf; give finite non-negative weights")
    if (array < 0).any():
        raise PriormatchError(f"{source} contains negative weights; priors must be non-negative")
    total = array.sum()
    if total <= 0:
        raise PriormatchError(f"{source} is all zeros; give at least one positive weight")
    return (array / total).to(torch.float32)


def prior_from_class_counts(counts: Sequence[float] | np.ndarray, k: int) -> Tensor:
    """(k,) a prior with the shape of a class-frequency profile, spread over k prototypes.

    Counts are sorted in decreasing order (prior mass is attached to prototype index, not to a
    class). The C classes tile [0, 1) in that order, each on an interval of width 1/C carrying its
    frequency; prototype j covers [j/k, (j+1)/k) and receives the mass of what it covers. So the
    prior's cumulative mass equals the classes' at every class boundary, for any k: with k = C this
    is the sorted class frequency, with k a multiple of C each class is split evenly over k / C
    prototypes, and otherwise a prototype that straddles two classes takes its share of each
    (rounding every class to a whole number of prototypes would give a class mass off by up to
    one prototype's share of its neighbour's).
    """
    _check_num_prototypes(k)
    counts_array = np.asarray(counts, dtype=np.float64)
    if counts_array.ndim != 1 or counts_array.size == 0:
        raise PriormatchError(f"class counts must be a non-empty 1-D list; got shape {counts_array.shape}")
    frequencies = prior_from_values(counts_array, counts_array.size, source="class counts").double().numpy()
    return torch.from_numpy(spread_profile(frequencies, k)).to(torch.float32)


def spread_profile(frequencies: np.ndarray, k: int) -> np.ndarray:
    """(k,) float64 masses of k equal-width prototype intervals over C equal-width class intervals.

    ``frequencies`` (C,) sums to 1; the result is non-increasing when they are sorted decreasingly.
    """
    frequencies = np.sort(np.asarray(frequencies, dtype=np.float64))[::-1]
    class_edges = np.arange(frequencies.size + 1) / frequencies.size
    cumulative = np.concatenate([[0.0], np.cumsum(frequencies)])
    masses = np.diff(np.interp(np.arange(k + 1) / k, class_edges, cumulative))
    return np.minimum.accumulate(np.clip(masses, 0.0, None))  # exact up to rounding; keeps the order


def load_prior_file(path: str | Path, k: int) -> Tensor:
    """(k,) a prior stored as a 1-D ``.npy`` array of non-negative weights."""
    path = Path(path)
    if not path.is_file():
        raise PriormatchError(f"prior file {path} does not exist; give a path to a 1-D .npy array of {k} weights")
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise PriormatchError(f"prior file {path} is not a readable .npy array ({error}); save it with numpy.save") from None
    return prior_from_values(values, k, source=f"prior file {path}")


@dataclass(frozen=True)
class PriorRequest:
    """What a config gives a prior builder: K prototypes, the power-law exponent and the
    pretraining data's class counts (empty when the data has no labels)."""

    k: int
    tau: float = 0.0
    class_counts: Sequence[float] | np.ndarray | None = None


def _class_counts_prior(request: PriorRequest) -> Tensor:
    if request.class_counts is None:
        raise PriormatchError("prior 'class_counts' needs the pretraining data's class counts; none were given")
    return prior_from_class_counts(request.class_counts, request.k)


# Prior name -> builder, like METHODS and ENCODERS. ``adaptive`` starts uniform; PMSN then re-estimates
# it during training (:mod:`priormatch.methods.adaptive_prior`).
PRIORS: dict[str, Callable[[PriorRequest], Tensor]] = {
    "uniform": lambda request: uniform_prior(request.k),
    "power_law": lambda request: power_law_prior(request.k, request.tau),
    "class_counts": _class_counts_prior,
    "adaptive": lambda request: uniform_prior(request.k),
}
PRIOR_NAMES = tuple(PRIORS)
ONLINE_PRIORS = ("adaptive",)  # re-estimated during training: only methods that update them accept these


def check_offline_prior(option: str, spec: str, method: str) -> None:
    """A one-line error when a method that cannot update a prior during training is given an online one."""
    if spec in ONLINE_PRIORS:
        raise PriormatchError(
            f"{option}={spec} is re-estimated during training, which only PMSN does; use method.name=pmsn, "
            f"or give {method} a fixed prior (uniform, power_law, class_counts, a .npy file)"
        )


def make_prior(
    spec: str,
    k: int,
    *,
    tau: float = 0.0,
    values: Sequence[float] | None = None,
    class_counts: Sequence[float] | np.ndarray | None = None,
) -> Tensor:
    """(k,) the prior named by a config: a name of ``PRIORS`` (``power_law`` uses ``tau``,
    ``class_counts`` the shape of the given class counts), ``values`` (an explicit list), or a path
    to a ``.npy`` file."""
    if values is not None:
        return prior_from_values(values, k, source="method.prior_values")
    if spec in PRIORS:
        return PRIORS[spec](PriorRequest(k, tau, class_counts))
    if spec.endswith(".npy"):
        return load_prior_file(spec, k)
    raise PriormatchError(_unknown_prior(spec))


def check_prior_name(spec: str) -> None:
    """A one-line error, at config time (before any run starts), for a prior that is neither a
    known name, an online prior, nor a ``.npy`` path."""
    if spec not in PRIORS and spec not in ONLINE_PRIORS and not spec.endswith(".npy"):
        raise PriormatchError(_unknown_prior(spec))


def _unknown_prior(spec: str) -> str:
    return f"unknown prior {spec!r}; use one of {', '.join(PRIOR_NAMES)}, a path to a .npy file, or set method.prior_values=[...]"
