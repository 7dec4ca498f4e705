"""Reference learning rates for tests/schedules.rs, from PyTorch's torch.optim.lr_scheduler.

Run with the project's venv (float64 Python floats throughout):

    /work/venv/bin/python tests/data/lr_schedules.py   # writes tests/data/lr_schedules.json

Each case records the learning rate after the scheduler is constructed (`lrs[0]`) and after
each `scheduler.step()` (`lrs[k]` after k steps), read from `optimizer.param_groups[0]["lr"]`.
The optimiser is plain SGD over one parameter; schedules only touch its learning rate.
"""

import json
import math
import os

import torch
from torch.optim import SGD
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)


def optimizer(lr):
    return SGD([torch.zeros(1, dtype=torch.float64, requires_grad=True)], lr=lr)


def run(make, base_lr, steps, metrics=None):
    opt = optimizer(base_lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for k in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


cases = []


def case(name, kind, params, base_lr, steps, make, metrics=None):
    cases.append(
        {
            "name": name,
            "kind": kind,
            "params": params,
            "base_lr": base_lr,
            "metrics": metrics,
            "lrs": run(make, base_lr, steps, metrics),
        }
    )


case("step", "StepLR", {"step_size": 3, "gamma": 0.5}, 0.1, 20,
     lambda o: StepLR(o, step_size=3, gamma=0.5))
case("step_every", "StepLR", {"step_size": 1, "gamma": 0.9}, 0.05, 25,
     lambda o: StepLR(o, step_size=1, gamma=0.9))
case("exponential", "ExponentialLR", {"gamma": 0.95}, 0.1, 40,
     lambda o: ExponentialLR(o, gamma=0.95))
case("cosine", "CosineAnnealingLR", {"t_max": 10, "eta_min": 0.001, "warmup": 0, "start_factor": 1.0}, 0.1, 45,
     lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.001))
case("cosine_to_zero", "CosineAnnealingLR", {"t_max": 7, "eta_min": 0.0, "warmup": 0, "start_factor": 1.0}, 0.3, 20,
     lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.0))
# Warm-up: LinearLR from start_factor·base to base over `warmup` steps, then the cosine.
case("cosine_warmup", "CosineAnnealingLR", {"t_max": 15, "eta_min": 1e-4, "warmup": 5, "start_factor": 0.1}, 0.1, 30,
     lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
                                CosineAnnealingLR(o, T_max=15, eta_min=1e-4)], milestones=[5]))
case("cosine_warmup_1", "CosineAnnealingLR", {"t_max": 4, "eta_min": 0.0, "warmup": 1, "start_factor": 0.5}, 0.02, 12,
     lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=1),
                                CosineAnnealingLR(o, T_max=4, eta_min=0.0)], milestones=[1]))
# One-cycle: momentum is not cycled (schedules here change the learning rate only).
case("one_cycle", "OneCycleLR",
     {"max_lr": 0.5, "total_steps": 50, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
     0.01, 50, lambda o: OneCycleLR(o, max_lr=0.5, total_steps=50, cycle_momentum=False))
case("one_cycle_custom", "OneCycleLR",
     {"max_lr": 0.02, "total_steps": 37, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0},
     0.01, 37, lambda o: OneCycleLR(o, max_lr=0.02, total_steps=37, pct_start=0.25, div_factor=10.0,
                                     final_div_factor=100.0, cycle_momentum=False))

falling = [1.0, 0.9, 0.85, 0.849, 0.85, 0.848, 0.86, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.695, 0.7, 0.71, 0.5, 0.5,
           0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
rising = [0.1, 0.2, 0.25, 0.25, 0.26, 0.26, 0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]


def plateau(name, params, base_lr, metrics):
    kw = dict(params)
    case(name, "ReduceLROnPlateau", params, base_lr, len(metrics), lambda o: ReduceLROnPlateau(o, **kw), metrics)


plateau("plateau_defaults", {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4,
                             "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}, 0.1, falling)
plateau("plateau_min_rel", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01,
                            "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.004, "eps": 1e-8}, 0.1, falling)
plateau("plateau_min_abs", {"mode": "min", "factor": 0.3, "patience": 1, "threshold": 0.005,
                            "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}, 0.2, falling)
plateau("plateau_max_rel", {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.05,
                            "threshold_mode": "rel", "cooldown": 2, "min_lr": 0.0, "eps": 1e-8}, 0.1, rising)
plateau("plateau_max_abs_eps", {"mode": "max", "factor": 0.5, "patience": 0, "threshold": 0.0,
                                 "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0, "eps": 0.02}, 0.1, rising)

out = {
    "generator": "tests/data/lr_schedules.py",
    "torch": torch.__version__,
    "cases": cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_schedules.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {path}")
