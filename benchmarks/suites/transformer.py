"""transformer: forward + backward of one nn.TransformerEncoderLayer (d_model 256, 4 heads,
feed-forward 1024, sequence 128, batch 16, no dropout) against PyTorch's with the same
weights on the same device."""

from __future__ import annotations

import numpy as np

import tinygrad_nv.nn as nn
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
    with_jit,
)
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend

NAME = "transformer"


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    batch, seq, d_model, heads = settings.size((16, 128, 256, 4), (16, 128, 256, 4),
                                               (2, 8, 16, 4))
    Tensor.manual_seed(0)
    shape = dict(d_model=d_model, nhead=heads, dim_feedforward=4 * d_model, dropout=0.0,
                 batch_first=True)
    layer = nn.TransformerEncoderLayer(**shape).to(settings.device)
    x_host = np.random.default_rng(0).standard_normal((batch, seq, d_model)).astype(np.float32)
    x = Tensor(x_host, device=settings.device)

    def ours():
        for p in layer.parameters():
            p.grad = None
        loss = (layer(x) ** 2).mean()
        loss.backward()
        return loss

    fns, syncs = {OURS: ours}, [backend.synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        t_layer = torch_copy(torch, layer, torch.nn.TransformerEncoderLayer(**shape),
                             torch_device)
        t_x = torch.tensor(x_host, device=torch_device)

        def theirs():
            t_layer.zero_grad(set_to_none=True)
            loss = (t_layer(t_x) ** 2).mean()
            loss.backward()
            return loss

        fns["torch"] = theirs
        syncs.append(torch_sync(torch, torch_device))
        suite.notes.append(check_same_loss(float(ours().item()), float(theirs().item()),
                                           "transformer block"))
    settings.progress(f"transformer: batch {batch}, sequence {seq}")

    sync = call_all(syncs)

    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(20, 4), sync, warmup=2)
    case = f"forward + backward, d_model {d_model}, {heads} heads, sequence {seq}, batch {batch}"
    eager, jitted = jit_rows(case, stats, fns)
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.2)]), *jitted]
    suite.rows += fault_rows(fns, settings, "forward + backward", sync)
    return suite
