"""``SSLEncoder``: self-supervised pretraining as a scikit-learn transformer.

``SSLEncoder().fit(X)`` pretrains an encoder on the unlabelled ``X`` with the same
config, view and training-loop machinery as ``priormatch train`` (:func:`priormatch.training.loop.train`
on an in-memory data set), and ``transform(X)`` returns the frozen ``(n, embed_dim)`` features of the
method's evaluation encoder, so it can stand in front of any classifier in a ``Pipeline``::

    Pipeline([("ssl", SSLEncoder(random_state=0)), ("svm", SVC())]).fit(X, y)

The defaults are the data kind's measured recipe (:mod:`priormatch.recipes`): for series TS2Vec's
objective on TS2Vec's network and budget (UCR, docs/time_series.md), for images PMSN.

Inputs: series in the aeon/sktime layout ``(n_cases, n_channels, n_timepoints)`` or univariate
``(n_cases, n_timepoints)``, NaN marking missing values or end padding; or images
``(n, channels, height, width)`` (uint8 is divided by 255; floats should lie in [0, 1]). Other
layouts are named by ``layout`` (``"NTC"`` for ``(n, T, C)``, ``"NHWC"``, ``"NHW"``; see
:mod:`priormatch.data.layouts`); every layout is checked, so ``(n, T, C)`` passed without
``layout="NTC"`` is an error (more channels than timepoints), never read as T channels.

Any other config value is a keyword argument ``section__key`` (sections ``method``, ``encoder``,
``train``, ``series_views``, ``image_views``), e.g. ``method__tau=0.5``, ``train__lr=3e-4``,
``encoder__hidden=64``; a bare field name of the method's or the encoder's config (``tau=0.5``,
``hidden=64``) is routed to that section. Values are checked at ``fit`` like CLI overrides.
"""

from __future__ import annotations

import dataclasses
import numbers
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.random import RandomState
from omegaconf import OmegaConf
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from priormatch.data.arrays import DatasetSplits, Kind, LabeledArrays
from priormatch.data.layouts import LayoutRequest, check_plausible, layout_kind, resolve_layout, to_standard
from priormatch.encoders import ENCODERS
from priormatch.errors import PriormatchError
from priormatch.evaluation.features import extract_features
from priormatch.methods import method_spec
from priormatch.recipes import RECIPES
from priormatch.training.config import RunConfig, resolve_config
from priormatch.training.experiment import PretrainingData, build_model
from priormatch.training.loop import resolve_device, train
from priormatch.training.run_dir import RunDirectory
from priormatch.training.schedules import short_run_momentum
from priormatch.training.views import make_views

if TYPE_CHECKING:
    from priormatch.encoders.contract import Encoder

SECTIONS = ("method", "encoder", "train", "series_views", "image_views")
# Config keys set by the estimator's own arguments, so they cannot also be passed as section__key.
OWN_KEYS = {
    "method.name": "method",
    "encoder.name": "encoder",
    "train.steps": "steps",
    "train.batch_size": "batch_size",
    "train.device": "device",
    "train.num_threads": "num_threads",
    "train.progress": "verbose",
    "method.ema_momentum": "ema_momentum",
}
SEED_LIMIT = 2**31 - 1


