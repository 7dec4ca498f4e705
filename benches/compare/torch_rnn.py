#!/usr/bin/env python3
"""PyTorch timings of the work `cargo bench --bench recurrent` measures, for side-by-side ratios.

For each cell (nn.RNN tanh, nn.LSTM, nn.GRU; one layer, batch_first, zero initial state), each
workload of benches/workloads.rs and each dtype:

  forward        out, _ = model(x) under torch.inference_mode()
  forward_train  out, _ = model(x) with x requiring grad: autograd records the graph (what the
                 crate's Mode::Train forward keeps), no backward
  fwd_bwd        model.zero_grad(set_to_none=True); x.grad = None;
                 out, _ = model(x); out.sum().backward()       (x requires grad, as the crate's dx)

Timing: warm up for --warmup seconds (at least 3 calls), pick n so one measurement lasts
--min-time seconds, take --repeats measurements of n back-to-back calls and report the median
of the per-call means, in ms. One JSON object per line on stdout.
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch

WORKLOADS = {  # name: (B, T, I, H, dtypes) -- the table in benches/workloads.rs
    "seed": (1, 5, 1, 3, ("float32", "float64")),
    "small": (32, 50, 16, 64, ("float32", "float64")),
    "medium": (64, 100, 128, 256, ("float32",)),
    "large": (64, 100, 512, 512, ("float32",)),
}
CELLS = {  # crate name: (constructor, gate blocks)
    "simple_rnn": (lambda i, h: torch.nn.RNN(i, h, nonlinearity="tanh", batch_first=True), 1),
    "lstm": (lambda i, h: torch.nn.LSTM(i, h, batch_first=True), 4),
    "gru": (lambda i, h: torch.nn.GRU(i, h, batch_first=True), 3),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def measure(step, warmup, min_time, repeats):
    step()
    t0, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - t0 < warmup:
        step()
        calls += 1
    per_call = (time.perf_counter() - t0) / calls
    n = max(1, math.ceil(min_time / per_call))
    means = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            step()
        means.append((time.perf_counter() - t) / n)
    return statistics.median(means) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--modes", default="forward,forward_train,fwd_bwd")
    ap.add_argument("--warmup", type=float, default=0.2)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for cell in args.cells.split(","):
        if cell not in CELLS:  # gru_cho: PyTorch has only the reset_after GRU
            continue
        make, gates = CELLS[cell]
        for wl in args.workloads.split(","):
            b, t, i, h, dtypes = WORKLOADS[wl]
            for dtype in args.dtypes.split(","):
                if dtype not in dtypes:
                    continue
                model = make(i, h).to(DTYPES[dtype])
                x = torch.randn(b, t, i, dtype=DTYPES[dtype])
                for mode in args.modes.split(","):
                    if mode == "forward":
                        def step():
                            with torch.inference_mode():
                                model(x)
                    elif mode == "forward_train":
                        xg = x.clone().requires_grad_(True)

                        def step():
                            model(xg)
                    else:
                        xg = x.clone().requires_grad_(True)

                        def step():
                            model.zero_grad(set_to_none=True)
                            xg.grad = None
                            out, _ = model(xg)
                            out.sum().backward()
                    ms = measure(step, args.warmup, args.min_time, args.repeats)
                    print(json.dumps({"framework": "pytorch", "version": torch.__version__, "cell": cell,
                                      "workload": wl, "dtype": dtype, "threads": args.threads,
                                      "mode": mode, "ms_per_iter": round(ms, 6)}), flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
