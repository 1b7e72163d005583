"""lstm: one Adam training step of a character-level LSTM (embedding 65x64, 2-layer LSTM with
hidden size 128, linear head; sequence 64, batch 32, cross-entropy at every step) against
PyTorch with the same weights on the same device. The model is written once against the
PyTorch API and built from `torch` and from `tinygrad_nv`."""

from __future__ import annotations

import numpy as np

import tinygrad_nv
from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    Target,
    check_same_loss,
    fault_rows,
    jit_rows,
    time_round_robin,
    torch_copy,
    torch_or_reason,
    torch_sync,
    with_jit,
)
from tinygrad_nv.backend import get_backend

NAME = "lstm"
VOCAB, LR = 65, 2e-3


def make(lib, embed: int, hidden: int, layers: int):
    """The model as a `lib.nn.Module` (lib: torch or tinygrad_nv): the same code, the same
    state_dict keys. forward(idx (L, N), targets (L, N)) -> the mean cross-entropy."""
    nn, F = lib.nn, lib.nn.functional

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, embed)
            self.lstm = nn.LSTM(embed, hidden, layers)
            self.head = nn.Linear(hidden, VOCAB)

        def forward(self, idx, targets):
            out, _ = self.lstm(self.embed(idx))
            return F.cross_entropy(self.head(out).reshape(-1, VOCAB), targets.reshape(-1))

    return CharLSTM()


def step_of(model, opt):
    """The training step on fixed data: zero_grad, loss, backward, Adam."""
    def step(idx, targets):
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        opt.step()
        return loss
    return step


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    seq, batch, embed, hidden, layers = settings.size((64, 32, 64, 128, 2), (64, 32, 64, 128, 2),
                                                      (4, 2, 8, 8, 2))
    tinygrad_nv.manual_seed(0)
    model = make(tinygrad_nv, embed, hidden, layers).to(settings.device)
    opt = tinygrad_nv.optim.Adam(model.parameters(), lr=LR)
    idx_host, targets_host = np.random.default_rng(0).integers(0, VOCAB, (2, seq, batch))
    idx, targets = (tinygrad_nv.tensor(a, device=settings.device)
                    for a in (idx_host, targets_host))
    ours = step_of(model, opt)
    fns, syncs = {OURS: lambda: ours(idx, targets)}, [backend.synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        t_model = torch_copy(torch, model, make(torch, embed, hidden, layers), torch_device)
        t_opt = torch.optim.Adam(t_model.parameters(), lr=LR)
        t_idx, t_targets = (torch.tensor(a, device=torch_device)
                            for a in (idx_host, targets_host))
        theirs = step_of(t_model, t_opt)
        fns["torch"] = lambda: theirs(t_idx, t_targets)
        syncs.append(torch_sync(torch, torch_device))
        suite.notes.append(check_same_loss(float(fns[OURS]().item()),
                                           float(fns["torch"]().item()),
                                           f"LSTM batch {batch}, sequence {seq}"))
    settings.progress(f"lstm: batch {batch}, sequence {seq}")

    def sync():
        for s in syncs:
            s()

    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(20, 5), sync)
    case = f"Adam step, embedding {VOCAB}x{embed}, {layers}-layer LSTM {hidden}, sequence " \
           f"{seq}, batch {batch}"
    eager, jitted = jit_rows(case, stats, fns)
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.5)]), *jitted]
    suite.rows += fault_rows(fns, settings, sync=sync)
    return suite
