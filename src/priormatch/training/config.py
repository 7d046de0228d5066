"""Run configuration: typed defaults in code -> YAML files -> dotted ``key=value`` overrides.

The schema of the ``method`` and ``encoder`` sections depends on their ``name`` (each method and
encoder declares its own config dataclass), so ``method.tau`` is valid for PMSN and an error for
SimCLR. Unknown keys and wrong types are errors naming the key; the resolved config is saved in
the run directory, which is the interface between train, evaluate and report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from priormatch.data.image_views import ImageViewsConfig, validate_image_views_config
from priormatch.data.series_views import SeriesViewsConfig, validate_series_views_config
from priormatch.errors import PriormatchError
from priormatch.recipes import RECIPES
from priormatch.validation import (
    MAX_COUNT,
    check_choice,
    check_int_at_least,
    check_int_between,
    check_non_negative,
    check_not_above,
    check_optional_int_at_least,
    check_optional_int_between,
    check_positive,
    check_range,
    check_seed,
)

if TYPE_CHECKING:
    from priormatch.data.arrays import Kind

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")  # auto: priormatch.training.precision
SAMPLERS = ("shuffle", "class_imbalanced")
SAMPLER_MODES = ("global", "per_rank")
PROBES = ("linear", "knn", "svm")
MAX_THREADS = 1024  # train.num_threads


@dataclass
class DataConfig:
    name: str = "fashion_mnist"  # see `priormatch datasets`; prefixed names such as ucr:ECG5000
    path: str | None = None  # data directory or file (default: where the data set installs)
    imbalance_ratio: float = 1.0  # rho = n_max / n_min of the pretraining subset (1 = as loaded)
    subset_size: int | None = None  # fixed pretraining-subset size (same for balanced and long-tailed)
    class_order_seed: int = 0  # seeds which classes are head and tail
    sampler: str = "shuffle"  # shuffle | class_imbalanced
    classes_per_batch: int = 2  # k for the class-imbalanced sampler
    sampler_mode: str = "global"  # global | per_rank (class-imbalanced sampler under DDP)
    layout: str | None = None  # axes of a user array file: NCT NTC NT | NCHW NHWC NHW (None: NCT / NCHW)
    check_layout: bool = True  # refuse implausible shapes (more channels than timepoints, ...)
    groups: str | None = None  # what drives subset, sampler and class_counts prior instead of labels: file | kmeans:C


@dataclass
class TrainConfig:
    # passes over the pretraining set; null (the series default): the data kind's recipe step rule
    # (priormatch.recipes: TS2Vec's 200 iterations, 600 above 100,000 train values)
    epochs: int | None = 10
    steps: int | None = None  # total optimizer steps; overrides epochs when set
    batch_size: int = 256  # global batch (split over ranks under DDP)
    lr: float = 1e-3  # peak AdamW learning rate, after warm-up
    min_lr: float = 1e-6  # end of the cosine decay
    warmup_fraction: float = 0.1  # share of steps with linear warm-up
    weight_decay: float = 0.04  # cosine-increased ...
    weight_decay_end: float = 0.4  # ... to this (MSN recipe); none on biases, norms, prototypes
    grad_clip: float = 3.0  # max gradient norm (0 = off)
    checkpoint_every: int = 200  # steps between atomic checkpoints (>= 1)
    log_every: int = 10  # steps between metrics.jsonl records (>= 1)
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | fp32 | bf16 (autocast; changes numerics); auto: bf16 for the cnn on CPUs with native bf16
    num_threads: int | None = None  # torch CPU threads, >= 1 (null: leave torch's default)
    progress: bool = True  # show a progress bar


@dataclass
class EvalConfig:
    probes: list[str] = field(default_factory=lambda: ["linear", "knn"])  # linear | knn | svm (series: svm, linear)
    probe_samples_per_class: int | None = 1000  # balanced labelled subset of the train split (series: null = all)
    svm_search_samples: int | None = 2000  # the SVM's C search on a stratified subsample of at most this many rows (null: all, as TS2Vec)
    batch_size: int = 512  # feature-extraction batch


# Defaults that depend on the data kind, merged over the typed defaults (YAML and overrides still win).
# Series follow the TS2Vec / T-Loss protocol: an RBF SVM (plus the linear probe) fitted on the *full*
# train split, as the published UCR accuracies are.
# Images follow the image recipe (docs/results.md, "The image recipe"): with the default CNN (in
# channels_last memory), bf16 autocast where the CPU has it (train.precision=auto) and a peak
# learning rate of 3e-3, 15 epochs of Fashion-MNIST's 60,000 images train every method of the issue
# in under 10 minutes on 2 cores.
# Series train at the series recipe (priormatch.recipes, measured on UCR): its method when none is
# named, its batch and step rule, and TS2Vec's network size for the conv1d encoder.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "series": {
        "train": {"epochs": None, "batch_size": RECIPES["series"].batch_size},
        "eval": {"probes": ["svm", "linear"], "probe_samples_per_class": None},
    },
    "image": {"train": {"epochs": 15, "lr": 3e-3}},
}
# Per (data kind, encoder name), merged over KIND_DEFAULTS.
KIND_ENCODER_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {("series", "conv1d"): {"encoder": dict(RECIPES["series"].conv1d)}}
# Per (data kind, method), merged over KIND_DEFAULTS. SwAV trains both global views with gradients,
# so with 4 focal views its CNN step costs 1.3x MSN's (178 vs 138 ms at batch 256 on 2 cores); with
# 2 it costs the same as MSN's and trains the recipe's 15 epochs in the same 10 minutes.
KIND_METHOD_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {("image", "swav"): {"method": {"focal_views": 2}}}


@dataclass
class RunConfig:
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    encoder: Any = None  # the encoder's own config dataclass, chosen by encoder.name
    method: Any = None  # the method's own config dataclass, chosen by method.name
    image_views: ImageViewsConfig = field(default_factory=ImageViewsConfig)
    series_views: SeriesViewsConfig = field(default_factory=SeriesViewsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _one_line(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None) or ""
    message = str(error).splitlines()[0]
    if "not in" in message and key:
        return f"unknown config key '{key}'; check the spelling (valid keys: `priormatch train --show-config`)"
    if key:
        return f"config key '{key}': {message}"
    return message


def _read_yaml(path: Path) -> DictConfig:
    if path.is_dir():
        raise PriormatchError(f"config file {path} is a directory; give a path to a YAML file")
    if not path.is_file():
        raise PriormatchError(f"config file {path} does not exist; give a path to a YAML file")
    try:
        loaded = OmegaConf.load(path)
    except Exception as error:  # YAML parser errors have many types
        raise PriormatchError(f"config file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(loaded, DictConfig):
        raise PriormatchError(f"config file {path} must hold a mapping of config keys")
    return loaded


def _parse_overrides(overrides: list[str]) -> DictConfig:
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise PriormatchError(f"override {item!r} must look like key=value, e.g. method.tau=0.5")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as error:
        raise PriormatchError(f"could not parse overrides: {str(error).splitlines()[0]}") from None


def raw_config(config_files: list[Path] | tuple[Path, ...] = (), overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Merge YAML files and dotted overrides without a schema (names not yet resolved)."""
    raw = OmegaConf.create({})
    for path in config_files:
        raw = cast(DictConfig, OmegaConf.merge(raw, _read_yaml(Path(path))))
    return cast(DictConfig, OmegaConf.merge(raw, _parse_overrides(list(overrides))))


