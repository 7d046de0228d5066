"""Fuzz suite of bad inputs: every one is a one-line error, exit status 2, and writes nothing.

Each case builds its inputs in a fresh directory (the test's own files are allowed), snapshots the
directory tree, runs ``priormatch.cli.main`` in process there and checks the contract:

* the return code is 2;
* stderr is exactly one line, starting with ``priormatch: error:``, without a traceback;
* no file or directory was created, removed or modified (no half-written run directory); an
  existing run's lock file may be rewritten by taking the lock.

The cases cover the CLI keys of every sub-command, ``--config`` files, user data files (images and
series), run directories and checkpoints. A small property-based layer (hypothesis) draws invalid
numbers for the numeric train keys.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priormatch.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny" / "pmsn.yaml"
SMALL_SERIES_MODEL = ["method.name=simclr", "method.projection_hidden=16", "method.projection_dim=8", "encoder.depth=1"]
FAST_TRAIN = ["train.steps=1", "train.batch_size=8", "train.progress=false"]

LOCK_FILE = ".lock"  # a run's lock file: taking the lock may rewrite it, it never holds results
Setup = Callable[[Path, Path], list[str]]  # (case directory, a finished tiny run to copy) -> argv


# ---------------------------------------------------------------- the contract


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (directories: 0, 0)."""
    state = {}
    for path in root.rglob("*"):
        info = path.stat()
        state[str(path.relative_to(root))] = (0, 0) if path.is_dir() else (info.st_size, info.st_mtime_ns)
    return state


