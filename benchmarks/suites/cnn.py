"""cnn: one SGD (momentum) training step of a small CNN (two 3x3 conv layers with ReLU and
2x2 max pooling, a linear head; 1x28x28 inputs, batch 64) against PyTorch with the same
weights on the same device."""

from __future__ import annotations

import numpy as np

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    Target,
    call_all,
    check_same_loss,
    fault_rows,
    jit_rows,
    time_round_robin,
    torch_copy,
    torch_or_reason,
    torch_sync,
    training_step,
    with_jit,
)
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend

NAME = "cnn"
LR, MOMENTUM, CLASSES = 1e-3, 0.9, 10


def make(layers, batch: int, side: int, c1: int, c2: int):
    """The network in `layers` (tinygrad_nv.nn or torch.nn): the same modules, same keys."""
    return layers.Sequential(layers.Conv2d(1, c1, 3, padding=1), layers.ReLU(),
                             layers.MaxPool2d(2), layers.Conv2d(c1, c2, 3, padding=1),
                             layers.ReLU(), layers.MaxPool2d(2), layers.Flatten(),
                             layers.Linear(c2 * (side // 4) ** 2, CLASSES))


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    batch, side, c1, c2 = settings.size((64, 28, 16, 32), (64, 28, 16, 32), (2, 8, 2, 4))
    Tensor.manual_seed(0)
    model = make(nn, batch, side, c1, c2).to(settings.device)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((batch, 1, side, side)).astype(np.float32)
    y_host = rng.integers(0, CLASSES, batch)
    x, y = Tensor(x_host, device=settings.device), Tensor(y_host, device=settings.device)

    ours = training_step(model, opt, x, y)

    fns, syncs = {OURS: ours}, [backend.synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        t_model = torch_copy(torch, model, make(torch.nn, batch, side, c1, c2), torch_device)
        t_opt = torch.optim.SGD(t_model.parameters(), lr=LR, momentum=MOMENTUM)
        t_x, t_y = (torch.tensor(a, device=torch_device) for a in (x_host, y_host))

        def theirs():
            t_opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(t_model(t_x), t_y)
            loss.backward()
            t_opt.step()
            return loss

        fns["torch"] = theirs
        syncs.append(torch_sync(torch, torch_device))
        suite.notes.append(check_same_loss(float(ours().item()), float(theirs().item()),
                                           f"CNN batch {batch}"))
    settings.progress(f"cnn: batch {batch}")

    sync = call_all(syncs)

    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(30, 5), sync)
    case = f"SGD step, batch {batch}, 1x{side}x{side}"
    eager, jitted = jit_rows(case, stats, fns, [Target("torch", 0.9)])
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.0)]), *jitted]
    suite.rows += fault_rows(fns, settings, sync=sync)
    return suite