SECTIONS = ("data", "encoder", "method", "image_views", "series_views", "train", "eval")


def _check_sections(raw: DictConfig) -> None:
    """Each top-level section, when given, is a mapping of keys (``train: 5`` is an error)."""
    for section in SECTIONS:
        node = raw.get(section)
        if node is not None and not isinstance(node, DictConfig):
            example = f"{section}.name=..." if section in ("encoder", "method") else f"{section}.KEY=VALUE"
            raise PriormatchError(f"config key '{section}' must be a section (e.g. {example}), not a value")


def _section_name(raw: DictConfig, section: str, default: str) -> str:
    node = raw.get(section)
    if node is None:
        return default
    name = node.get("name")
    return default if name is None else str(name)


def resolve_config(raw: DictConfig, *, data_kind: Callable[[DataConfig], Kind]) -> RunConfig:
    """Validate ``raw`` against the schema its method and encoder names select.

    ``data_kind(data_config)`` tells whether the data are images or series; with the method it
    picks the default method (the kind's recipe, :data:`priormatch.recipes.RECIPES`) and encoder
    (:meth:`priormatch.methods.MethodSpec.default_encoder`).
    """
    from priormatch.encoders import ENCODERS
    from priormatch.methods import method_spec

    _check_sections(raw)
    data_only = _merge(OmegaConf.structured(DataConfig), raw.get("data") or {}, prefix="data.")
    kind = data_kind(data_only)
    method_name = _section_name(raw, "method", RECIPES[kind].method)
    spec = method_spec(method_name)
    encoder_name = _section_name(raw, "encoder", spec.default_encoder(kind))
    if encoder_name not in ENCODERS:
        raise PriormatchError(f"unknown encoder {encoder_name!r}; set encoder.name to one of: {', '.join(ENCODERS)}")
    schema = OmegaConf.structured(
        RunConfig(method=spec.config_type(name=method_name), encoder=ENCODERS[encoder_name].config_type(name=encoder_name))
    )
    defaults = OmegaConf.merge(
        schema,
        KIND_DEFAULTS.get(kind, {}),
        KIND_ENCODER_DEFAULTS.get((kind, encoder_name), {}),
        KIND_METHOD_DEFAULTS.get((kind, method_name), {}),
    )
    config = _merge(cast(DictConfig, defaults), raw)
    validate_run_config(config)
    return config


