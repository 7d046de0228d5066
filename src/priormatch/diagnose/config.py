"""The diagnose configuration: typed defaults -> a preset YAML -> dotted ``key=value`` overrides.

A preset (``priormatch/diagnose/presets/<name>.yaml``, package data, or any YAML path) sets the seeds, the experiments and
their grids, and ``base``: the run config every run shares (data, encoder, views, train, eval),
written as nested sections of the ordinary run config. ``method_overrides[name]`` holds each
method's own ``method.*`` settings (e.g. MSN's number of prototypes), since those keys differ
between methods. Overrides such as ``seeds=5`` or ``base.train.epochs=20`` work like the run
config's; unknown keys and wrong types are one-line errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from priormatch.diagnose.preset_names import DEFAULT_PRESET, PRESETS
from priormatch.errors import PriormatchError
from priormatch.training.config import raw_config

PRESET_DIR = Path(__file__).resolve().parent / "presets"  # package data: shipped in the wheel
# PRESETS and DEFAULT_PRESET (imported above) stay importable from here.


@dataclass
class BatchCompositionConfig:
    """Claim 2: the same balanced data, shuffled batches vs batches of only k classes."""

    methods: list[str] = field(default_factory=lambda: ["simclr", "vicreg", "swav", "msn", "mae", "data2vec"])
    no_batch_regulariser: list[str] = field(default_factory=lambda: ["mae", "data2vec"])  # the reference group
    classes_per_batch: list[int] = field(default_factory=lambda: [2])  # k of each class-imbalanced condition


@dataclass
class PriorMatchingConfig:
    """Claim 4: MSN vs PMSN over a tau grid, on balanced and long-tailed subsets of one size.

    ``baseline_prior`` sets the baseline's ``method.prior``: null keeps the method's own (MSN's
    uniform me-max); ``uniform`` gives a method without prototypes (ts2vec, jepa) the prototype
    head with KL(p_bar || uniform), so baseline and arms can be one method with two priors.
    """

    baseline: str = "msn"
    baseline_prior: str | None = None
    method: str = "pmsn"
    taus: list[float] = field(default_factory=lambda: [0.25, 1.0])
    imbalance_ratios: list[float] = field(default_factory=lambda: [1.0, 100.0])  # 1 = balanced
    # PMSN's target balancing per arm: "uniform" (MSN's Sinkhorn, fights the KL term) and/or "prior"
    sinkhorn_marginals: list[str] = field(default_factory=lambda: ["uniform", "prior"])

    @property
    def baseline_arm(self) -> str:
        """The baseline's table row: ``msn``, or ``ts2vec prior=uniform`` with a baseline prior."""
        return self.baseline if self.baseline_prior is None else f"{self.baseline} prior={self.baseline_prior}"


@dataclass
class OverlayConfig:
    """Claim 5: the overlay toy, clothing balanced and digit power-law; uniform vs power-law prior."""

    data: str = "overlay"
    baseline: str = "msn"
    method: str = "pmsn"
    tau: float = 1.0  # the digits' power-law exponent (priormatch.data.overlay.DIGIT_EXPONENT)
    extra_label_sets: list[str] = field(default_factory=lambda: ["digit"])  # evaluated beside the data's own labels


@dataclass
class FiguresConfig:
    analysis_images: int = 2000  # pretraining images whose prototype assignments are computed
    gallery_prototypes: int = 6  # most used prototypes shown per gallery
    gallery_images: int = 8  # highest-probability images shown per prototype
    gallery_methods: list[str] = field(default_factory=lambda: ["msn", "swav"])  # prototype methods with galleries


@dataclass
class DiagnoseConfig:
    seeds: int = 3  # seeds per cell (statistics need >= 3)
    first_seed: int = 0
    # data.class_order_seed = the run's seed: which classes are head and tail (and which images a
    # subset holds) then varies with the seed, so intervals include that subset noise
    class_order_per_seed: bool = False
    workers: int | None = None  # parallel training processes (default: the usable CPU cores, capped at 2 per GPU)
    # a base.data.subset_size too large for the data shrinks to the largest every cell can draw
    # (batch size lowered to fit, the preset's step count kept); false: an error naming those sizes
    fit_to_data: bool = True
    experiments: list[str] = field(default_factory=lambda: ["batch_composition", "prior_matching", "overlay"])
    base: dict[str, Any] = field(default_factory=dict)  # run config shared by every run (nested sections)
    method_overrides: dict[str, Any] = field(default_factory=dict)  # method name -> its method.* settings
    batch_composition: BatchCompositionConfig = field(default_factory=BatchCompositionConfig)
    prior_matching: PriorMatchingConfig = field(default_factory=PriorMatchingConfig)
    overlay: OverlayConfig = field(default_factory=OverlayConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)


def preset_path(preset: str) -> Path:
    """The YAML file of a preset name (smoke, quick, full) or a path to a YAML file."""
    if preset in PRESETS:
        path = PRESET_DIR / f"{preset}.yaml"
        if not path.is_file():
            raise PriormatchError(f"preset file {path} is missing; reinstall priormatch or pass --preset PATH.yaml")
        return path
    path = Path(preset)
    if path.suffix in (".yaml", ".yml"):
        return path
    raise PriormatchError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)} or a path to a YAML file")


def load_diagnose_config(preset: str = DEFAULT_PRESET, overrides: list[str] | tuple[str, ...] = ()) -> DiagnoseConfig:
    """Typed defaults, then the preset's YAML, then dotted overrides (``seeds=5``)."""
    raw = raw_config([preset_path(preset)], overrides)
    try:
        config = cast(DiagnoseConfig, OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DiagnoseConfig), raw)))
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or ""
        message = str(error).splitlines()[0]
        raise PriormatchError(f"diagnose config key '{key}': {message}" if key else message) from None
    validate_diagnose_config(config)
    return config


def validate_diagnose_config(config: DiagnoseConfig) -> None:
    from priormatch.diagnose.experiments import EXPERIMENTS

    if config.seeds < 1:
        raise PriormatchError(f"seeds={config.seeds}; use at least 1 (3 or more for confidence intervals)")
    if config.workers is not None and config.workers < 1:
        raise PriormatchError(f"workers={config.workers}; use a positive number of processes or null for automatic")
    unknown = [name for name in config.experiments if name not in EXPERIMENTS]
    if unknown or not config.experiments:
        raise PriormatchError(f"experiments={config.experiments}; choose from {', '.join(EXPERIMENTS)}")
    marginals = config.prior_matching.sinkhorn_marginals
    if not marginals or not set(marginals) <= {"uniform", "prior", "off"}:
        raise PriormatchError(f"prior_matching.sinkhorn_marginals={marginals}; give one or more of uniform, prior, off")
    if "method" in config.base:
        raise PriormatchError("base.method is not allowed: methods come from the experiments; use method_overrides.NAME.KEY=VALUE")
