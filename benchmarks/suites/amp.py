"""amp: the mlp suite's Adam step (MLP 784-256-128-10) in mixed precision against PyTorch's:
autocast around forward and loss, backward and the step outside. On a GPU: float16 with a
GradScaler at batch 128 and 1024, the float32 step beside it. On the CPU one bfloat16 row at a
small batch, for correctness only: NumPy has no fast half-precision arithmetic, so amp on the
CPU is slower than float32 by design (ours and PyTorch's alike)."""

from __future__ import annotations

import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    call_all,
    time_round_robin,
    torch_or_reason,
    torch_sync,
)
from benchmarks.suites import mlp
from tinygrad_nv import Tensor, autocast, bfloat16, float16
from tinygrad_nv.amp import GradScaler
from tinygrad_nv.backend import get_backend

NAME = "amp"


def our_step(settings: Settings, model, data, low) -> callable:
    """Our Adam step under autocast(low); a GradScaler for float16."""
    opt = optim.Adam(model.parameters(), lr=mlp.LR, betas=mlp.BETAS, eps=mlp.EPS)
    kind = "cpu" if settings.device == "cpu" else "cuda"
    scaler = GradScaler(settings.device.split(":")[0], enabled=low is float16)
    x, y = (Tensor(a, device=settings.device) for a in data)

    def step():
        opt.zero_grad()
        with autocast(kind, dtype=low, enabled=low is not None):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    return step


def torch_step(torch, device: str, model, data, low) -> callable:
    """PyTorch's same step, from our model's current weights."""
    t_model = torch.nn.Sequential(*[
        torch.nn.Linear(*layer.weight.shape[::-1]) if hasattr(layer, "weight")
        else torch.nn.ReLU() for layer in model]).to(device)
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), t_model.parameters(), strict=True):
            theirs.copy_(torch.tensor(ours.numpy()))
    opt = torch.optim.Adam(t_model.parameters(), lr=mlp.LR, betas=mlp.BETAS, eps=mlp.EPS)
    kind = "cpu" if device == "cpu" else "cuda"
    scaler = torch.amp.GradScaler(kind, enabled=low == torch.float16)
    x, y = (torch.tensor(a, device=device) for a in data)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(kind, dtype=low or torch.bfloat16, enabled=low is not None):
            loss = torch.nn.functional.cross_entropy(t_model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    return step


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    torch, torch_device = torch_or_reason(settings.device)
    syncs = [backend.synchronize]
    if torch is None:
        suite.notes.append(torch_device)
    else:
        syncs.append(torch_sync(torch, torch_device))

    sync = call_all(syncs)

    if settings.gpu:
        cases = [(batch, low) for batch in settings.size((128, 1024), (128, 1024), (8,))
                 for low in (None, float16)]
    else:
        cases = [(settings.size(32, 32, 8), bfloat16)]
        suite.notes.append("cpu: bfloat16 for correctness only (NumPy computes it without "
                           "BLAS); the amp figures that matter are a GPU's")
    for batch, low in cases:
        settings.progress(f"amp: batch {batch} {low}")
        _, _, data, model = mlp.build(settings, "adam", batch)
        fns = {OURS: our_step(settings, model, data, low)}
        if torch is not None:
            theirs = None if low is None else getattr(torch, low.name)
            fns["torch"] = torch_step(torch, torch_device, model, data, theirs)
        stats = time_round_robin(fns, settings, settings.samples(30, 5) if settings.gpu
                                 else settings.samples(5, 3), sync, warmup=2)
        what = "float32" if low is None else f"autocast {low.name}" + (
            " + GradScaler" if low is float16 else "")
        case = f"Adam batch {batch}, {what}" + ("" if settings.gpu
                                                else " (CPU: for correctness only)")
        suite.rows.append(Row(case, "ms", {k: v.scaled(1e3) for k, v in stats.items()}))
    return suite
