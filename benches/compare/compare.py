#!/usr/bin/env python3
"""Side-by-side speed of `recurrent` against PyTorch, ONNX Runtime and candle, in one sitting.

    python3 benches/compare/compare.py --python venv/bin/python --onnx --candle --out table.md
    python3 benches/compare/compare.py --threads 1 --cells lstm --workloads large

It runs, one after the other on the same machine:
  1. single-thread sgemm throughput (numpy's BLAS, when numpy is importable): the machine's
     practical peak the large-workload target is measured against;
  2. benches/compare/torch_rnn.py (when torch is importable) for each thread count;
  3. with --onnx, benches/compare/onnx_rnn.py (torch.onnx.export + onnxruntime, inference
     forward, intra_op_num_threads = the thread count) for each thread count;
  4. `cargo bench --bench recurrent` for each thread count (RECURRENT_NUM_THREADS), reading
     criterion's medians from target/criterion;
  5. with --candle, the candle peer in benches/compare/candle (one thread).
and prints a markdown table of ms per iteration with the ratios and each target of the speed
issue (issue 12) marked met or not, preceded by the machine's CPU flags and the product kernel
the crate chose. Modes: `forward` (inference: Mode::Infer, torch.inference_mode, ONNX
Runtime), `forward_train` (Mode::Train, autograd recording), `fwd_bwd`. Machines are noisy:
only ratios from one run of this script, on an otherwise idle machine, count.
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
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_cho": 3}
MODES = ("forward", "forward_train", "fwd_bwd")
F64_WORKLOADS = ("seed", "small")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def flops(cell, wl, mode):
    b, t, i, h = WORKLOADS[wl]
    f = 2 * b * t * GATES[cell] * h * (i + h)
    return 3 * f if mode == "fwd_bwd" else f


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


def script_rows(python, script, threads, cells, workloads, what):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [python, str(HERE / script), "--threads", str(threads), "--cells", ",".join(cells),
           "--workloads", ",".join(workloads)]
    log("$ " + " ".join(cmd))
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        log(f"{what} run skipped: {e}\n{getattr(e, 'stderr', '') or ''}")
        return []
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def torch_rows(python, threads, cells, workloads):
    return script_rows(python, "torch_rnn.py", threads, cells, workloads, "PyTorch")


def onnx_rows(python, threads, cells, workloads):
    return script_rows(python, "onnx_rnn.py", threads, cells, workloads, "ONNX Runtime")


def machine():
    """The CPU's name and vector flags, and the kernels the crate picks (from the bench log)."""
    name, flags = platform.processor() or platform.machine(), []
    try:
        text = open("/proc/cpuinfo").read()
        name = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        line = next(l for l in text.splitlines() if l.startswith("flags"))
        flags = sorted(f for f in line.split(":", 1)[1].split() if f.startswith("avx") or f == "fma")
    except (OSError, StopIteration):
        pass
    return name, flags


def kernels():
    """The product kernels `recurrent` uses on this CPU, as benches/gemm.rs reports them."""
    cmd = ["cargo", "bench", "--bench", "gemm", "--", "--list"]
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return []
    return [l.split(": ", 1)[1] for l in out.stderr.splitlines() if l.startswith("recurrent's kernel for")]