class SSLEncoder(TransformerMixin, BaseEstimator):
    """Pretrain ``method`` on X without labels; transform X to frozen features (n, embed_dim).

    method: a registered method name (``priormatch.methods.METHODS``), e.g. "pmsn", "msn"; None:
        the data kind's recipe (:data:`priormatch.recipes.RECIPES`: series "ts2vec", images "pmsn").
    encoder: an encoder name, or None for the default of the data kind (series: "conv1d", or
        "series_transformer" for methods that mask patch tokens; images: "cnn", or "vit" for those
        methods). On series the conv1d encoder has the recipe's size (hidden 64, depth 10,
        embed_dim 320) unless ``encoder__*`` keys say otherwise.
    steps: optimizer steps; "auto": the recipe's (series: TS2Vec's 200, or 600 when X holds more
        than 100,000 values; images: 200).
    batch_size: global batch, capped at the number of samples; None: the recipe's (series 8, images 64).
    random_state: None, an int or a RandomState; seeds initialisation, views and data order.
    ema_momentum: start momentum of an EMA teacher (methods that have one: msn, pmsn, ...); "auto":
        :func:`short_run_momentum` (1 - 10 / steps), None: the method's recipe value (0.996, for long
        runs), or a number.
    device: "auto" | "cpu" | "cuda". num_threads: sets torch's CPU threads for the process (None: leave them).
    verbose: show a progress bar.
    layout: how X is stored: None (series (n, T) / (n, C, T), images (n, C, H, W)) or one of
        "NT", "NCT", "NTC", "NHW", "NCHW", "NHWC". check_layout: refuse implausible shapes (more
        channels than timepoints, ...); False accepts them.
    **params: further config values, ``section__key=value`` or a bare method/encoder field name.

    Learned: ``encoder_`` (the evaluation encoder, in eval mode), ``config_`` (the resolved
    :class:`RunConfig`), ``kind_``, ``layout_`` (the layout X was read in), ``input_shape_``
    (one sample as interpreted, (C, T) or (C, H, W)), ``n_channels_``, ``embed_dim_``,
    ``method_``, ``steps_``, ``batch_size_`` (as trained: the recipe's where not given), ``seed_``,
    ``training_metrics_`` (the logged records of metrics.jsonl).
    """

    def __init__(
        self,
        method: str | None = None,
        encoder: str | None = None,
        *,
        steps: int | str = "auto",
        batch_size: int | None = None,
        random_state: int | RandomState | None = None,
        ema_momentum: float | str | None = "auto",
        device: str = "auto",
        num_threads: int | None = None,
        verbose: bool = False,
        layout: str | None = None,
        check_layout: bool = True,
        **params: Any,
    ) -> None:
        self.method = method
        self.encoder = encoder
        self.steps = steps
        self.batch_size = batch_size
        self.random_state = random_state
        self.ema_momentum = ema_momentum
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose
        self.layout = layout
        self.check_layout = check_layout
        for key, value in params.items():
            setattr(self, key, value)

    # --- scikit-learn parameter protocol (explicit arguments + the **params config values) ---

    def _config_param_names(self) -> list[str]:
        explicit = set(self._get_param_names())
        return sorted(key for key in vars(self) if key not in explicit and not key.endswith("_") and not key.startswith("_"))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update({key: getattr(self, key) for key in self._config_param_names()})
        return params

    def set_params(self, **params: Any) -> SSLEncoder:
        for key, value in params.items():
            if not key.isidentifier() or key.endswith("_") or key.startswith("_"):
                raise PriormatchError(f"SSLEncoder.set_params: {key!r} is not a parameter name; use e.g. method__tau")
            setattr(self, key, value)
        return self

    # --- fit / transform ---

    def fit(self, X: Any, y: Any = None) -> SSLEncoder:
        """Pretrain on X (labels ``y``, one per sample when given, are not used: the training is
        self-supervised); returns self."""
        x, kind, layout = _as_inputs(X, "fit", self._layout_request())
        _check_labels(y, len(x))
        if len(x) < 2:
            raise PriormatchError(f"SSLEncoder.fit: X has {len(x)} sample; pretraining needs at least 2")
        self.seed_ = _seed(self.random_state)
        self._take_recipe(kind, x)
        config = self._resolve_config(kind)
        data = _in_memory_data(x)
        method = build_model(config, data)
        with tempfile.TemporaryDirectory(prefix="priormatch-sslencoder-") as folder:
            run = train(config, RunDirectory(Path(folder)), prepared=(data, method))
            self.training_metrics_ = run.read_metrics()
        self.encoder_ = method.evaluation_encoder().cpu().eval()
        self.views_ = make_views(config, data.train, self.encoder_)
        self.config_ = config
        self.kind_: Kind = kind
        self.layout_ = layout
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        self.n_channels_ = self.input_shape_[0]
        self.embed_dim_ = int(cast("Encoder", self.encoder_).embed_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(n, embed_dim) float32 finite features of X under the frozen evaluation encoder."""
        check_is_fitted(self, "encoder_")
        x, kind, _ = _as_inputs(X, "transform", self._layout_request())
        if kind != self.kind_:
            raise PriormatchError(f"SSLEncoder.transform: X holds {kind}s {x.shape} but the encoder was fitted on {self.kind_}s")
        if x.shape[1] != self.n_channels_:
            raise PriormatchError(f"SSLEncoder.transform: X has {x.shape[1]} channels but the encoder was fitted on {self.n_channels_}")
        device = resolve_device(self.config_.train.device)
        return extract_features(
            self.encoder_.to(device),
            x,
            batch_size=self.config_.eval.batch_size,
            transform=self.views_.evaluation_view,
            device=device,
        )

    def _layout_request(self) -> LayoutRequest:
        """The ``layout`` / ``check_layout`` arguments; errors name them as arguments."""
        try:
            return LayoutRequest(self.layout, bool(self.check_layout), "layout", "check_layout=False")
        except PriormatchError as error:
            raise PriormatchError(f"SSLEncoder: {error}") from None

    def _take_recipe(self, kind: Kind, x: np.ndarray) -> None:
        """``method_``, ``steps_`` and ``batch_size_``: the arguments, or the kind's recipe where they
        are None / "auto" (:data:`priormatch.recipes.RECIPES`); the batch is capped at len(x)."""
        recipe = RECIPES[kind]
        self.method_ = recipe.method if self.method is None else self.method
        self.steps_ = recipe.steps(x) if isinstance(self.steps, str) and self.steps == "auto" else _as_int(self.steps)
        batch_size = recipe.batch_size if self.batch_size is None else _as_int(self.batch_size)
        self.batch_size_ = min(batch_size, len(x)) if isinstance(batch_size, int) else batch_size

    def _resolve_config(self, kind: Kind) -> RunConfig:
        """The run config: typed defaults for ``kind`` (with the recipe's conv1d size,
        :func:`priormatch.training.config.resolve_config`), then the estimator's arguments and
        **params (after :meth:`_take_recipe`)."""
        sections: dict[str, dict[str, Any]] = {
            "method": {"name": self.method_},
            "encoder": {"name": self._encoder_name(kind)},
            "train": {
                "steps": self.steps_,
                "batch_size": self.batch_size_,
                "device": self.device,
                "num_threads": self.num_threads,
                "progress": bool(self.verbose),
                "checkpoint_every": max(self.steps_, 1) if isinstance(self.steps_, int) else 1,
            },
        }
        momentum = self._ema_momentum()
        if momentum is not None:
            sections["method"]["ema_momentum"] = momentum
        for key in self._config_param_names():
            section, field = self._route(key, kind)
            sections.setdefault(section, {})[field] = getattr(self, key)
        raw = OmegaConf.create({"seed": self.seed_, "data": {"name": "SSLEncoder.fit"}, **sections})
        return resolve_config(raw, data_kind=lambda _: kind)

    def _ema_momentum(self) -> float | None:
        """The teacher's start momentum to set, or None (no teacher, or the method's own value)."""
        if self.ema_momentum is None:
            return None
        fields = {f.name for f in dataclasses.fields(method_spec(self.method_).config_type)}
        if "ema_momentum" not in fields:
            return None  # a method without an EMA teacher
        if self.ema_momentum == "auto":
            if not isinstance(self.steps_, int) or self.steps_ < 1:
                return None  # resolve_config names the bad train.steps
            return short_run_momentum(self.steps_)
        return self.ema_momentum  # type: ignore[return-value]

    def _route(self, key: str, kind: Kind) -> tuple[str, str]:
        """``section__field`` -> (section, field); a bare field goes to the method or the encoder config."""
        section, sep, field = key.partition("__")
        if sep:
            if section not in SECTIONS or not field:
                raise PriormatchError(
                    f"SSLEncoder: parameter {key!r} names no config section; use one of {', '.join(s + '__KEY' for s in SECTIONS)}"
                )
            if f"{section}.{field}" in OWN_KEYS:
                raise PriormatchError(f"SSLEncoder: pass {key!r} as the argument {OWN_KEYS[section + '.' + field]}=")
            return section, field
        encoder_name = self._encoder_name(kind)
        sections = (("method", method_spec(self.method_).config_type), ("encoder", ENCODERS[encoder_name].config_type))
        owners = [name for name, config_type in sections if key != "name" and key in {f.name for f in dataclasses.fields(config_type)}]
        if len(owners) != 1:
            problem = "is a field of both the method and the encoder config" if owners else "is not a known parameter"
            raise PriormatchError(
                f"SSLEncoder: {key!r} {problem} (method {self.method_!r}, encoder {encoder_name!r}); "
                "write section__key, e.g. method__tau or encoder__hidden"
            )
        return owners[0], key

    def _encoder_name(self, kind: Kind) -> str:
        """The ``encoder`` argument, or the data kind's default for the method."""
        name = self.encoder or method_spec(self.method_).default_encoder(kind)
        if name not in ENCODERS:
            raise PriormatchError(f"SSLEncoder: unknown encoder {name!r}; use one of {', '.join(ENCODERS)}")
        return name


