"""Benchmark: images/s of a full training step against the bare encoder on the same views.

Recipe: the quick diagnose preset (``diagnose/presets/quick.yaml``: tiny ViT, patch 7, width 64,
depth 2, batch 100, its method overrides) on synthetic Fashion-MNIST-sized 1x28x28 images in
[0, 1], and the same recipe with ``encoder.name=cnn``. Model, views and step come from the
project's own builders (``build_model``, ``make_views``, ``step_views``, ``optimizer_step``), so
the numbers describe the code ``priormatch train`` runs. Per method and variant it times:

* **full step**, as ``training/loop.py`` runs it: schedules, batch gather, views (augmentation on
  tensors), the method's forward (under the precision context), backward, clipping, AdamW and the
  EMA teacher update;
* **views**: gathering the batch and making its views alone;
* **method fwd+bwd**: the method's forward and backward on the step's views, no update;
* **bound**: the bare encoder on exactly the same views, nothing else: the views the EMA teacher
  sees forward without gradient, the views the online encoder trains on forward and backward,
  batched as the method batches them (:data:`ENCODER_PASSES`), unmasked;
* for the variant the loop runs by default, two parts of the step alone: **teacher** (the bound's
  forward passes without gradient) and **update** (schedules, clipping, AdamW, EMA update).

Variants: fp32 and bf16 autocast (``train.precision=bf16``, where the CPU runs bf16), contiguous
and channels_last memory for the CNN. All variants of a method are built side by side and
timed interleaved (the order rotates every repeat); medians of blocks of ``--steps`` calls.
``torch.compile`` (mode default) on the encoder of one method is timed in a subprocess that
gets ``--compile-budget`` seconds, against eager in the same subprocess.

    python benchmarks/train_step_throughput.py                          # everything, 1 thread
    python benchmarks/train_step_throughput.py --encoders vit --methods msn --repeats 3 --no-compile
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported; --threads sets torch's own

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from priormatch.data import DatasetSplits, LabeledArrays, batch_indices
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.planner import flatten
from priormatch.encoders.configs import CNNConfig
from priormatch.methods import SSLMethod
from priormatch.training.config import RunConfig, raw_config, resolve_config
from priormatch.training.experiment import PretrainingData, build_model, make_sampler
from priormatch.training.loop import (
    TrainingState,
    optimizer_step,
    read_batch,
    schedules,
    step_seed,
)
from priormatch.training.optimizer import make_optimizer, set_hyperparameters
from priormatch.training.views import make_views, step_views

INPUT_SHAPE = (1, 28, 28)
NUM_IMAGES = 2500  # the quick preset's pretraining subset size
NUM_CLASSES = 10
ORDER = ("msn", "pmsn", "simclr", "vicreg", "swav", "mae", "data2vec")
TOKEN_METHODS = ("mae", "data2vec")  # need a transformer: not run on the CNN
SCHEDULE_STEPS = 10_000  # schedules are evaluated as in a long run; their cost does not depend on it
COMPILE_METHOD = "simclr"  # one encoder call of one shape per step: the simplest graph to compile


@dataclass(frozen=True)
class EncoderPasses:
    """The encoder passes of one method's step: ``teacher`` global views forward without
    gradient; ``student`` groups of global views, each group one batched call, and, if ``focal``,
    the focal views in one call, forward and backward."""

    teacher: tuple[int, ...] = ()
    student: tuple[tuple[int, ...], ...] = ((0, 1),)
    focal: bool = False


ENCODER_PASSES: dict[str, EncoderPasses] = {
    "msn": EncoderPasses(teacher=(0,), student=((1,),), focal=True),
    "pmsn": EncoderPasses(teacher=(0,), student=((1,),), focal=True),
    "simclr": EncoderPasses(),
    "vicreg": EncoderPasses(student=((0,), (1,))),  # one call per branch, as VICReg.forward
    "swav": EncoderPasses(focal=True),
    "mae": EncoderPasses(student=((0,),)),  # MAE's encoder sees 25 % of the tokens: its step can beat this
    "data2vec": EncoderPasses(teacher=(0,), student=((0,),)),
}


@dataclass
class Bench:
    """One method ready to step: config, model + optimizer, view maker, data and sampler."""

    config: RunConfig
    state: TrainingState
    views: Callable
    inputs: np.ndarray
    sampler: object
    step: int = 0

    @property
    def method(self) -> SSLMethod:
        return self.state.method


def recipe_config(method: str, encoder: str) -> RunConfig:
    """The quick preset's run config for ``method`` (its method overrides) on the ViT or the CNN."""
    preset = load_diagnose_config("quick")
    base = dict(preset.base)
    if encoder == "cnn":
        base["encoder"] = {"name": "cnn"}  # the ViT keys (patch_size, ...) are not CNN keys
    overrides = [*flatten(base), *flatten({"method": {"name": method, **dict(preset.method_overrides.get(method) or {})}})]
    return resolve_config(raw_config((), overrides), data_kind=lambda _: "image")


