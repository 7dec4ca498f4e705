#!/usr/bin/env python3
"""ONNX Runtime timings of the inference forward `cargo bench --bench recurrent` measures.

For each cell (nn.RNN tanh, nn.LSTM, nn.GRU; one layer, batch_first, zero initial state) and
workload of benches/workloads.rs: the PyTorch module is exported with torch.onnx.export (the
TorchScript exporter, which emits ONNX's own RNN / LSTM / GRU operators) and run by an
onnxruntime InferenceSession on the CPU execution provider with intra_op_num_threads =
--threads and inter_op_num_threads = 1, sequential execution, all graph optimisations on.
Timing as torch_rnn.py (median of --repeats means). float32 only (float64 RNN kernels are
not what ONNX Runtime ships for deployment). One JSON object per line on stdout, mode
"forward".

Needs: pip install torch onnx onnxruntime
"""

import argparse
import io
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rnn import CELLS, WORKLOADS, measure  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402


def session(model, x, threads):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, input_names=["x"], dynamo=False, opset_version=17)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--warmup", type=float, default=0.2)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    for cell in args.cells.split(","):
        if cell not in CELLS:
            continue
        make, _ = CELLS[cell]
        for wl in args.workloads.split(","):
            b, t, i, h, _ = WORKLOADS[wl]
            model = make(i, h).eval()
            x = torch.randn(b, t, i)
            sess = session(model, x, args.threads)
            feed = {"x": x.numpy()}
            with torch.inference_mode():
                ref = model(x)[0].numpy()
            got = sess.run(None, feed)[0]
            err = float(np.abs(got - ref).max())
            if err > 1e-4:
                print(f"{cell} {wl}: ONNX Runtime output differs from PyTorch by {err}", file=sys.stderr)
            ms = measure(lambda: sess.run(None, feed), args.warmup, args.min_time, args.repeats)
            print(json.dumps({"framework": "onnxruntime", "version": ort.__version__, "cell": cell, "workload": wl,
                              "dtype": "float32", "threads": args.threads, "mode": "forward",
                              "ms_per_iter": round(ms, 6)}), flush=True)
    print(f"onnxruntime {ort.__version__}, {args.threads} intra-op thread(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
