"""Benchmark: peak memory of streaming feature extraction from a memory-mapped data set.

Writes synthetic series (n, C, T) float32 to ``.npy`` files chunk by chunk (never whole in
memory), then, in a fresh subprocess per size, memory-maps one and runs
:func:`priormatch.evaluation.extract_features` with a small TS2Vec-style encoder of the package
(``conv1d``). Linux only: memory is read from ``/proc/self/status``.

What is measured, per size:

* ``anon``: the process's own memory (RssAnon), sampled every 2 ms by a thread: baseline after
  the imports and the model, and the peak during extraction;
* ``output``: the (n, D) float32 features that ``extract_features`` returns (they grow with n by
  design; write them to disk in chunks if they must not);
* ``working`` = peak anon - baseline - output: what extraction itself needs. Flat in n.
* ``file``: peak RssFile, the pages of the memory-mapped file resident in this process. These are
  the kernel's page cache, shared and dropped under memory pressure, not memory the process
  needs; they are shown for completeness (VmHWM, the peak RSS, includes them).

    python benchmarks/feature_memory.py                       # 10k and 1M series of length 64
    python benchmarks/feature_memory.py --sizes 10000 100000 --length 128 --dir /scratch
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CHUNK_ROWS = 100_000
SAMPLE_EVERY_S = 0.002


def write_series(path: Path, n: int, channels: int, length: int, seed: int = 0) -> None:
    """Random-walk series (n, channels, length) float32, written chunk by chunk into a .npy file."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, channels, length))
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK_ROWS):
        rows = min(CHUNK_ROWS, n - start)
        out[start : start + rows] = rng.normal(size=(rows, channels, length)).cumsum(axis=-1, dtype=np.float32)
    out.flush()
    del out


def status_kib(field: str) -> int:
    """One ``kB`` field of /proc/self/status (RssAnon, RssFile, VmHWM, ...)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}; this benchmark needs Linux")


class PeakSampler(threading.Thread):
    """Samples RssAnon and RssFile until stopped; keeps the maxima (KiB)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_anon = self.peak_file = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_anon = max(self.peak_anon, status_kib("RssAnon"))
            self.peak_file = max(self.peak_file, status_kib("RssFile"))
            time.sleep(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measure(path: Path, batch_size: int, threads: int) -> dict[str, float]:
    """Run in the child process: extract features of the memmap at ``path``; memory in MiB."""
    import torch

    from priormatch.encoders import build_encoder
    from priormatch.encoders.configs import Conv1dConfig
    from priormatch.evaluation.features import extract_features

    torch.set_num_threads(threads)
    x = np.load(path, mmap_mode="r")
    torch.manual_seed(0)
    encoder = build_encoder(Conv1dConfig(hidden=16, depth=2, embed_dim=32), tuple(x.shape[1:]))
    extract_features(encoder, x[:batch_size], batch_size=batch_size)  # warm-up: allocator, kernels
    baseline = status_kib("RssAnon")
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    features = extract_features(encoder, x, batch_size=batch_size)
    seconds = time.perf_counter() - start
    sampler.stop()
    peak_anon = max(sampler.peak_anon, status_kib("RssAnon"))
    mib = 1024.0
    output = features.nbytes / 2**20
    return {
        "n": len(x),
        "input_mib": x.nbytes / 2**20,
        "baseline_anon_mib": baseline / mib,
        "peak_anon_mib": peak_anon / mib,
        "output_mib": output,
        "working_mib": (peak_anon - baseline) / mib - output,
        "peak_file_mib": sampler.peak_file / mib,
        "vmhwm_mib": status_kib("VmHWM") / mib,
        "seconds": seconds,
        "series_per_s": len(x) / seconds,
    }


def run_child(path: Path, batch_size: int, threads: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(path), "--batch-size", str(batch_size), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"measuring {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows: list[dict[str, float]]) -> None:
    print(
        f"{'n':>10} {'input':>9} {'output':>8} {'baseline':>9} {'peak anon':>10} {'working':>8} {'file pages':>11} {'VmHWM':>8} {'series/s':>10}"
    )
    for r in rows:
        print(
            f"{r['n']:>10,} {r['input_mib']:>7.0f}Mi {r['output_mib']:>6.1f}Mi {r['baseline_anon_mib']:>7.0f}Mi "
            f"{r['peak_anon_mib']:>8.0f}Mi {r['working_mib']:>6.1f}Mi {r['peak_file_mib']:>9.0f}Mi {r['vmhwm_mib']:>6.0f}Mi "
            f"{r['series_per_s']:>10,.0f}"
        )
    small, large = rows[0], rows[-1]
    print(
        f"{large['n'] / small['n']:.0f}x the series: working memory x{large['working_mib'] / max(small['working_mib'], 1e-9):.2f} "
        f"({small['working_mib']:.1f} -> {large['working_mib']:.1f} MiB), peak anonymous memory "
        f"x{large['peak_anon_mib'] / small['peak_anon_mib']:.2f} (features output included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000], help="numbers of series")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--length", type=int, default=64, help="time steps per series")
    parser.add_argument("--batch-size", type=int, default=1024, help="extraction batch")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in the child")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the .npy files (default: a temporary folder)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.batch_size, args.threads)))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        rows = []
        for n in sorted(args.sizes):
            path = Path(folder) / f"series_{n}.npy"
            write_series(path, n, args.channels, args.length)
            rows.append(run_child(path, args.batch_size, args.threads))
            path.unlink()
    report(rows)


if __name__ == "__main__":
    main()