def assert_clean_error(root: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv`` in ``root``; assert exit 2, one ``priormatch: error:`` line and no written file."""
    before = snapshot(root)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, f"exit status {code}; stderr: {captured.err}"
    assert len(lines) == 1 and lines[0].startswith("priormatch: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    after = snapshot(root)
    created = sorted(set(after) - set(before))
    changed = sorted(path for path in before if after.get(path) != before[path] and Path(path).name != LOCK_FILE)
    assert not created and not changed, f"created {created}, changed or removed {changed}"
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny PMSN run (2 steps on digits), copied by the cases that need one."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--config", str(TINY), "train.steps=2", "--out", str(out)]) == 0
    return out


# ---------------------------------------------------------------- case builders


def train(*overrides: str) -> Setup:
    """``train`` of the tiny config with ``overrides``, into ``./run``."""
    return lambda tmp, run: ["train", "--config", str(TINY), *overrides, "--out", "run"]


def config_file(text: str | bytes) -> Setup:
    """``train --config bad.yaml`` with the given file contents."""

    def setup(tmp: Path, run: Path) -> list[str]:
        path = tmp / "bad.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["train", "--config", str(path), "--out", "run"]

    return setup


def _images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((40, 1, 8, 8)).astype(np.float32), np.repeat(np.arange(4), 10)


def _series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 1, 32)).astype(np.float32), np.repeat(np.arange(4), 10)


def npz(write: Callable[[Path], None], *, series: bool = False) -> Setup:
    """Train on a user ``data.npz`` that ``write(path)`` creates."""

    def setup(tmp: Path, run: Path) -> list[str]:
        path = tmp / "data.npz"
        write(path)
        if series:
            return ["train", "data.name=npz", f"data.path={path}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"]
        return ["train", "--config", str(TINY), "data.name=npz", f"data.path={path}", *FAST_TRAIN, "--out", "run"]

    return setup


def arrays(**entries: np.ndarray | str) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **entries)


def raw_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def series_file(name: str, source: str, text: str) -> Setup:
    """Train on the series file ``name`` (data.name=``source``) holding ``text``."""

    def setup(tmp: Path, run: Path) -> list[str]:
        path = tmp / name
        path.write_text(text)
        return ["train", f"data.name={source}", f"data.path={path}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"]

    return setup


def series_npy_folder(x: np.ndarray, y: np.ndarray | None) -> Setup:
    def setup(tmp: Path, run: Path) -> list[str]:
        folder = tmp / "series"
        folder.mkdir()
        np.save(folder / "X_train.npy", x)
        if y is not None:
            np.save(folder / "y_train.npy", y)
        return ["train", "data.name=series_npy", f"data.path={folder}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"]

    return setup


def on_run(command: Callable[[Path], list[str]], damage: Callable[[Path], None] = lambda run: None) -> Setup:
    """Copy the finished run to ``./run``, ``damage`` it, then run ``command(run)``."""

    def setup(tmp: Path, run: Path) -> list[str]:
        copy = tmp / "run"
        shutil.copytree(run, copy)
        damage(copy)
        return command(copy)

    return setup


def on_dir(command: Callable[[Path], list[str]], make: Callable[[Path], None] = lambda folder: None) -> Setup:
    """Run ``command(folder)`` on ``./folder``, a directory that ``make`` fills (not a run)."""

    def setup(tmp: Path, run: Path) -> list[str]:
        folder = tmp / "folder"
        folder.mkdir()
        make(folder)
        return command(folder)

    return setup


def fixed(*argv: str) -> Setup:
    return lambda tmp, run: list(argv)


# Damage done to a copied run directory.


def write(name: str, data: str | bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / name).write_bytes(data if isinstance(data, bytes) else data.encode())

    return damage


def truncate(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def remove(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).unlink()


def unfinished(*more: Callable[[Path], None]) -> Callable[[Path], None]:
    """Mark the run as still training (so --resume continues it), then apply ``more``."""

    def damage(run: Path) -> None:
        (run / "status.json").write_text(json.dumps({"status": "running", "step": 1, "total_steps": 2}))
        (run / "encoder.pt").unlink()
        for step in more:
            step(run)

    return damage


class _WritesAFile:
    """Unpickling this calls ``open(marker, 'w')``: a crafted pickle that creates a file (the
    suite's no-new-file check catches it) if a loader trusts it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted_pickle(name: str) -> Callable[[Path], None]:
    """Replace ``name`` by a torch file whose pickle would run code when loaded without weights_only."""

    def damage(run: Path) -> None:
        torch.save({"state_dict": _WritesAFile(str(run.parent / "pwned.txt"))}, run / name)

    return damage


def plain_pickle(name: str) -> Callable[[Path], None]:
    """Replace ``name`` by a bare (non-zip) pickle of a crafted object."""

    def damage(run: Path) -> None:
        (run / name).write_bytes(pickle.dumps(_WritesAFile(str(run.parent / "pwned.txt"))))

    return damage


def torn_metrics_line(run: Path) -> None:
    """A complete (newline-terminated) line of metrics.jsonl that is not JSON, between good ones."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join([lines[0], lines[0][: len(lines[0]) // 2], *lines[1:]]) + "\n")


def _zip_of_garbage_members() -> bytes:
    """A valid zip archive whose X.npy and y.npy members are not .npy data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.npy", b"not an npy header")
        archive.writestr("y.npy", b"\x93NUMPY garbage")
    return buffer.getvalue()


def _garbage_file(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text("garbage")


# ---------------------------------------------------------------- the cases

X, Y = _images()
S, SY = _series()
S_NAN_ROW = S.copy()
S_NAN_ROW[3] = np.nan
S_INF = S.copy()
S_INF[2, 0, 5] = np.inf
X_NAN = X.copy()
X_NAN[1, 0, 2, 2] = np.nan
X_INF = X.copy()
X_INF[1, 0, 2, 2] = np.inf

TRAIN_KEYS = [
    ("lr-negative", train("train.lr=-1")),
    ("lr-zero", train("train.lr=0")),
    ("lr-nan", train("train.lr=nan")),
    ("lr-inf", train("train.lr=inf")),
    ("lr-text", train("train.lr=fast")),
    ("min-lr-above-lr", train("train.min_lr=0.1", "train.lr=0.01")),
    ("min-lr-negative", train("train.min_lr=-1e-6")),
    ("min-lr-nan", train("train.min_lr=nan")),
    ("seed-huge", train("seed=99999999999999999999")),
    ("seed-negative", train("seed=-1")),
    ("seed-float", train("seed=1.5")),
    ("class-order-seed-negative", train("data.class_order_seed=-3")),
    ("steps-zero", train("train.steps=0")),
    ("steps-negative", train("train.steps=-5")),
    ("epochs-zero", train("train.epochs=0")),
    ("batch-size-zero", train("train.batch_size=0")),
    ("batch-size-huge", train("train.batch_size=100000")),
    ("checkpoint-every-zero", train("train.checkpoint_every=0")),
    ("log-every-zero", train("train.log_every=0")),
    ("precision-fp8", train("train.precision=fp8")),
    ("device-tpu", train("train.device=tpu")),
    ("weight-decay-nan", train("train.weight_decay=nan")),
    ("weight-decay-negative", train("train.weight_decay=-0.1")),
    ("weight-decay-end-inf", train("train.weight_decay_end=inf")),
    ("warmup-fraction-2", train("train.warmup_fraction=2")),
    ("warmup-fraction-negative", train("train.warmup_fraction=-0.1")),
    ("warmup-fraction-nan", train("train.warmup_fraction=nan")),
    ("grad-clip-negative", train("train.grad_clip=-1")),
    ("grad-clip-nan", train("train.grad_clip=nan")),
    ("num-threads-zero", train("train.num_threads=0")),
    ("num-threads-negative", train("train.num_threads=-1")),
    ("progress-not-bool", train("train.progress=maybe")),
    ("embed-dim-huge", train("encoder.embed_dim=1000000000")),
    ("embed-dim-zero", train("encoder.embed_dim=0")),
    ("embed-dim-not-multiple-of-4", train("encoder.embed_dim=30")),
    ("depth-huge", train("encoder.depth=100000")),
    ("heads-not-dividing", train("encoder.heads=3")),
    ("mlp-ratio-nan", train("encoder.mlp_ratio=nan")),
    ("patch-size-zero", train("encoder.patch_size=0")),
    ("projection-hidden-huge", train("method.projection_hidden=1000000000")),
    ("prototypes-one", train("method.num_prototypes=1")),
    ("temperature-nan", train("method.temperature=nan")),
    ("ema-momentum-above-1", train("method.ema_momentum=1.5")),
    ("tau-inf", train("method.tau=inf")),
    ("prior-values-negative", train("method.prior_values=[" + ",".join(["-1.0"] + ["1.0"] * 15) + "]")),
    ("prior-file-missing", train("method.prior=missing_prior.npy")),
    ("imbalance-ratio-nan", train("data.imbalance_ratio=nan")),
    ("imbalance-ratio-below-1", train("data.imbalance_ratio=0.5")),
    ("subset-size-zero", train("data.subset_size=0")),
    ("classes-per-batch-zero", train("data.classes_per_batch=0")),
    ("sampler-mode-bogus", train("data.sampler_mode=sometimes")),
    ("global-scale-one-value", train("image_views.global_scale=[0.5]")),
    ("global-scale-reversed", train("image_views.global_scale=[0.9,0.2]")),
    ("focal-scale-nan", train("image_views.focal_scale=[nan,0.3]")),
    ("brightness-negative", train("image_views.brightness=-1")),
    ("noise-std-inf", train("image_views.noise_std=inf")),
    ("focal-size-off-patch-grid", train("image_views.focal_size=3")),
    ("global-size-too-many-tokens", train("image_views.global_size=1000")),
    ("time-mask-ratio-one", train("series_views.time_mask_ratio=1.0")),
    ("eval-probes-empty", train("eval.probes=[]")),
    ("eval-probe-unknown", train("eval.probes=[forest]")),
    ("eval-batch-size-zero", train("eval.batch_size=0")),
    ("method-as-value", train("method=5")),
    ("unknown-section", train("optimizer.lr=1")),
    ("override-without-value", train("train.lr")),
    ("show-config-bad-value", lambda tmp, run: ["train", "--show-config", "train.lr=-1"]),
    ("nproc-zero", lambda tmp, run: ["train", "--config", str(TINY), "--nproc", "0", "--out", "run"]),
]


def train_into(out: Callable[[Path], Path]) -> Setup:
    """``train`` of the tiny config into the ``--out`` that ``out(case directory)`` prepares."""
    return lambda tmp, run: ["train", "--config", str(TINY), "--out", str(out(tmp))]


def under_a_file(tmp: Path) -> Path:
    (tmp / "a_file").write_text("x")
    return tmp / "a_file" / "run"


def a_file(tmp: Path) -> Path:
    (tmp / "a_file").write_text("x")
    return tmp / "a_file"


def a_non_empty_directory(tmp: Path) -> Path:
    (tmp / "taken").mkdir()
    (tmp / "taken" / "notes.txt").write_text("x")
    return tmp / "taken"


OUT_PATHS = [
    ("out-under-a-file", train_into(under_a_file)),
    ("out-is-a-file", train_into(a_file)),
    ("out-not-empty", train_into(a_non_empty_directory)),
]

CONFIG_FILES = [
    ("yaml-malformed", config_file("train: {steps: 2\nmethod: [")),
    ("yaml-tab-indent", config_file("train:\n\tsteps: 2\n")),
    ("yaml-binary", config_file(b"\x00\xff\xfe garbage \x00")),
    ("yaml-a-list", config_file("- train.steps=2\n- train.lr=0.1\n")),
    ("yaml-a-scalar", config_file("42\n")),
    ("yaml-unknown-key", config_file("train:\n  stepz: 2\n")),
    ("yaml-unknown-section", config_file("trainer:\n  steps: 2\n")),
    ("yaml-wrong-type", config_file("train:\n  steps: many\n")),
    ("yaml-section-as-value", config_file("train: 5\n")),
    ("yaml-data-as-value", config_file("data: digits\n")),
    ("yaml-list-for-int", config_file("train:\n  batch_size: [1, 2]\n")),
    ("yaml-bad-value", config_file("data:\n  name: digits\ntrain:\n  lr: -0.5\n")),
    ("yaml-missing-file", lambda tmp, run: ["train", "--config", str(tmp / "nope.yaml")]),
    ("yaml-is-a-directory", lambda tmp, run: ["train", "--config", str(tmp)]),
]

IMAGE_DATA = [
    ("npz-empty-file", npz(raw_bytes(b""))),
    ("npz-garbage-bytes", npz(raw_bytes(b"this is not a zip archive at all"))),
    ("npz-zip-header-only", npz(raw_bytes(b"PK\x03\x04garbage"))),
    ("npz-corrupt-member", npz(raw_bytes(_zip_of_garbage_members()))),
    ("npz-no-arrays", npz(arrays())),
    ("npz-zero-samples", npz(arrays(X=np.zeros((0, 1, 8, 8), np.float32), y=np.zeros(0, np.int64)))),
    ("npz-labels-column", npz(arrays(X=X, y=Y[:, None]))),
    ("npz-labels-column-with-test", npz(arrays(X=X, y=Y[:, None], X_test=X, y_test=Y))),
    ("npz-labels-too-short", npz(arrays(X=X, y=Y[:-1]))),
    ("npz-labels-nan", npz(arrays(X=X, y=np.where(Y == 1, np.nan, Y)))),
    ("npz-x-1d", npz(arrays(X=np.zeros(40, np.float32), y=Y))),
    ("npz-x-5d", npz(arrays(X=np.zeros((40, 1, 1, 8, 8), np.float32), y=Y))),
    ("npz-x-nan", npz(arrays(X=X_NAN, y=Y))),
    ("npz-x-inf", npz(arrays(X=X_INF, y=Y))),
    ("npz-x-negative", npz(arrays(X=X - 1, y=Y))),
    ("npz-x-object", npz(lambda path: np.savez(path, X=np.array([None] * 40, dtype=object), y=Y))),
    ("npz-x-complex", npz(arrays(X=X.astype(np.complex64), y=Y))),
    ("npz-x-empty-axis", npz(arrays(X=np.zeros((40, 1, 0, 0), np.float32), y=Y))),
    ("npz-x-no-channels", npz(arrays(X=np.zeros((40, 0, 8, 8), np.float32), y=Y))),
    ("npz-x-test-without-y-test", npz(arrays(X=X, y=Y, X_test=X))),
    ("npz-y-test-wrong-length", npz(arrays(X=X, y=Y, X_test=X, y_test=Y[:5]))),
    ("npz-x-test-other-size", npz(arrays(X=X, y=Y, X_test=np.zeros((40, 1, 4, 4), np.float32), y_test=Y))),
    ("npz-unknown-entry", npz(arrays(X=X, y=Y, extra=Y))),
    ("npz-kind-bogus", npz(arrays(X=X, y=Y, kind="video"))),
    ("npz-ambiguous-3d", npz(arrays(X=X[:, 0], y=Y))),
    ("npz-class-with-one-sample", npz(arrays(X=X, y=np.r_[Y[:-1], 7]))),
    (
        "npz-missing-file",
        lambda tmp, run: ["train", "--config", str(TINY), "data.name=npz", f"data.path={tmp / 'none.npz'}", "--out", "run"],
    ),
    ("npz-without-path", train("data.name=npz")),
]

SERIES_DATA = [
    ("series-npz-all-nan-row", npz(arrays(X=S_NAN_ROW, y=SY, kind="series"), series=True)),
    ("series-npz-inf", npz(arrays(X=S_INF, y=SY, kind="series"), series=True)),
    ("series-npz-labels-column", npz(arrays(X=S, y=SY[:, None], kind="series"), series=True)),
    ("series-npz-channels-last-without-layout", npz(arrays(X=S.transpose(0, 2, 1).copy(), y=SY, kind="series"), series=True)),
    ("series-layout-unknown", train("data.layout=NCWH")),
    (
        "series-layout-on-a-source-without-layouts",
        fixed("train", "data.name=regimes", "data.layout=NTC", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"),
    ),
    ("ts-no-data-line", series_file("bad_TRAIN.ts", "ts", "@problemName x\n@classLabel true a b\n1,2,3:a\n")),
    ("ts-only-header", series_file("bad_TRAIN.ts", "ts", "@problemName x\n@classLabel true a b\n@data\n")),
    ("ts-value-not-a-number", series_file("bad_TRAIN.ts", "ts", "@classLabel true a b\n@data\n1,2,x:a\n1,2,3:b\n")),
    ("ts-undeclared-label", series_file("bad_TRAIN.ts", "ts", "@classLabel true a b\n@data\n1,2,3:a\n1,2,3:zebra\n")),
    ("ts-timestamps", series_file("bad_TRAIN.ts", "ts", "@timeStamps true\n@data\n(2007-01-01,1.5):a\n")),
    ("ts-bad-dimensions-tag", series_file("bad_TRAIN.ts", "ts", "@dimensions zero\n@data\n1,2:a\n")),
    ("ts-binary", series_file("bad_TRAIN.ts", "ts", "\x00\x01\x02garbage")),
    ("csv-empty", series_file("bad_TRAIN.csv", "series_csv", "")),
    ("csv-ragged-label-only-row", series_file("bad_TRAIN.csv", "series_csv", "a,1,2,3,4\nb\nb,4,5,6\na,1,2\n")),
    ("csv-ragged-text-cell", series_file("bad_TRAIN.csv", "series_csv", "a,1,2,3,4\nb,4,five,6\na,1,2\nb,3,4,5,6\n")),
    ("csv-missing-label", series_file("bad_TRAIN.csv", "series_csv", "a,1,2,3\n,4,5,6\n")),
    ("csv-one-column", series_file("bad_TRAIN.csv", "series_csv", "a\nb\na\nb\n")),
    (
        "npy-folder-empty",
        on_dir(lambda folder: ["train", "data.name=npy", f"data.path={folder}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"]),
    ),
    (
        "npy-folder-garbage-arrays",
        on_dir(
            lambda folder: ["train", "data.name=npy", f"data.path={folder}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"],
            lambda folder: [(folder / f"{name}.npy").write_bytes(b"garbage") for name in ("X_train", "y_train", "X_test", "y_test")],
        ),
    ),
    ("ucr-empty-member", fixed("train", "data.name=ucr:", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run")),
    (
        "ucr-unknown-set",
        on_dir(
            lambda folder: ["train", "data.name=ucr:NoSuchSet", f"data.path={folder}", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run"]
        ),
    ),
    ("regimes-unknown-argument", fixed("train", "data.name=regimes:bogus=1", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run")),
    ("regimes-bad-value", fixed("train", "data.name=regimes:rare_count=-4", *SMALL_SERIES_MODEL, *FAST_TRAIN, "--out", "run")),
    ("series-npy-missing-labels", series_npy_folder(S, None)),
    ("series-npy-labels-wrong-length", series_npy_folder(S, SY[:7])),
]


def evaluate(run: Path) -> list[str]:
    return ["evaluate", str(run)]


def resume(run: Path) -> list[str]:
    return ["train", "--resume", str(run)]


def estimate_prior(*options: str) -> Callable[[Path], list[str]]:
    return lambda run: ["estimate-prior", str(run), *options]


def prototypes(*options: str) -> Callable[[Path], list[str]]:
    return lambda run: ["prototypes", str(run), *options]


def report(*options: str) -> Callable[[Path], list[str]]:
    return lambda run: ["report", str(run), *options]


def report_with_an_unfinished_second_run(tmp: Path, run: Path) -> list[str]:
    """Two runs without eval.json, the second unfinished: the first must not be evaluated either."""
    first, second = tmp / "first", tmp / "second"
    for copy in (first, second):
        shutil.copytree(run, copy)
        (copy / "eval.json").unlink(missing_ok=True)
    unfinished()(second)
    return ["report", str(first), str(second), "--out", str(tmp / "report")]


RUN_DIRECTORIES = [
    ("evaluate-not-a-run-dir", on_dir(evaluate)),
    ("evaluate-missing-dir", lambda tmp, run: evaluate(tmp / "absent")),
    ("evaluate-missing-config", on_run(evaluate, remove("config.yaml"))),
    ("evaluate-garbage-config", on_run(evaluate, write("config.yaml", "train: [unclosed\n"))),
    ("evaluate-config-not-mapping", on_run(evaluate, write("config.yaml", "- a\n- b\n"))),
    ("evaluate-config-unknown-key", on_run(evaluate, write("config.yaml", "train:\n  nonsense: 1\n"))),
    ("evaluate-config-bad-value", on_run(evaluate, write("config.yaml", "train:\n  lr: nan\n"))),
    ("evaluate-unfinished", on_run(evaluate, unfinished())),
    ("evaluate-truncated-status", on_run(evaluate, truncate("status.json"))),
    ("evaluate-truncated-encoder", on_run(evaluate, truncate("encoder.pt"))),
    ("evaluate-crafted-encoder", on_run(evaluate, crafted_pickle("encoder.pt"))),
    ("evaluate-plain-pickle-encoder", on_run(evaluate, plain_pickle("encoder.pt"))),
    ("evaluate-unknown-probe", on_run(lambda run: ["evaluate", str(run), "--probes", "forest"])),
    ("resume-not-a-run-dir", on_dir(resume, _garbage_file("notes.txt"))),
    ("resume-missing-dir", lambda tmp, run: resume(tmp / "absent")),
    ("resume-with-overrides", on_run(lambda run: ["train", "--resume", str(run), "train.steps=4"], unfinished())),
    ("resume-no-checkpoint", on_run(resume, unfinished(remove("checkpoint.pt")))),
    ("resume-truncated-checkpoint", on_run(resume, unfinished(truncate("checkpoint.pt")))),
    ("resume-garbage-checkpoint", on_run(resume, unfinished(write("checkpoint.pt", b"garbage")))),
    ("resume-crafted-checkpoint", on_run(resume, unfinished(crafted_pickle("checkpoint.pt")))),
    ("resume-plain-pickle-checkpoint", on_run(resume, unfinished(plain_pickle("checkpoint.pt")))),
    ("resume-garbage-config", on_run(resume, unfinished(write("config.yaml", ": : :\n")))),
    ("report-torn-metrics-line", on_run(lambda run: ["report", str(run), "--out", str(run.parent / "report")], torn_metrics_line)),
    ("report-not-a-run-dir", on_dir(lambda folder: ["report", str(folder), "--out", str(folder.parent / "report")])),
    ("report-out-under-a-file", on_run(lambda run: ["report", str(run), "--out", str(run / "config.yaml" / "report")])),
    ("report-unfinished", on_run(lambda run: ["report", str(run), "--out", str(run.parent / "report")], unfinished())),
    ("report-second-run-unfinished", report_with_an_unfinished_second_run),
    ("report-zero-prototypes", on_run(lambda run: ["report", str(run), "--out", str(run.parent / "report"), "--prototypes", "0"])),
    ("prototypes-not-a-run-dir", on_dir(prototypes())),
    ("prototypes-zero", on_run(prototypes("--prototypes", "0"))),
    ("prototypes-zero-images", on_run(prototypes("--images", "0"))),
    ("prototypes-crafted-checkpoint", on_run(prototypes(), crafted_pickle("checkpoint.pt"))),
    ("prototypes-out-under-a-file", on_run(lambda run: ["prototypes", str(run), "--out", str(run / "config.yaml" / "p")])),
    ("estimate-prior-not-a-run-dir", on_dir(estimate_prior())),
    ("estimate-prior-zero-clusters", on_run(estimate_prior("--clusters", "0"))),
    ("estimate-prior-one-sample", on_run(estimate_prior("--samples", "1"))),
    ("estimate-prior-zero-prototypes", on_run(estimate_prior("--prototypes", "0"))),
    ("estimate-prior-one-prototype", on_run(estimate_prior("--prototypes", "1"))),
    ("estimate-prior-out-not-npy", on_run(lambda run: ["estimate-prior", str(run), "--out", str(run.parent / "prior.txt")])),
    ("estimate-prior-truncated-encoder", on_run(estimate_prior(), truncate("encoder.pt"))),
]

DIAGNOSE = [
    ("diagnose-unknown-preset", lambda tmp, run: ["diagnose", "--preset", "gigantic", "--out", str(tmp / "d")]),
    ("diagnose-unknown-key", lambda tmp, run: ["diagnose", "--preset", "smoke", "nonsense.key=1", "--out", str(tmp / "d")]),
    ("diagnose-zero-workers", lambda tmp, run: ["diagnose", "--preset", "smoke", "--workers", "0", "--out", str(tmp / "d")]),
    (
        "diagnose-preset-malformed",
        lambda tmp, run: (
            (tmp / "p.yaml").write_text("seeds: [1,\n") and ["diagnose", "--preset", str(tmp / "p.yaml"), "--out", str(tmp / "d")]
        ),
    ),
    (
        "diagnose-preset-not-mapping",
        lambda tmp, run: (
            (tmp / "p.yaml").write_text("- smoke\n") and ["diagnose", "--preset", str(tmp / "p.yaml"), "--out", str(tmp / "d")]
        ),
    ),
]

ARGUMENTS = [  # the argument parser's own errors are one line too
    ("args-unknown-command", fixed("bogus")),
    ("args-int-not-a-number", lambda tmp, run: ["estimate-prior", str(run), "--clusters", "abc"]),
    ("args-missing-value", fixed("train", "--nproc")),
    ("args-unknown-option", fixed("evaluate", "--nonsense")),
    ("args-bad-choice", lambda tmp, run: ["estimate-prior", str(run), "--clustering", "spectral"]),
    ("args-evaluate-without-run", fixed("evaluate")),
]

CASES = TRAIN_KEYS + OUT_PATHS + CONFIG_FILES + IMAGE_DATA + SERIES_DATA + RUN_DIRECTORIES + DIAGNOSE + ARGUMENTS


def test_the_suite_is_large_and_names_are_unique():
    names = [name for name, _ in CASES]
    assert len(names) >= 80 and len(set(names)) == len(names)


@pytest.mark.parametrize("setup", [pytest.param(setup, id=name) for name, setup in CASES])
def test_bad_input_is_a_clean_one_line_error(
    setup: Setup, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    case = tmp_path / "case"
    case.mkdir()
    monkeypatch.chdir(case)
    argv = setup(case, finished_run)
    assert_clean_error(case, argv, capsys)


@pytest.mark.parametrize("path", sorted((REPO / "configs").rglob("*.yaml")), ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_shipped_configs_pass_the_range_checks(path: Path, capsys: pytest.CaptureFixture[str]):
    """The bounds reject nonsense, not the configs the project ships (digits: no download needed)."""
    assert main(["train", "--show-config", "--config", str(path), "data.name=digits"]) == 0, capsys.readouterr().err


# ---------------------------------------------------------------- property-based layer

NON_FINITE = st.sampled_from(["nan", "inf", "-inf", "NaN", "1e400"])
NEGATIVE = st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr)
ABOVE_ONE = st.floats(min_value=1.0 + 1e-6, max_value=1e12, allow_nan=False).map(repr)
NON_POSITIVE_INT = st.integers(max_value=0).map(str)

# key -> strategy of invalid values for it
INVALID_VALUES = {
    "train.lr": st.one_of(NON_FINITE, NEGATIVE, st.just("0")),
    "train.min_lr": st.one_of(NON_FINITE, NEGATIVE),
    "train.weight_decay": st.one_of(NON_FINITE, NEGATIVE),
    "train.weight_decay_end": st.one_of(NON_FINITE, NEGATIVE),
    "train.grad_clip": st.one_of(NON_FINITE, NEGATIVE),
    "train.warmup_fraction": st.one_of(NON_FINITE, NEGATIVE, ABOVE_ONE),
    "train.steps": NON_POSITIVE_INT,
    "train.epochs": NON_POSITIVE_INT,
    "train.batch_size": NON_POSITIVE_INT,
    "train.checkpoint_every": NON_POSITIVE_INT,
    "train.log_every": NON_POSITIVE_INT,
    "train.num_threads": NON_POSITIVE_INT,
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)).map(str),
    "encoder.embed_dim": st.one_of(NON_POSITIVE_INT, st.integers(min_value=2**14).map(str)),
}


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(INVALID_VALUES)), data=st.data())
def test_random_invalid_numbers_for_numeric_keys(
    key: str, data: st.DataObject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    value = data.draw(INVALID_VALUES[key], label=key)
    case = tmp_path / f"case-{abs(hash((key, value)))}"
    case.mkdir()
    monkeypatch.chdir(case)
    line = assert_clean_error(case, ["train", "--config", str(TINY), f"{key}={value}", "--out", "run"], capsys)
    assert key in line