def _merge(schema: DictConfig, raw: Any, prefix: str = "") -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(schema, raw))
    except OmegaConfBaseException as error:
        if prefix and getattr(error, "full_key", None):
            error.full_key = prefix + cast(str, error.full_key)  # a non-empty str: checked above
        raise PriormatchError(_one_line(error)) from None


# Keys added after runs were cached by their config hash are written only when they differ from
# their default, so config.yaml, diagnose run keys and encoder.pt of earlier runs stay valid.
WRITTEN_WHEN_SET: dict[str, dict[str, Any]] = {"data": {"layout": None, "check_layout": True}, "encoder": {"channels_last": True}}


def config_to_yaml(config: RunConfig) -> str:
    tree = cast("dict[str, Any]", OmegaConf.to_container(OmegaConf.structured(config)))
    for section, defaults in WRITTEN_WHEN_SET.items():
        for key, default in defaults.items():
            if tree[section].get(key, default) == default:
                tree[section].pop(key, None)
    return OmegaConf.to_yaml(tree)


def load_run_config(path: Path, *, data_kind: Callable[[DataConfig], Kind]) -> RunConfig:
    """The resolved config saved in a run directory."""
    return resolve_config(raw_config([path]), data_kind=data_kind)


def validate_run_config(config: RunConfig) -> None:
    """Check the range of every key (counts >= 1, fractions in [0, 1], finite floats, known
    choices, sane sizes) so a bad value fails before anything is written; one-line errors name the key."""
    check_seed("seed", config.seed)
    validate_data_config(config.data)
    validate_image_views_config(config.image_views)
    validate_series_views_config(config.series_views)
    validate_train_config(config.train)
    validate_eval_config(config.eval)
    _validate_encoder_and_method(config)


def validate_data_config(data: DataConfig) -> None:
    if not data.name:
        raise PriormatchError("data.name is empty; set it to a data set name (see `priormatch datasets`)")
    check_range("data.imbalance_ratio", data.imbalance_ratio, 1.0, float("inf"))
    check_optional_int_at_least("data.subset_size", data.subset_size, 1)
    check_seed("data.class_order_seed", data.class_order_seed)
    check_choice("data.sampler", data.sampler, SAMPLERS)
    check_int_between("data.classes_per_batch", data.classes_per_batch, 1, MAX_COUNT)
    check_choice("data.sampler_mode", data.sampler_mode, SAMPLER_MODES)
    if data.layout is not None:
        from priormatch.data.layouts import LAYOUTS  # the data package loads torch: not at import

        check_choice("data.layout", data.layout, LAYOUTS)