def _as_int(value: Any) -> Any:
    """NumPy and other integral values as int (so the config accepts them); anything else unchanged."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def _seed(random_state: int | RandomState | None) -> int:
    """The run seed: an int is used as is (like ``priormatch train seed=...``), else drawn from the state."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if not 0 <= random_state <= SEED_LIMIT:
            raise PriormatchError(f"SSLEncoder: random_state={random_state} must lie in [0, {SEED_LIMIT}]")
        return int(random_state)
    return int(check_random_state(random_state).randint(SEED_LIMIT))


def _in_memory_data(x: np.ndarray) -> PretrainingData:
    """Unlabelled inputs as a one-class data set whose whole train split is the pretraining set."""
    arrays = LabeledArrays(x, np.zeros(len(x), dtype=np.int64), ("unlabelled",))
    return PretrainingData(DatasetSplits("SSLEncoder.fit", arrays, arrays), np.arange(len(x)), np.zeros(1, dtype=np.int64))


def _check_labels(y: Any, n_samples: int) -> None:
    """``y`` (unused by the training) must be None or one label per sample, so a mismatched pair fails."""
    if y is None:
        return
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_samples:
        raise PriormatchError(
            f"SSLEncoder.fit: y has shape {labels.shape} but X has {n_samples} samples; pass one label per sample or y=None"
        )


