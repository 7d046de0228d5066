import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny"
TEST_SEED = 0


@pytest.fixture
def tiny_config():
    """Path of the tiny config of a method (configs/tiny/<name>.yaml)."""
    return lambda name: TINY / f"{name}.yaml"


@pytest.fixture(autouse=True)
def isolated_global_state():
    """Every test starts from the same random state and leaves the process as it found it.

    Seeds Python, NumPy and torch, so a test's random draws do not depend on which tests ran before
    it; afterwards restores what code under test may change process-wide: torch's thread count,
    default dtype and determinism flag, the environment (OMP/MKL thread variables) and threadpoolctl
    limits that an in-process diagnose leaves behind.
    """
    random.seed(TEST_SEED)
    np.random.seed(TEST_SEED)
    torch.manual_seed(TEST_SEED)
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    environment = dict(os.environ)
    yield
    _release_thread_limits()
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)
    torch.use_deterministic_algorithms(deterministic)
    os.environ.clear()
    os.environ.update(environment)


def _release_thread_limits() -> None:
    from priormatch.diagnose import worker

    while worker._THREAD_LIMITS:
        worker._THREAD_LIMITS.pop().restore_original_limits()
