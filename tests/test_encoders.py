"""Encoder contract tests, parametrised over the registry (a new encoder is tested for free),
plus the token API of transformers, masking helpers and error messages."""

from __future__ import annotations

import math

import pytest
import torch

from priormatch.encoders import (
    ENCODERS,
    ConvNet2d,
    DilatedConvNet1d,
    Encoder,
    ImagePatchStem,
    SeriesPatchStem,
    TokenEncoder,
    TransformerBlock,
    TransformerEncoder,
    build_encoder,
    default_encoder,
    mask_input_patches,
    mask_input_segments,
    random_keep_indices,
)
from priormatch.encoders.masking import num_kept, with_observed_mask
from priormatch.errors import PriormatchError

BATCH = 4
INPUT_SHAPES = {"image": (2, 28, 28), "series": (2, 64)}
FOCAL_SHAPES = {"image": (2, 14, 14), "series": (2, 20)}  # 20: not a multiple of the patch length
NAMES = sorted(ENCODERS)
SERIES_NAMES = [name for name in NAMES if "series" in ENCODERS[name].kinds]
TOKEN_NAMES = ["vit", "series_transformer"]


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny batches gain nothing from threads, and on a shared CPU OpenMP threads spin-wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def kind_of(name: str) -> str:
    return ENCODERS[name].kinds[0]


def make(name: str, *, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_encoder(ENCODERS[name].config_type(), INPUT_SHAPES[kind_of(name)])


def batch(name: str, shape: tuple[int, ...] | None = None, *, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, *(shape or INPUT_SHAPES[kind_of(name)]), generator=g)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_loss(out: torch.Tensor) -> torch.Tensor:
    # a random projection: out.sum() would give zero gradient through a final LayerNorm
    return (out * torch.randn(out.shape, generator=gen(5))).sum()


# --- the contract, for every registered encoder ---------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_config_name_matches_registry(name: str) -> None:
    assert ENCODERS[name].config_type().name == name


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_finite_and_protocol(name: str) -> None:
    enc = make(name)
    assert isinstance(enc, Encoder)
    assert isinstance(enc, TokenEncoder) == enc.supports_token_masking
    out = enc(batch(name))
    assert out.shape == (BATCH, enc.embed_dim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("mask_ratio", [0.0, 0.5])
@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name: str, mask_ratio: float) -> None:
    enc = make(name)
    random_loss(enc(batch(name), mask_ratio=mask_ratio, generator=gen())).backward()
    for pname, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_masking_deterministic_under_generator(name: str) -> None:
    enc = make(name).eval()
    x = batch(name)
    a = enc(x, mask_ratio=0.5, generator=gen(3))
    b = enc(x, mask_ratio=0.5, generator=gen(3))
    c = enc(x, mask_ratio=0.5, generator=gen(4))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a, enc(x))


@pytest.mark.parametrize("name", NAMES)
def test_no_mask_draws_nothing(name: str) -> None:
    enc = make(name).eval()
    g = gen(3)
    state = g.get_state()
    torch.testing.assert_close(enc(batch(name), generator=g), enc(batch(name)), rtol=0, atol=0)
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize("name", NAMES)
def test_focal_views_work(name: str) -> None:
    enc = make(name)
    out = enc(batch(name, FOCAL_SHAPES[kind_of(name)]), mask_ratio=0.3, generator=gen())
    assert out.shape == (BATCH, enc.embed_dim) and torch.isfinite(out).all()
    bigger = tuple(2 * s if i else s for i, s in enumerate(INPUT_SHAPES[kind_of(name)]))
    assert torch.isfinite(enc(batch(name, bigger))).all()


@pytest.mark.parametrize("name", NAMES)
def test_invalid_mask_ratio(name: str) -> None:
    with pytest.raises(PriormatchError, match="mask_ratio"):
        make(name)(batch(name), mask_ratio=1.0)


@pytest.mark.parametrize("name", SERIES_NAMES)
def test_nan_series_give_finite_embeddings_and_use_the_mask(name: str) -> None:
    enc = make(name)
    x = batch(name)
    x[:, :, 40:] = math.nan  # padding of shorter series
    x[0, 1, 5:9] = math.nan  # a gap in one channel
    x[1] = math.nan  # nothing observed at all
    out = enc(x, mask_ratio=0.25, generator=gen())
    assert torch.isfinite(out).all()
    random_loss(out).backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters())
    # the observed mask matters: NaN is not the same as an observed 0
    with torch.no_grad():
        assert not torch.allclose(enc(x), enc(torch.nan_to_num(x, nan=0.0)))


# --- registry -----------------------------------------------------------------------------


def test_defaults_and_kind_errors() -> None:
    assert default_encoder("image") == "cnn"
    assert default_encoder("series") == "conv1d"
    assert default_encoder("image", tokens=True) == "vit"
    assert default_encoder("series", tokens=True) == "series_transformer"
    with pytest.raises(PriormatchError, match="valid encoders for series: conv1d, series_transformer"):
        build_encoder(ENCODERS["vit"].config_type(), (1, 64))
    with pytest.raises(PriormatchError, match="valid encoders for image: cnn, vit"):
        build_encoder(ENCODERS["conv1d"].config_type(), (1, 28, 28))
    with pytest.raises(PriormatchError, match="input_shape"):
        build_encoder(ENCODERS["vit"].config_type(), (1, 1, 28, 28))