def ours(threads, cells, workloads):
    env = dict(os.environ, RECURRENT_NUM_THREADS=str(threads))
    suffix = f"/t{threads}" if threads > 1 else ""
    filt = f"^({'|'.join(cells)})/f(32|64){suffix}/({'|'.join(MODES)})/({'|'.join(workloads)})$"
    cmd = ["cargo", "bench", "--bench", "recurrent", "--", filt]
    log(f"$ RECURRENT_NUM_THREADS={threads} " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    rows = []
    for cell in cells:
        for dt, dtype in (("f32", "float32"), ("f64", "float64")):
            for wl in workloads:
                for mode in MODES:
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
    # candle has no Cho GRU (and the peer refuses a cell it does not know).
    cells = [c for c in cells if c != "gru_cho"]
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
    ap = argparse.ArgumentParser(description="recurrent vs PyTorch, ONNX Runtime and candle, side by side")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cells", default="simple_rnn,lstm,gru,gru_cho")
    ap.add_argument("--workloads", default="seed,small,medium,large")
    ap.add_argument("--python", default=sys.executable, help="a Python with torch and numpy (and onnxruntime) installed")
    ap.add_argument("--onnx", action="store_true", help="also run ONNX Runtime (benches/compare/onnx_rnn.py)")
    ap.add_argument("--candle", action="store_true", help="also run the candle peer (benches/compare/candle)")
    ap.add_argument("--out", help="also write the markdown table to this file")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cells, workloads = args.cells.split(","), args.workloads.split(",")

    peak = sgemm_peak(args.python)
    rows = []
    for n in threads:
        rows += torch_rows(args.python, n, cells, workloads)
        if args.onnx:
            rows += onnx_rows(args.python, n, cells, workloads)
        rows += ours(n, cells, workloads)
    if args.candle:
        rows += candle_rows(cells, workloads)

    def get(fw, cell, wl, dtype, n, mode):
        for r in rows:
            if (r["framework"], r["cell"], r["workload"], r["dtype"], r["threads"], r["mode"]) == (fw, cell, wl, dtype, n, mode):
                return r["ms_per_iter"]
        return None

    lines = []
    cpu, flags = machine()
    lines.append(f"Machine: {cpu}, {os.cpu_count()} logical CPUs; vector flags: {' '.join(flags) or 'unknown'}.")
    for k in kernels():
        lines.append(f"`recurrent` product kernel: {k}.")
    if peak:
        lines.append(f"Single-thread sgemm (numpy {peak['numpy']}): {peak['sgemm_gflops']:.1f} GFLOP/s.")
    versions = sorted({f"{r['framework']} {r['version']}" for r in rows if r.get("version")})
    if versions:
        lines.append("Peers: " + ", ".join(versions) + ".")
    lines.append("")
    lines.append("| cell | workload | dtype | threads | mode | recurrent ms | PyTorch ms | ONNX Runtime ms | candle ms "
                 "| best peer / recurrent | recurrent GFLOP/s | target | met |")
    lines.append("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|")
    verdicts = []
    for cell in cells:
        for dtype in ("float32", "float64"):
            for n in threads:
                for wl in workloads:
                    if dtype == "float64" and (wl not in F64_WORKLOADS or n != 1):
                        continue
                    for mode in MODES:
                        mine = get("recurrent", cell, wl, dtype, n, mode)
                        if mine is None:
                            continue
                        pt = get("pytorch", cell, wl, dtype, n, mode)
                        ox = get("onnxruntime", cell, wl, dtype, n, mode)
                        cd = get("candle", cell, wl, dtype, n, mode) if n == 1 else None
                        peers = [p for p in (pt, ox, cd) if p is not None]
                        best = min(peers) if peers else None
                        ratio = best / mine if best else None
                        gf = flops(cell, wl, mode) / (mine * 1e6)
                        # The targets of issue 12, each as (description, met).
                        targets = []
                        if dtype == "float64":
                            if pt is not None:
                                targets.append(("≥ PyTorch f64", mine <= pt))
                        else:
                            if ratio is not None:
                                targets.append(("≥ 1.0× best peer", ratio >= 1.0))
                            if cell in ("lstm", "gru") and pt is not None and wl != "seed":
                                want = 1.1 if wl == "large" else 1.25
                                targets.append((f"≥ {want}× PyTorch", pt / mine >= want))
                            if cell in ("lstm", "gru") and mode == "forward" and n == 1 and ox is not None:
                                targets.append(("≥ 1.0× ONNX Runtime", mine <= ox))
                            if wl == "large" and n == 1 and peak:
                                targets.append((f"≥ 90% of sgemm ({0.9 * peak['sgemm_gflops']:.1f} GFLOP/s)",
                                                gf >= 0.9 * peak["sgemm_gflops"]))
                            if wl == "seed" and mode == "forward" and n == 1 and cd is not None:
                                targets.append(("≥ 20× candle", cd / mine >= 20))
                        target = "; ".join(t for t, _ in targets)
                        met = "; ".join("met" if ok else "**not met**" for _, ok in targets)
                        verdicts += [ok for _, ok in targets]
                        fmt = lambda v: f"{v:.4g}" if v is not None else "–"
                        lines.append(f"| {cell} | {wl} | {dtype[5:]} | {n} | {mode} | {fmt(mine)} | {fmt(pt)} | {fmt(ox)} | "
                                     f"{fmt(cd)} | {(f'{ratio:.2f}×' if ratio else '–')} | {gf:.1f} | {target} | {met} |")
    lines.append("")
    lines.append(f"Targets met: {sum(verdicts)} of {len(verdicts)}.")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
