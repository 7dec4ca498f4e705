#!/usr/bin/env python3
"""Side-by-side speed of `recurrent` against PyTorch (and candle, if built), in one sitting.

    python3 benches/compare/compare.py                    # 1 and 2 threads, all cells
    python3 benches/compare/compare.py --threads 1 --cells lstm --workloads large
    python3 benches/compare/compare.py --python venv/bin/python --candle --out table.md

It runs, one after the other on the same machine:
  1. single-thread sgemm throughput (numpy's BLAS, when numpy is importable): the machine's
     practical peak the large-workload target is measured against;
  2. benches/compare/torch_rnn.py (when torch is importable) for each thread count;
  3. `cargo bench --bench recurrent` for each thread count (RECURRENT_NUM_THREADS), reading
     criterion's medians from target/criterion;
  4. with --candle, the candle peer in benches/compare/candle (one thread).
and prints a markdown table of ms per iteration with the ratios and each target of the speed
issue marked met or not. Machines are noisy: only ratios from one run of this script count.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKLOADS = {"seed": (1, 5, 1, 3), "small": (32, 50, 16, 64), "medium": (64, 100, 128, 256), "large": (64, 100, 512, 512)}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
F64_WORKLOADS = ("seed", "small")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def flops(cell, wl, mode):
    b, t, i, h = WORKLOADS[wl]
    f = 2 * b * t * GATES[cell] * h * (i + h)
    return f if mode == "forward" else 3 * f


def sgemm_peak(python):
    code = r"""
import json, time, numpy as np
best = 0.0
for (m, k, n) in [(2048, 2048, 2048), (6400, 512, 2048), (512, 6400, 2048), (64, 512, 2048)]:
    a = np.random.rand(m, k).astype(np.float32); b = np.random.rand(k, n).astype(np.float32)
    a @ b
    for _ in range(3):
        t = time.perf_counter(); c = 0
        while time.perf_counter() - t < 0.3:
            a @ b; c += 1
        best = max(best, 2 * m * k * n * c / (time.perf_counter() - t) / 1e9)
