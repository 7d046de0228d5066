"""Diagnose presets load into the typed config; overrides and errors behave like the run config's."""

import pytest

from priormatch.diagnose.config import PRESETS, load_diagnose_config
from priormatch.errors import PriormatchError


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_loads(preset):
    config = load_diagnose_config(preset)
    assert config.seeds >= 2 and {"batch_composition", "prior_matching"} <= set(config.experiments)
    assert ("overlay" in config.experiments) == (preset != "series")  # the overlay toy is an image experiment


def test_quick_preset_uses_three_seeds_and_every_method():
    config = load_diagnose_config("quick")
    assert config.seeds == 3
    assert set(config.batch_composition.methods) == {"simclr", "vicreg", "swav", "msn", "mae", "data2vec", "jepa"}
    assert set(config.batch_composition.no_batch_regulariser) == {"mae", "data2vec", "jepa"}


def test_dotted_overrides():
    config = load_diagnose_config("smoke", ["seeds=5", "base.train.steps=3", "prior_matching.taus=[0.1,0.5]"])
    assert config.seeds == 5 and config.base["train"]["steps"] == 3 and config.prior_matching.taus == [0.1, 0.5]


@pytest.mark.parametrize(
    "override, message",
    [
        ("sedes=3", "sedes"),
        ("seeds=abc", "seeds"),
        ("seeds=0", "seeds=0"),
        ("experiments=[nope]", "experiments"),
        ("base.method.name=msn", "method_overrides"),
    ],
)
def test_bad_overrides_are_one_line_errors(override, message):
    with pytest.raises(PriormatchError, match=message) as error:
        load_diagnose_config("smoke", [override])
    assert "\n" not in str(error.value)


def test_unknown_preset():
    with pytest.raises(PriormatchError, match="unknown preset"):
        load_diagnose_config("huge")