def synthetic_data(seed: int = 0) -> PretrainingData:
    """Fashion-MNIST-shaped random images in [0, 1] with balanced labels, as a pretraining set."""
    rng = np.random.default_rng(seed)
    x = rng.random((NUM_IMAGES, *INPUT_SHAPE), dtype=np.float32)
    y = np.arange(NUM_IMAGES, dtype=np.int64) % NUM_CLASSES
    arrays = LabeledArrays(x, y, tuple(f"class{c}" for c in range(NUM_CLASSES)))
    splits = DatasetSplits("synthetic", arrays, arrays)
    return PretrainingData(splits, np.arange(NUM_IMAGES), np.arange(NUM_CLASSES))


def build_bench(config: RunConfig, data: PretrainingData, *, channels_last: bool = False) -> Bench:
    """Model, optimizer, views and sampler for ``config``, as ``train()`` builds them; for the CNN
    ``channels_last`` sets ``encoder.channels_last`` (the loop's default is True)."""
    if isinstance(config.encoder, CNNConfig):
        config = replace(config, encoder=replace(config.encoder, channels_last=channels_last))
    method = build_model(config, data)
    method.train()
    state = TrainingState(method, make_optimizer(method, lr=config.train.lr, weight_decay=config.train.weight_decay))
    sampler = make_sampler(config.data, data.train.y, batch_size=config.train.batch_size, seed=config.seed)
    views = make_views(config, data.train, method.encoder)
    return Bench(config, state, views, data.train.x, sampler)


def precision_context(name: str) -> contextlib.AbstractContextManager:
    """What the loop's ``autocast`` returns for ``train.precision`` on the CPU."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16" else contextlib.nullcontext()


def bench_views(bench: Bench, step: int) -> tuple[tuple[list[Tensor], list[Tensor]], torch.Generator]:
    """The data phase of ``step`` as the loop runs it: generator, batch rows, views."""
    generator = torch.Generator().manual_seed(step_seed(bench.config.seed, step, 0))
    batch = read_batch(bench.inputs, batch_indices(bench.sampler, step), torch.device("cpu"))
    global_views, focal_views = step_views(bench.views, batch, bench.method.view_spec, generator)
    return (global_views, focal_views), generator


def full_step(bench: Bench, precision: str) -> None:
    """One step exactly as ``train()`` runs it (without logging and checkpoints)."""
    step = bench.step
    hyper = schedules(bench.config, step, SCHEDULE_STEPS)
    set_hyperparameters(bench.state.optimizer, lr=hyper["lr"], weight_decay=hyper["weight_decay"])
    views, generator = bench_views(bench, step)
    bench.state.step = step
    optimizer_step(
        bench.method,
        bench.state,
        views,
        generator=generator,
        grad_clip=bench.config.train.grad_clip,
        ema_momentum=hyper.get("ema_momentum"),
        precision=precision_context(precision),
    )
    bench.step += 1


def method_pass(bench: Bench, views: tuple[list[Tensor], list[Tensor]], generator: torch.Generator, precision: str) -> None:
    """The method's forward and backward on prepared views; no optimizer, no teacher update."""
    with precision_context(precision):
        output = bench.method(*views, generator=generator)
    bench.method.zero_grad(set_to_none=True)
    output.loss.backward()


def teacher_pass(bench: Bench, views: tuple[list[Tensor], list[Tensor]], precision: str) -> None:
    """The bound's forward passes without gradient (the views an EMA teacher encodes)."""
    global_views, encoder = views[0], bench.method.encoder
    with precision_context(precision), torch.no_grad():
        for index in ENCODER_PASSES[bench.config.method.name].teacher:
            encoder(global_views[index])