# --- memory layout of the CNN ---------------------------------------------------------------


def test_cnn_channels_last_matches_contiguous() -> None:
    """channels_last (the default) holds its 4-D weights in that layout and gives the contiguous
    network's output and gradients, for inputs in either layout."""
    torch.manual_seed(0)
    fast, plain = ConvNet2d(2, widths=(8, 16), strides=(1, 2, 2)), ConvNet2d(2, widths=(8, 16), strides=(1, 2, 2), channels_last=False)
    plain.load_state_dict(fast.state_dict())
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in fast.parameters() if p.dim() == 4)
    assert all(p.is_contiguous() for p in plain.parameters())
    x = torch.randn(BATCH, 2, 28, 28)
    for net, inputs in ((fast, x), (fast, x.contiguous(memory_format=torch.channels_last)), (plain, x)):
        net.zero_grad()
        out = net(inputs)
        out.square().sum().backward()
        torch.testing.assert_close(out, plain(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fast.layers[0][0].weight.grad, plain.layers[0][0].weight.grad, rtol=1e-4, atol=1e-4)


# --- transformer token API ----------------------------------------------------------------


@pytest.mark.parametrize("name", TOKEN_NAMES)
def test_tokens_encode_patchify_shapes(name: str) -> None:
    enc = make(name)
    x = batch(name)
    t = enc.num_patches(tuple(x.shape))
    tokens = enc.tokens(x)
    assert tokens.shape == (BATCH, t, enc.embed_dim)
    assert enc.patchify(x).shape == (BATCH, t, enc.patch_dim)
    out, layers = enc.encode(tokens, return_layers=True)
    assert out.shape == (BATCH, 1 + t, enc.embed_dim)
    assert len(layers) == len(enc.blocks) and all(h.shape == out.shape for h in layers)
    torch.testing.assert_close(enc.norm(layers[-1]), out)
    torch.testing.assert_close(enc(x), out[:, 0])


@pytest.mark.parametrize("name", TOKEN_NAMES)
def test_replace_uses_mask_token_and_keeps_positions(name: str) -> None:
    enc = make(name)
    x = batch(name)
    mask_token = torch.randn(enc.embed_dim, generator=gen(2))
    replace = torch.zeros(BATCH, enc.num_patches(tuple(x.shape)), dtype=torch.bool)
    replace[:, 1] = True
    replace[0, 0] = True
    plain, replaced = enc.tokens(x), enc.tokens(x, replace=replace, mask_token=mask_token)
    torch.testing.assert_close(replaced[~replace], plain[~replace])
    positions = enc.positions(x)
    torch.testing.assert_close(replaced[:, 1], (mask_token + positions[1]).expand(BATCH, -1))
    torch.testing.assert_close(replaced[0, 0], mask_token + positions[0])
    with pytest.raises(PriormatchError, match="mask_token"):
        enc.tokens(x, replace=replace)


@pytest.mark.parametrize("name", TOKEN_NAMES)
def test_dropping_equals_encoding_gathered_tokens(name: str) -> None:
    enc = make(name)
    x = batch(name)
    tokens = enc.tokens(x)
    keep = random_keep_indices(BATCH, tokens.shape[1], 0.5, gen(7))
    gathered = torch.stack([tokens[i, keep[i]] for i in range(BATCH)])
    torch.testing.assert_close(enc.encode(tokens, keep=keep), enc.encode(gathered))
    # forward with a mask ratio drops exactly these tokens (same generator draws)
    torch.testing.assert_close(enc(x, mask_ratio=0.5, generator=gen(7)), enc.encode(gathered)[:, 0])


@pytest.mark.parametrize("name", TOKEN_NAMES)
def test_mask_ratio_reduces_token_count(name: str) -> None:
    enc = make(name)
    x = batch(name)
    seen: list[int] = []
    enc.blocks[0].register_forward_hook(lambda module, args, out: seen.append(out.shape[1]))
    enc(x)
    enc(x, mask_ratio=0.75, generator=gen())
    t = enc.num_patches(tuple(x.shape))
    assert seen == [1 + t, 1 + num_kept(t, 0.75)]
    assert num_kept(t, 0.75) < t


def test_image_patchify_order_matches_pixels() -> None:
    # float64 so the conv-vs-matmul comparison is exact to rounding whatever the kernels and weights
    stem = ImagePatchStem(2, patch_size=7, embed_dim=8).double()
    x = torch.arange(2 * 28 * 28, dtype=torch.float64).view(1, 2, 28, 28)
    patches = stem.patchify(x)  # (1, 16, 98)
    torch.testing.assert_close(patches[0, 1], x[0, :, 0:7, 7:14].reshape(-1))  # row 0, col 1
    torch.testing.assert_close(patches[0, 4], x[0, :, 7:14, 0:7].reshape(-1))  # row 1, col 0
    # token i of forward is the conv of patch i
    flat = stem.proj.weight.view(8, -1)
    torch.testing.assert_close(stem(x)[0, 5], flat @ patches[0, 5] + stem.proj.bias)


def test_series_patchify_pads_with_nan() -> None:
    stem = SeriesPatchStem(2, patch_length=8, embed_dim=8)
    x = torch.rand(3, 2, 20)
    patches = stem.patchify(x)
    assert patches.shape == (3, 3, 16) and stem.num_patches(x.shape) == 3
    torch.testing.assert_close(patches[:, 1, :8], x[:, 0, 8:16])  # channel-major within a patch
    assert torch.isnan(patches[:, 2, 4:8]).all() and not torch.isnan(patches[:, 2, :4]).any()


def test_positions_are_fixed_and_grid_sized() -> None:
    stem = ImagePatchStem(1, patch_size=7, embed_dim=16)
    small, large = stem.positions(torch.zeros(1, 1, 14, 14)), stem.positions(torch.zeros(1, 1, 28, 28))
    assert small.shape == (4, 16) and large.shape == (16, 16)
    torch.testing.assert_close(small[:2], large[:2])  # same first-row positions
    assert len(list(stem.parameters())) == 2  # conv weight and bias only


# --- masking helpers ------------------------------------------------------------------------


def test_random_keep_indices_sorted_unique_and_rounded() -> None:
    keep = random_keep_indices(64, 16, 0.15, gen())
    assert keep.shape == (64, 14)  # round(2.4) = 2 dropped
    assert (keep.diff(dim=1) > 0).all() and keep.min() >= 0 and keep.max() < 16
    assert num_kept(16, 0.75) == 4 and num_kept(3, 0.5) == 1 and num_kept(1, 0.99) == 1
    assert num_kept(16, 0.0) == 16


def test_mask_input_patches_hides_the_rounded_share() -> None:
    x = torch.ones(5, 3, 28, 28)
    masked = mask_input_patches(x, 0.5, 4, gen())
    assert ((masked == 0).sum(dim=(1, 2, 3)) == 3 * 16 * 25).all()  # round(24.5) of 49 cells
    assert mask_input_patches(x, 0.0, 4) is x


def test_mask_input_segments_marks_missing() -> None:
    x = torch.ones(5, 2, 60)
    masked = mask_input_segments(x, 0.25, 8, gen())  # 8 segments (last one 4 long), 2 hidden
    hidden = torch.isnan(masked[:, 0])
    assert torch.equal(hidden, torch.isnan(masked[:, 1]))
    assert ((hidden.sum(dim=1) == 16) | (hidden.sum(dim=1) == 12)).all()


def test_with_observed_mask() -> None:
    x = torch.tensor([[[1.0, math.nan, 3.0], [math.nan, math.nan, 2.0]]])
    z = with_observed_mask(x)
    torch.testing.assert_close(z, torch.tensor([[[1.0, 0.0, 3.0], [0.0, 0.0, 2.0], [0.5, 0.0, 1.0]]]))


# --- argument errors ------------------------------------------------------------------------


def test_constructor_errors_name_the_argument() -> None:
    with pytest.raises(PriormatchError, match="heads"):
        TransformerBlock(10, heads=3)
    with pytest.raises(PriormatchError, match="kernel"):
        DilatedConvNet1d(1, kernel=4)
    with pytest.raises(PriormatchError, match="strides"):
        ConvNet2d(1, widths=(8, 8), strides=(1, 2))
    with pytest.raises(PriormatchError, match="embed_dim"):
        ImagePatchStem(1, patch_size=7, embed_dim=10)
    with pytest.raises(PriormatchError, match="embed_dim"):
        TransformerEncoder(ImagePatchStem(1, patch_size=7, embed_dim=16), embed_dim=32, depth=1, heads=1)
    with pytest.raises(PriormatchError, match="depth"):
        TransformerEncoder(ImagePatchStem(1, patch_size=7, embed_dim=16), embed_dim=16, depth=0, heads=1)


def test_input_size_errors_name_the_sizes() -> None:
    vit = make("vit")
    with pytest.raises(PriormatchError, match=r"12x12 is not divisible by patch_size=7.*14x14"):
        vit(torch.rand(2, 2, 12, 12))
    with pytest.raises(PriormatchError, match="series length 5 is shorter than patch_length=8"):
        make("series_transformer")(torch.rand(2, 2, 5))
    with pytest.raises(PriormatchError, match="at least 8x8"):
        make("cnn")(torch.rand(2, 2, 6, 6))
    with pytest.raises(PriormatchError, match="in_channels=2"):
        vit(torch.rand(2, 3, 28, 28))
    # conv1d accepts series much shorter than its receptive field
    conv = make("conv1d")
    assert conv.receptive_field == 1 + 2 * 2 * (2**conv.depth - 1)
    assert torch.isfinite(conv(torch.rand(2, 2, 3))).all()
