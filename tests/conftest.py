from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny"


@pytest.fixture
def tiny_config():
    """Path of the tiny config of a method (configs/tiny/<name>.yaml)."""
    return lambda name: TINY / f"{name}.yaml"