def bound_pass(bench: Bench, views: tuple[list[Tensor], list[Tensor]], precision: str) -> None:
    """The bare encoder on the same views: teacher views forward only, the rest forward+backward."""
    global_views, focal_views = views
    passes, encoder = ENCODER_PASSES[bench.config.method.name], bench.method.encoder
    teacher_pass(bench, views, precision)
    with precision_context(precision):
        outputs = [encoder(torch.cat([global_views[index] for index in group])) for group in passes.student]
        if passes.focal and focal_views:
            outputs.append(encoder(torch.cat(focal_views)))
        loss = sum(output.float().square().mean() for output in outputs)
    bench.method.zero_grad(set_to_none=True)
    loss.backward()


def update_seconds(bench: Bench, views: tuple[list[Tensor], list[Tensor]], generator: torch.Generator, steps: int) -> float:
    """Seconds per update (schedules, clipping, AdamW step, EMA update) after an untimed
    forward+backward, mean over ``steps``; the code is :func:`optimizer_step`'s tail."""
    total = 0.0
    for _ in range(steps):
        method_pass(bench, views, generator, "fp32")
        start = time.perf_counter()
        hyper = schedules(bench.config, bench.step, SCHEDULE_STEPS)
        set_hyperparameters(bench.state.optimizer, lr=hyper["lr"], weight_decay=hyper["weight_decay"])
        if bench.config.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(bench.method.parameters(), bench.config.train.grad_clip)
        bench.state.optimizer.step()
        if bench.method.uses_teacher:
            bench.method.update_teacher(hyper["ema_momentum"])
        total += time.perf_counter() - start
    return total / steps


