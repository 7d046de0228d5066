"""Array layouts of user data (data.layout, SSLEncoder(layout=...)): explicit, checked, never guessed.

Acceptance of issue #14, item 2: the same multichannel series stored (n, C, T) and (n, T, C) with
data.layout=NTC give the same interpreted shape and the same first loss; (n, T, C) without a
layout is an error naming data.layout=NTC, never read as T channels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import SMALL_SERIES_MODEL
from priormatch import PriormatchError, SSLEncoder
from priormatch.cli import main
from priormatch.data import load_dataset
from priormatch.data.layouts import LayoutRequest, check_plausible, interpretation, resolve_layout, to_standard
from priormatch.data.memmap_arrays import load_memmap_folder
from priormatch.data.series_sources import load_npy_source
from priormatch.data.user_arrays import load_npz

ONE_STEP = ["train.steps=1", "train.batch_size=8", "train.progress=false", "train.log_every=1", "train.num_threads=1"]


def sensor_series(n: int = 40, channels: int = 3, length: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(n, C, T) float32 series and labels cycling through 4 classes."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, channels, length)).astype(np.float32), np.arange(n) % 4


def train_once(tmp_path: Path, name: str, x: np.ndarray, y: np.ndarray, *extra: str) -> tuple[dict, dict, str]:
    """Train one step on an npz of (x, y); returns data.json, the first metrics record and stdout lines."""
    path = tmp_path / f"{name}.npz"
    np.savez(path, X=x, y=y, kind="series")
    out = tmp_path / f"run-{name}"
    code = main(["train", "data.name=npz", f"data.path={path}", *SMALL_SERIES_MODEL, *ONE_STEP, *extra, "--out", str(out)])
    assert code == 0
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    return json.loads((out / "data.json").read_text()), first, str(out)


def test_channels_last_series_with_layout_ntc_train_exactly_like_channels_first(tmp_path, capsys):
    x, y = sensor_series()
    summary_nct, first_nct, _ = train_once(tmp_path, "nct", x, y)
    summary_ntc, first_ntc, _ = train_once(tmp_path, "ntc", np.transpose(x, (0, 2, 1)).copy(), y, "data.layout=NTC")
    assert summary_nct["input_shape"] == summary_ntc["input_shape"] == [3, 32]
    assert (summary_nct["layout"], summary_ntc["layout"]) == ("NCT", "NTC")
    assert first_nct["loss"] == first_ntc["loss"]
    printed = capsys.readouterr().out
    assert "stored NTC (n, T=32, C=3), read as (n, C=3, T=32)" in printed  # the interpretation, at the start


def test_channels_last_series_without_layout_is_an_error_naming_the_layout(tmp_path, capsys):
    x, y = sensor_series()
    path = tmp_path / "sensors.npz"
    np.savez(path, X=np.transpose(x, (0, 2, 1)), y=y, kind="series")
    code = main(["train", "data.name=npz", f"data.path={path}", *SMALL_SERIES_MODEL, *ONE_STEP, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "32 channels of 3 timepoints" in err and "data.layout=NTC" in err and "data.check_layout=false" in err
    assert not (tmp_path / "run").exists()


def test_explicit_layout_that_is_implausible_is_an_error_and_check_layout_false_accepts_it(tmp_path):
    x, y = sensor_series()
    path = tmp_path / "sensors.npz"
    np.savez(path, X=x, y=y, kind="series")
    with pytest.raises(PriormatchError, match=r"read as NTC .*32 channels of 3 timepoints.*data\.layout=NCT"):
        load_npz(path, layout=LayoutRequest("NTC"))
    splits = load_npz(path, layout=LayoutRequest("NTC", check=False))  # the user says so
    assert splits.train.input_shape == (32, 3)


def test_channels_last_images_read_with_nhwc_and_refused_without(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 1, 8, 8), dtype=np.uint8)
    y = np.arange(20) % 2
    np.savez(tmp_path / "nchw.npz", X=images, y=y)
    np.savez(tmp_path / "nhwc.npz", X=np.transpose(images, (0, 2, 3, 1)), y=y)
    reference = load_npz(tmp_path / "nchw.npz")
    channels_last = load_npz(tmp_path / "nhwc.npz", layout=LayoutRequest("NHWC"))
    assert channels_last.layout == "NHWC" and channels_last.train.x.flags.c_contiguous
    np.testing.assert_array_equal(reference.train.x, channels_last.train.x)
    with pytest.raises(PriormatchError, match=r"8-channel images of 8x1.*data\.layout=NHWC"):
        load_npz(tmp_path / "nhwc.npz")


def test_layout_resolves_the_kind_of_a_3d_array_and_mismatches_are_errors(tmp_path):
    np.savez(tmp_path / "grey.npz", X=np.zeros((10, 6, 6)), y=np.arange(10) % 2)
    assert load_npz(tmp_path / "grey.npz", layout=LayoutRequest("NHW")).train.input_shape == (1, 6, 6)
    np.savez(tmp_path / "tagged.npz", X=np.zeros((10, 6, 6)), y=np.arange(10) % 2, kind="image")
    with pytest.raises(PriormatchError, match=r"kind='image' but data\.layout=NCT is a series layout"):
        load_npz(tmp_path / "tagged.npz", layout=LayoutRequest("NCT"))
    with pytest.raises(PriormatchError, match=r"\(10, 6, 6\) \(3 axes\) but data\.layout=NCHW has 4"):
        load_npz(tmp_path / "grey.npz", layout=LayoutRequest("NCHW"))
    with pytest.raises(PriormatchError, match=r"data\.layout='NCWH' is not a layout; use one of NT, NCT, NTC"):
        LayoutRequest("NCWH")


def test_series_npy_and_memmap_folders_read_channels_last(tmp_path):
    x, y = sensor_series()
    channels_last = np.ascontiguousarray(np.transpose(x, (0, 2, 1)))
    for name, array in (
        ("X_train.npy", channels_last[:30]),
        ("y_train.npy", y[:30]),
        ("X_test.npy", channels_last[30:]),
        ("y_test.npy", y[30:]),
    ):
        np.save(tmp_path / name, array)
    in_memory = load_npy_source(str(tmp_path), LayoutRequest("NTC"))
    mapped = load_memmap_folder(str(tmp_path), LayoutRequest("NTC"))
    assert in_memory.layout == mapped.layout == "NTC"
    np.testing.assert_array_equal(in_memory.train.x, x[:30])
    np.testing.assert_array_equal(np.asarray(mapped.test.x), x[30:])
    assert isinstance(mapped.train.x.base, np.memmap) or isinstance(mapped.train.x, np.memmap)  # a view, not a copy
    with pytest.raises(PriormatchError, match="data.layout=NTC"):
        load_npy_source(str(tmp_path))
    with pytest.raises(PriormatchError, match="data.layout=NTC"):
        load_memmap_folder(str(tmp_path))


def test_layout_is_refused_for_sources_that_define_their_own(tmp_path):
    with pytest.raises(PriormatchError, match=r"data\.layout=NTC applies to array files .*'digits' defines its own layout"):
        load_dataset("digits", None, LayoutRequest("NTC"))
    with pytest.raises(PriormatchError, match=r"data\.layout=NCT applies to array files"):
        load_dataset("regimes:seed=1", None, LayoutRequest("NCT"))


def test_layout_helpers_on_shapes():
    request = LayoutRequest()
    assert [
        resolve_layout(shape, kind, request, "x")
        for shape, kind in (((5, 9), "series"), ((5, 2, 9), "series"), ((5, 4, 4), "image"), ((5, 1, 4, 4), "image"))
    ] == ["NT", "NCT", "NHW", "NCHW"]
    assert to_standard(np.zeros((5, 9, 2)), "NTC").shape == (5, 2, 9)
    assert to_standard(np.zeros((5, 4, 6, 3)), "NHWC").shape == (5, 3, 4, 6)
    check_plausible((64, 8, 8), "NCHW", LayoutRequest(check=False), "x")  # accepted when asked
    check_plausible((4, 2, 2), "NCHW", request, "x")  # RGBA of tiny images is plausible
    assert interpretation("NT", (1, 9)) == "stored NT (n, T=9), read as (n, C=1, T=9)"


def test_sslencoder_layout_reads_channels_last_and_refuses_it_without():
    x, _ = sensor_series(n=12, length=16)
    tiny = dict(
        method="simclr",
        steps=1,
        batch_size=4,
        random_state=0,
        encoder__hidden=8,
        encoder__depth=1,
        encoder__embed_dim=16,
        projection_hidden=16,
        projection_dim=8,
    )
    reference = SSLEncoder(**tiny).fit(x)
    channels_last = SSLEncoder(layout="NTC", **tiny).fit(np.transpose(x, (0, 2, 1)))
    assert channels_last.input_shape_ == reference.input_shape_ == (3, 16) and channels_last.layout_ == "NTC"
    np.testing.assert_array_equal(reference.transform(x), channels_last.transform(np.transpose(x, (0, 2, 1))))
    with pytest.raises(PriormatchError, match=r"SSLEncoder\.fit: X \(12, 16, 3\).*16 channels of 3 timepoints.*layout=NTC"):
        SSLEncoder(**tiny).fit(np.transpose(x, (0, 2, 1)))
    with pytest.raises(PriormatchError, match=r"SSLEncoder: layout='TNC' is not a layout"):
        SSLEncoder(layout="TNC", **tiny).fit(x)


def test_sslencoder_checks_the_length_of_y():
    x, _ = sensor_series(n=12, length=16)
    with pytest.raises(PriormatchError, match=r"SSLEncoder\.fit: y has shape \(11,\) but X has 12 samples"):
        SSLEncoder(steps=1).fit(x, np.zeros(11))


def test_the_sensor_example_of_the_docs_runs_as_written(tmp_path, monkeypatch):
    """docs/your_data.md: its first code block writes sensors.npz; the quoted error is the real one."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "your_data.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    quoted_error = next(line for line in doc.splitlines() if line.startswith("priormatch: error: sensors.npz"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "your_data.md", "exec"), {})
    assert load_npz("sensors.npz", layout=LayoutRequest("NTC")).train.input_shape == (3, 64)
    with pytest.raises(PriormatchError) as error:
        load_npz("sensors.npz")
    assert f"priormatch: error: {error.value}" == quoted_error
