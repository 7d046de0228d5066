"""Every objective computes in float32 inside a bf16 autocast region (train.precision=bf16) and
gives the fp32 value; outside autocast the decorator is a no-op."""

from __future__ import annotations

import pytest
import torch

from priormatch.objectives import pmsn_terms
from priormatch.objectives.data2vec import data2vec_loss
from priormatch.objectives.hierarchical_contrast import hierarchical_contrast_terms
from priormatch.objectives.nt_xent import nt_xent_loss
from priormatch.objectives.swav import swav_terms
from priormatch.objectives.vicreg import vicreg_terms
from priormatch.priors import power_law_prior


def _inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return {
        "z": torch.randn(2, 16, 8, generator=generator),
        "prototypes": torch.randn(10, 8, generator=generator),
        "series": torch.randn(2, 4, 12, 8, generator=generator),
        "mask": torch.rand(4, 6, generator=generator) < 0.5,
    }


CASES = {
    "pmsn": lambda x: pmsn_terms(x["z"][0], x["z"][1], x["prototypes"], power_law_prior(10, 1.0)).loss,
    "nt_xent": lambda x: nt_xent_loss(x["z"][0], x["z"][1]),
    "swav": lambda x: swav_terms(x["z"].reshape(32, 8), x["prototypes"], num_views=2).loss,
    "vicreg": lambda x: vicreg_terms(x["z"][0], x["z"][1]).loss,
    "hierarchical_contrast": lambda x: hierarchical_contrast_terms(x["series"][0], x["series"][1]).loss,
    "data2vec": lambda x: data2vec_loss(x["series"][0, :, :6], x["series"][1, :, :6], x["mask"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_under_bf16_autocast_equals_its_fp32_value(name: str) -> None:
    x = _inputs()
    reference = CASES[name](x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = {key: value.to(torch.bfloat16) if value.is_floating_point() else value for key, value in x.items()}
        under_autocast = CASES[name](low)
    assert under_autocast.dtype == torch.float32
    # the inputs themselves were rounded to bf16 (2-3 digits); the objective adds no bf16 error of its own
    expected = CASES[name]({key: value.to(torch.bfloat16).float() if value.is_floating_point() else value for key, value in x.items()})
    torch.testing.assert_close(under_autocast, expected, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(reference)