def timed(action: Callable[[], None], steps: int) -> float:
    """Seconds per call of ``action``, over a block of ``steps`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(steps):
        action()
    return (time.perf_counter() - start) / steps


def measurements(bench: Bench, variant: str, precision: str, steps: int) -> dict[str, Callable[[], float]]:
    """The timed actions of one variant: full step, method fwd+bwd and bound (on one fixed step's views)."""
    views, generator = bench_views(bench, 0)
    return {
        f"{variant}/full": lambda: timed(lambda: full_step(bench, precision), steps),
        f"{variant}/method": lambda: timed(lambda: method_pass(bench, views, generator, precision), steps),
        f"{variant}/bound": lambda: timed(lambda: bound_pass(bench, views, precision), steps),
    }


def run_interleaved(actions: dict[str, Callable[[], float]], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Every action once per repeat, in an order rotated each repeat; ``warmup`` rounds discarded."""
    names, samples = list(actions), defaultdict(list)
    for repeat in range(warmup + repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = actions[name]()
            if repeat >= warmup:
                samples[name].append(seconds)
    return samples


def variants(encoder: str, precisions: list[str]) -> list[tuple[str, bool, str]]:
    """(label, channels_last, precision) of every variant measured for ``encoder``."""
    formats = (False, True) if encoder == "cnn" else (False,)
    return [(f"{precision}{'+cl' if cl else ''}", cl, precision) for cl in formats for precision in precisions]


def measure_method(method: str, encoder: str, precisions: list[str], args: argparse.Namespace) -> dict[str, list[float]]:
    """Interleaved timings of every variant of ``method`` on ``encoder`` (seconds per call)."""
    data = synthetic_data()
    benches = {
        cl: build_bench(recipe_config(method, encoder), data, channels_last=cl) for cl in {cl for _, cl, _ in variants(encoder, precisions)}
    }
    steps = args.cnn_steps if encoder == "cnn" else args.steps
    actions: dict[str, Callable[[], float]] = {}
    for label, cl, precision in variants(encoder, precisions):
        actions.update(measurements(benches[cl], label, precision, steps))
    default = benches[loop_default_variant(encoder)[1]]
    views, generator = bench_views(default, 0)
    actions["views"] = lambda: timed(lambda: bench_views(default, default.step), steps)
    actions["teacher"] = lambda: timed(lambda: teacher_pass(default, views, "fp32"), steps)
    actions["update"] = lambda: update_seconds(default, views, generator, steps)
    return run_interleaved(actions, args.repeats, args.warmup)


def loop_default_variant(encoder: str) -> tuple[str, bool]:
    """(label, channels_last) of the fp32 variant in the memory layout ``train()`` uses for
    ``encoder``: channels_last for the CNN (``encoder.channels_last``), contiguous otherwise."""
    return ("fp32+cl", True) if encoder == "cnn" else ("fp32", False)


def bf16_supported() -> tuple[bool, str]:
    """Whether this CPU runs bf16 autocast (mkldnn present, one bf16 matmul works) and why."""
    capability = torch.backends.cpu.get_cpu_capability()
    if not torch.backends.mkldnn.is_available():
        return False, f"mkldnn unavailable (capability {capability})"
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = torch.nn.functional.linear(torch.randn(8, 8), torch.randn(8, 8))
        ok = out.dtype == torch.bfloat16
    except RuntimeError as error:
        return False, f"bf16 autocast failed: {error}"
    flags = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    return ok, f"capability {capability}, mkldnn on, native bf16 instructions: {'yes' if native else 'no'}"


def med_ms(samples: dict[str, list[float]], name: str) -> float:
    """Median of ``samples[name]`` in milliseconds."""
    return statistics.median(samples[name]) * 1e3


def ratio(samples: dict[str, list[float]], top: str, bottom: str) -> float:
    """Median of per-repeat ratios top / bottom (side-by-side measurements)."""
    return statistics.median(a / b for a, b in zip(samples[top], samples[bottom]))


def report_method(method: str, encoder: str, samples: dict[str, list[float]], batch: int, precisions: list[str]) -> list[str]:
    """Markdown rows for one method: per variant ms and images/s of the full step and the bound,
    full / bound, and the full step against the fp32 contiguous one (all ratios per repeat)."""
    rows = []
    for label, _, _ in variants(encoder, precisions):
        full, bound = med_ms(samples, f"{label}/full"), med_ms(samples, f"{label}/bound")
        rows.append(
            f"| {encoder} | {method} | {label} | {full:.1f} | {batch / full * 1e3:.0f} | {bound:.1f} | {batch / bound * 1e3:.0f} | "
            f"**{ratio(samples, f'{label}/full', f'{label}/bound'):.2f}** | {ratio(samples, f'{label}/full', 'fp32/full'):.2f} |"
        )
    return rows


def breakdown_row(method: str, encoder: str, samples: dict[str, list[float]]) -> str:
    """Where the default variant's full step goes, in % of it: views, bound (teacher part),
    method - bound (heads, loss, diagnostics), update, and what is left."""
    label, _ = loop_default_variant(encoder)
    full = med_ms(samples, f"{label}/full")
    parts = {
        name: med_ms(samples, key) / full
        for name, key in (
            ("views", "views"),
            ("bound", f"{label}/bound"),
            ("teacher", "teacher"),
            ("method", f"{label}/method"),
            ("update", "update"),
        )
    }
    rest = 1 - parts["views"] - parts["method"] - parts["update"]
    return (
        f"| {encoder} | {method} | {label} | {full:.1f} | {parts['views']:.0%} | {parts['bound']:.0%} | {parts['teacher']:.0%} | "
        f"{parts['method'] - parts['bound']:+.0%} | {parts['update']:.0%} | {rest:+.0%} |"
    )


TABLE_HEADER = [
    "| encoder | method | variant | full step ms | full img/s | bound ms | bound img/s | full / bound | full / fp32 full |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
]
BREAKDOWN_HEADER = [
    "| encoder | method | loop default | full step ms | views | bound | of it teacher | heads + loss (method - bound) | update | rest |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


def compile_worker(args: argparse.Namespace) -> None:
    """(subprocess) eager vs ``torch.compile``d encoder for :data:`COMPILE_METHOD`: compile time,
    then interleaved full steps and bounds; prints one JSON line."""
    torch.set_num_threads(args.threads)
    data, config = synthetic_data(), recipe_config(COMPILE_METHOD, "vit")
    eager, compiled = build_bench(config, data), build_bench(config, data)
    compiled.method.encoder.compile()
    full_step(eager, "fp32")
    start = time.perf_counter()
    full_step(compiled, "fp32")  # first call: traces and compiles forward and backward
    compile_s = time.perf_counter() - start
    print(json.dumps({"compile_s": compile_s}), flush=True)
    actions = {}
    for label, bench in (("eager", eager), ("compiled", compiled)):
        views, _ = bench_views(bench, 0)
        actions[f"{label}/full"] = lambda bench=bench: timed(lambda: full_step(bench, "fp32"), args.steps)
        actions[f"{label}/bound"] = lambda bench=bench, views=views: timed(lambda: bound_pass(bench, views, "fp32"), args.steps)
    samples = run_interleaved(actions, args.repeats, args.warmup)
    print(json.dumps({"compile_s": compile_s, "samples": samples}), flush=True)


def run_compile(args: argparse.Namespace) -> list[str]:
    """Lines about torch.compile: timings if the subprocess finished within the budget."""
    command = [
        sys.executable,
        __file__,
        "--compile-worker",
        "--threads",
        str(args.threads),
        "--steps",
        str(args.steps),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
    ]
    env = {**os.environ, "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}  # a cold compile, as a first run pays it
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=args.compile_budget, check=False, env=env)
    except subprocess.TimeoutExpired as timeout:
        done = (timeout.stdout or b"").decode() if isinstance(timeout.stdout, bytes) else (timeout.stdout or "")
        got = [json.loads(line) for line in done.splitlines() if line.startswith("{")]
        when = f"compiled in {got[0]['compile_s']:.1f} s, but " if got else "did not compile, and "
        return [f"torch.compile ({COMPILE_METHOD}, vit): {when}compile + measurement exceeded the {args.compile_budget:.0f} s budget"]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines or "samples" not in lines[-1]:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        return [f"torch.compile ({COMPILE_METHOD}, vit): failed: {tail[0]}"]
    compile_s, samples = lines[-1]["compile_s"], lines[-1]["samples"]
    return [
        f"torch.compile ({COMPILE_METHOD}, vit, mode default, encoder only): first step (trace + compile fwd/bwd) {compile_s:.1f} s",
        (
            f"  eager full {med_ms(samples, 'eager/full'):.1f} ms, compiled full {med_ms(samples, 'compiled/full'):.1f} ms, "
            f"compiled / eager full = {ratio(samples, 'compiled/full', 'eager/full'):.2f}"
        ),
        (
            f"  eager bound {med_ms(samples, 'eager/bound'):.1f} ms, compiled bound {med_ms(samples, 'compiled/bound'):.1f} ms, "
            f"compiled / eager bound = {ratio(samples, 'compiled/bound', 'eager/bound'):.2f}"
        ),
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["vit", "cnn"], choices=("vit", "cnn"))
    parser.add_argument("--methods", nargs="+", default=list(ORDER), choices=ORDER)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (medians over them)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--steps", type=int, default=3, help="calls per timed block (ViT)")
    parser.add_argument("--cnn-steps", type=int, default=1, help="calls per timed block (CNN)")
    parser.add_argument("--no-bf16", action="store_true", help="fp32 only")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurement")
    parser.add_argument("--compile-budget", type=float, default=150.0, help="seconds for the compile subprocess")
    parser.add_argument("--compile-worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.compile_worker:
        compile_worker(args)
        return
    torch.set_num_threads(args.threads)
    bf16_ok, bf16_note = bf16_supported()
    precisions = ["fp32", "bf16"] if bf16_ok and not args.no_bf16 else ["fp32"]
    load_before = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
        f"bf16: {bf16_note}; repeats {args.repeats}, steps/block {args.steps} (cnn {args.cnn_steps})",
        flush=True,
    )
    rows, breakdown = list(TABLE_HEADER), list(BREAKDOWN_HEADER)
    for encoder in args.encoders:
        for method in args.methods:
            if encoder == "cnn" and method in TOKEN_METHODS:
                continue
            samples = measure_method(method, encoder, precisions, args)
            batch = recipe_config(method, encoder).train.batch_size
            new_rows = report_method(method, encoder, samples, batch, precisions)
            rows.extend(new_rows)
            breakdown.append(breakdown_row(method, encoder, samples))
            print("\n".join([*new_rows, breakdown[-1]]), flush=True)
    compile_lines = [] if args.no_compile else run_compile(args)
    print("\n" + "\n".join(rows))
    print("\nWhere the full step of the loop's default variant goes (% of it):\n" + "\n".join(breakdown) + "\n")
    print("\n".join(compile_lines))
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{v:.2f}' for v in load_before)}, "
        f"after {', '.join(f'{v:.2f}' for v in os.getloadavg())}, on {os.cpu_count()} logical CPUs"
    )


if __name__ == "__main__":
    main()