def _as_inputs(X: Any, where: str, request: LayoutRequest) -> tuple[np.ndarray, Kind, str]:
    """Validated float32 inputs in priormatch's layout, their kind and the layout X was read in:
    series (n, C, T) (from (n, T), (n, C, T) or a ``request``-ed layout) or images (n, C, H, W)."""
    x = np.asarray(X)
    kind: Kind = request.kind or ("image" if x.ndim == 4 else "series")
    if x.ndim == 0 or 0 in x.shape or (request.layout is None and x.ndim not in (2, 3, 4)):
        raise PriormatchError(
            f"SSLEncoder.{where}: X has shape {x.shape}; expected series (n, T) or (n, channels, T) "
            "or images (n, channels, height, width), none empty (other layouts: layout='NTC', 'NHWC', 'NHW')"
        )
    layout = resolve_layout(x.shape, kind, request, f"SSLEncoder.{where}: X")
    stored_shape, x = x.shape, to_standard(x, layout)
    check_plausible(x.shape[1:], layout, request, f"SSLEncoder.{where}: X {stored_shape}")
    if x.dtype == np.uint8 and layout_kind(layout) == "image":
        x = x / 255.0
    try:
        x = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise PriormatchError(f"SSLEncoder.{where}: X has dtype {x.dtype}, not numbers; pass a numeric array") from None
    if np.isinf(x).any():
        raise PriormatchError(f"SSLEncoder.{where}: X contains Inf; replace it or mark the value missing with NaN")
    missing = np.isnan(x).reshape(len(x), -1)
    if kind == "image" and missing.any():
        raise PriormatchError(f"SSLEncoder.{where}: image {int(np.flatnonzero(missing.any(axis=1))[0])} contains NaN")
    if missing.all(axis=1).any():
        index = int(np.flatnonzero(missing.all(axis=1))[0])
        raise PriormatchError(f"SSLEncoder.{where}: series {index} of X is entirely NaN; drop all-missing series")
    return x, kind, layout