def validate_train_config(train: TrainConfig) -> None:
    check_optional_int_at_least("train.epochs", train.epochs, 1)
    check_optional_int_at_least("train.steps", train.steps, 1)
    check_int_at_least("train.batch_size", train.batch_size, 1)
    check_positive("train.lr", train.lr)
    check_non_negative("train.min_lr", train.min_lr)
    check_not_above("train.min_lr", train.min_lr, "train.lr", train.lr)
    check_range("train.warmup_fraction", train.warmup_fraction, 0.0, 1.0, high_inclusive=True)
    check_non_negative("train.weight_decay", train.weight_decay)
    check_non_negative("train.weight_decay_end", train.weight_decay_end)
    check_non_negative("train.grad_clip", train.grad_clip)
    check_int_at_least("train.checkpoint_every", train.checkpoint_every, 1)
    check_int_at_least("train.log_every", train.log_every, 1)
    check_choice("train.device", train.device, DEVICES)
    check_choice("train.precision", train.precision, PRECISIONS)
    check_optional_int_between("train.num_threads", train.num_threads, 1, MAX_THREADS)


def validate_eval_config(evaluation: EvalConfig) -> None:
    if not evaluation.probes:
        raise PriormatchError(f"eval.probes is empty; list at least one of: {', '.join(PROBES)}")
    for probe in evaluation.probes:
        check_choice("eval.probes", probe, PROBES)
    check_optional_int_at_least("eval.probe_samples_per_class", evaluation.probe_samples_per_class, 1)
    check_optional_int_at_least("eval.svm_search_samples", evaluation.svm_search_samples, 10)
    check_int_at_least("eval.batch_size", evaluation.batch_size, 1)


def _validate_encoder_and_method(config: RunConfig) -> None:
    """The encoder's and the method's own range checks (their modules define them)."""
    from priormatch.encoders.configs import SeriesTransformerConfig, ViTConfig, validate_encoder_config
    from priormatch.methods.data2vec import Data2VecConfig, validate_data2vec_config
    from priormatch.methods.jepa import JEPAConfig, validate_jepa_config
    from priormatch.methods.mae import MAEConfig, validate_mae_config
    from priormatch.methods.msn import MSNConfig, validate_msn_config
    from priormatch.methods.simclr import SimCLRConfig, validate_simclr_config
    from priormatch.methods.swav import SwAVConfig, validate_swav_config
    from priormatch.methods.ts2vec import TS2VecConfig, validate_ts2vec_config
    from priormatch.methods.vicreg import VICRegConfig, validate_vicreg_config

    validate_encoder_config(config.encoder)
    transformer = isinstance(config.encoder, (ViTConfig, SeriesTransformerConfig))
    depth = config.encoder.depth if transformer else None  # data2vec averages transformer blocks
    validators: dict[type, Callable[[Any], None]] = {
        MSNConfig: validate_msn_config,
        SimCLRConfig: validate_simclr_config,
        VICRegConfig: validate_vicreg_config,
        SwAVConfig: validate_swav_config,
        MAEConfig: validate_mae_config,
        Data2VecConfig: lambda method: validate_data2vec_config(method, depth=depth),
        TS2VecConfig: validate_ts2vec_config,
        JEPAConfig: validate_jepa_config,
    }
    for config_type, validate in validators.items():
        if isinstance(config.method, config_type):  # PMSNConfig is an MSNConfig
            validate(config.method)
    _validate_prior_name(config.method)


def _validate_prior_name(method: Any) -> None:
    """Every method with a ``prior`` key (MSN / PMSN, SwAV, the prototype heads; ``none`` turns a
    head off) names a prior that exists, unless ``prior_values`` gives it explicitly."""
    from priormatch.methods.prior_head import NO_PRIOR
    from priormatch.priors import check_prior_name

    prior = getattr(method, "prior", None)
    if isinstance(prior, str) and prior != NO_PRIOR and getattr(method, "prior_values", None) is None:
        check_prior_name(prior)
