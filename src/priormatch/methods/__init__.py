"""Method registry: ``METHODS[name]`` gives a method's config type and builder.

Every method wraps an encoder of the encoder contract and follows :class:`SSLMethod`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from priormatch.encoders import default_encoder
from priormatch.errors import PriormatchError
from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.methods.data2vec import Data2VecConfig, build_data2vec
from priormatch.methods.jepa import JEPAConfig, build_jepa
from priormatch.methods.mae import MAEConfig, build_mae
from priormatch.methods.msn import MSNConfig, PMSNConfig, build_msn
from priormatch.methods.simclr import SimCLRConfig, build_simclr
from priormatch.methods.swav import SwAVConfig, build_swav
from priormatch.methods.ts2vec import TS2VecConfig, build_ts2vec
from priormatch.methods.vicreg import VICRegConfig, build_vicreg

if TYPE_CHECKING:
    from priormatch.data.arrays import Kind


@dataclass(frozen=True)
class MethodSpec:
    config_type: type
    build: Callable[[Any, nn.Module, DataInfo], SSLMethod]
    needs_token_encoder: bool = False  # masking methods need a transformer (their default encoder) ...
    accepts_timestamp_encoder: bool = False  # ... or, if True, also the per-timestamp conv net (conv1d)

    def default_encoder(self, kind: Kind) -> str:
        """The encoder when none is configured: the data kind's default, a transformer for methods
        that need tokens; but on series a method that also takes the per-timestamp conv net (JEPA)
        gets the series recipe's conv1d, on which it learns more than on the transformer (UCR,
        docs/time_series.md)."""
        tokens = self.needs_token_encoder and not (kind == "series" and self.accepts_timestamp_encoder)
        return default_encoder(kind, tokens=tokens)


METHODS: dict[str, MethodSpec] = {
    "msn": MethodSpec(MSNConfig, build_msn),
    "pmsn": MethodSpec(PMSNConfig, build_msn),
    "simclr": MethodSpec(SimCLRConfig, build_simclr),
    "vicreg": MethodSpec(VICRegConfig, build_vicreg),
    "swav": MethodSpec(SwAVConfig, build_swav),
    "mae": MethodSpec(MAEConfig, build_mae, needs_token_encoder=True),
    "data2vec": MethodSpec(Data2VecConfig, build_data2vec, needs_token_encoder=True),
    # series (time blocks) or images (2-D blocks); on conv1d the per-timestamp variant (methods/timestamp_jepa.py)
    "jepa": MethodSpec(JEPAConfig, build_jepa, needs_token_encoder=True, accepts_timestamp_encoder=True),
    "ts2vec": MethodSpec(TS2VecConfig, build_ts2vec),  # series only, per-timestamp encoder (conv1d)
}


def method_spec(name: str) -> MethodSpec:
    if name not in METHODS:
        raise PriormatchError(f"unknown method {name!r}; set method.name to one of: {', '.join(METHODS)}")
    return METHODS[name]


def build_method(config: Any, encoder: nn.Module, data: DataInfo) -> SSLMethod:
    """The method named by ``config.name`` around ``encoder``."""
    spec = method_spec(config.name)
    timestamps = spec.accepts_timestamp_encoder and callable(getattr(encoder, "timestamps", None))
    if spec.needs_token_encoder and not (getattr(encoder, "supports_token_masking", False) or timestamps):
        also = " or encoder.name=conv1d" if spec.accepts_timestamp_encoder else ""
        raise PriormatchError(
            f"method {config.name!r} masks patch tokens and needs a transformer encoder; "
            f"set encoder.name=vit (images) or encoder.name=series_transformer (series){also}"
        )
    return spec.build(config, encoder, data)


__all__ = ["METHODS", "DataInfo", "MethodOutput", "MethodSpec", "SSLMethod", "ViewSpec", "build_method", "method_spec"]
