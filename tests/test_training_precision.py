"""train.precision=auto: bf16 autocast only for the CNN on a CPU with native bf16, fp32 elsewhere."""

from __future__ import annotations

import pytest
import torch

from priormatch.errors import PriormatchError
from priormatch.training import precision as precision_module
from priormatch.training.precision import autocast, resolved_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_for_the_cnn_on_a_cpu_with_native_bf16(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    assert resolved_precision("auto", "cnn", CPU) == ("bf16" if native else "fp32")
    for encoder in ("vit", "conv1d", "series_transformer"):
        assert resolved_precision("auto", encoder, CPU) == "fp32"
    assert resolved_precision("auto", "cnn", torch.device("cuda")) == "fp32"


def test_explicit_precisions_are_kept_and_unknown_ones_are_refused() -> None:
    assert resolved_precision("fp32", "cnn", CPU) == "fp32"
    assert resolved_precision("bf16", "vit", CPU) == "bf16"
    with pytest.raises(PriormatchError, match="train.precision='fp8'"):
        resolved_precision("fp8", "cnn", CPU)


def test_autocast_context_matches_the_resolved_precision() -> None:
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with autocast("bf16", CPU):
        assert layer(x).dtype == torch.bfloat16
    with autocast("fp32", CPU):
        assert layer(x).dtype == torch.float32