print(json.dumps({"sgemm_gflops": best, "numpy": np.__version__}))
"""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.CalledProcessError, FileNotFoundError, json.JSONDecodeError) as e:
        log(f"numpy sgemm measurement unavailable: {e}")
        return None


def torch_rows(python, threads, cells, workloads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [python, str(HERE / "torch_rnn.py"), "--threads", str(threads), "--cells", ",".join(cells),
           "--workloads", ",".join(workloads)]
    log("$ " + " ".join(cmd))
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        log(f"PyTorch run skipped: {e}")
        return []
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def ours(threads, cells, workloads):
    env = dict(os.environ, RECURRENT_NUM_THREADS=str(threads))
    suffix = f"/t{threads}" if threads > 1 else ""
    filt = f"^({'|'.join(cells)})/f(32|64){suffix}/(forward|fwd_bwd)/({'|'.join(workloads)})$"
    cmd = ["cargo", "bench", "--bench", "recurrent", "--", filt]
    log(f"$ RECURRENT_NUM_THREADS={threads} " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    rows = []
    for cell in cells:
        for dt, dtype in (("f32", "float32"), ("f64", "float64")):
            for wl in workloads:
                for mode in ("forward", "fwd_bwd"):
                    group = f"{cell}_{dt}" + (f"_t{threads}" if threads > 1 else "")
                    est = ROOT / "target" / "criterion" / group / mode / wl / "new" / "estimates.json"
                    if est.exists():
                        ms = json.loads(est.read_text())["median"]["point_estimate"] / 1e6
                        rows.append({"framework": "recurrent", "cell": cell, "workload": wl, "dtype": dtype,
                                     "threads": threads, "mode": mode, "ms_per_iter": ms})
    return rows


def candle_rows(cells, workloads):
    folder = HERE / "candle"
    target = os.environ.get("CANDLE_TARGET_DIR", "/tmp/recurrent-candle-target")
    env = dict(os.environ, CARGO_TARGET_DIR=target, RAYON_NUM_THREADS="1")
    names = {"simple_rnn": "rnn_tanh"}
    cmd = ["cargo", "run", "--release", "--quiet", "--", "--cells", ",".join(names.get(c, c) for c in cells),
           "--workloads", ",".join(workloads)]
    log(f"$ (cd {folder} && CARGO_TARGET_DIR={target} {' '.join(cmd)})")
    try:
        out = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        log(f"candle run skipped: {e}")
        return []
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    for r in rows:
        r["cell"] = {"rnn_tanh": "simple_rnn"}.get(r["cell"], r["cell"])
    return rows


def main():
    ap = argparse.ArgumentParser(description="recurrent vs PyTorch (and candle), side by side")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cells", default="simple_rnn,lstm,gru")
    ap.add_argument("--workloads", default="seed,small,medium,large")
    ap.add_argument("--python", default=sys.executable, help="a Python with torch (and numpy) installed")
    ap.add_argument("--candle", action="store_true", help="also run the candle peer (benches/compare/candle)")
    ap.add_argument("--out", help="also write the markdown table to this file")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cells, workloads = args.cells.split(","), args.workloads.split(",")

    peak = sgemm_peak(args.python)
    rows = []
    for n in threads:
        rows += torch_rows(args.python, n, cells, workloads)
        rows += ours(n, cells, workloads)
    if args.candle:
        rows += candle_rows(cells, workloads)

    def get(fw, cell, wl, dtype, n, mode):
        for r in rows:
            if (r["framework"], r["cell"], r["workload"], r["dtype"], r["threads"], r["mode"]) == (fw, cell, wl, dtype, n, mode):
                return r["ms_per_iter"]
        return None

    lines = []
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines.append(f"Machine: {cpu}, {os.cpu_count()} logical CPUs. "
                 + (f"Single-thread sgemm (numpy {peak['numpy']}): {peak['sgemm_gflops']:.1f} GFLOP/s." if peak else ""))
    lines.append("")
    lines.append("| cell | workload | dtype | threads | mode | recurrent ms | PyTorch ms | candle ms | best peer / recurrent | recurrent GFLOP/s | target | met |")
    lines.append("|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|")
    for cell in cells:
        for dtype in ("float32", "float64"):
            for n in threads:
                for wl in workloads:
                    if dtype == "float64" and (wl not in F64_WORKLOADS or n != 1):
                        continue
                    for mode in ("forward", "fwd_bwd"):
                        mine = get("recurrent", cell, wl, dtype, n, mode)
                        if mine is None:
                            continue
                        pt = get("pytorch", cell, wl, dtype, n, mode)
                        cd = get("candle", cell, wl, dtype, n, mode) if n == 1 else None
                        peers = [p for p in (pt, cd) if p is not None]
                        best = min(peers) if peers else None
                        ratio = best / mine if best else None
                        gf = flops(cell, wl, mode) / (mine * 1e6)
                        target, met = "", ""
                        if dtype == "float64":
                            target, met = "≥ PyTorch f64", (pt is not None and mine <= pt)
                        elif n > 1:
                            if wl in ("medium", "large"):
                                target, met = "beat PyTorch at 2 threads", (pt is not None and mine < pt)
                        elif wl == "seed":
                            target, met = "≥ 20× best peer", ratio is not None and ratio >= 20
                        elif wl == "small":
                            target, met = "≥ 3× best peer", ratio is not None and ratio >= 3
                        elif wl == "medium":
                            target, met = "≥ 1.5× best peer", ratio is not None and ratio >= 1.5
                        elif wl == "large" and peak:
                            target = f"≥ 85% of sgemm ({0.85 * peak['sgemm_gflops']:.1f} GFLOP/s)"
                            met = gf >= 0.85 * peak["sgemm_gflops"]
                        fmt = lambda v: f"{v:.4g}" if v is not None else "–"
                        mark = "" if target == "" else ("met" if met else "not met")
                        lines.append(f"| {cell} | {wl} | {dtype[5:]} | {n} | {mode} | {fmt(mine)} | {fmt(pt)} | {fmt(cd)} | "
                                     f"{(f'{ratio:.2f}×' if ratio else '–')} | {gf:.1f} | {target} | {mark} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
