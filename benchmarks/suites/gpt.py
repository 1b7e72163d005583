"""gpt: one AdamW training step of a small GPT (2 pre-norm blocks, d_model 128, 4 heads,
sequence 64, batch 16, exact GELU, character vocabulary of 65) against PyTorch with the same
weights on the same device. The model is written once against the PyTorch API and built from
`torch` and from `tinygrad_nv`."""

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

NAME = "gpt"
VOCAB, LR, WEIGHT_DECAY = 65, 3e-4, 0.1


def make(lib, d_model: int, heads: int, layers: int, seq: int):
    """The GPT as a `lib.nn.Module` (lib: torch or tinygrad_nv): the same code, the same
    state_dict keys."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.fc, self.fc_proj = (nn.Linear(d_model, 4 * d_model),
                                     nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (z.view(b, t, heads, c // heads).transpose(1, 2)
                       for z in self.qkv(self.ln_1(x)).split(c, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.fc_proj(F.gelu(self.fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, d_model), nn.Embedding(seq, d_model)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f, self.head = nn.LayerNorm(d_model), nn.Linear(d_model, VOCAB)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(lib.arange(idx.shape[1], device=idx.device))
            for block in self.blocks:
                x = block(x)
            logits = self.head(self.ln_f(x))
            return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))

    return GPT()


def step_of(model, opt):
    """The training step on fixed data: zero_grad, loss, backward, AdamW."""
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
    batch, seq, d_model, heads, layers = settings.size((16, 64, 128, 4, 2), (16, 64, 128, 4, 2),
                                                       (2, 8, 16, 4, 1))
    tinygrad_nv.manual_seed(0)
    model = make(tinygrad_nv, d_model, heads, layers, seq).to(settings.device)
    opt = tinygrad_nv.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(0)
    idx_host, targets_host = rng.integers(0, VOCAB, (2, batch, seq))
    idx, targets = (tinygrad_nv.tensor(a, device=settings.device)
                    for a in (idx_host, targets_host))
    ours = step_of(model, opt)
    fns, syncs = {OURS: lambda: ours(idx, targets)}, [backend.synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        t_model = torch_copy(torch, model, make(torch, d_model, heads, layers, seq),
                             torch_device)
        t_opt = torch.optim.AdamW(t_model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        t_idx, t_targets = (torch.tensor(a, device=torch_device)
                            for a in (idx_host, targets_host))
        theirs = step_of(t_model, t_opt)
        fns["torch"] = lambda: theirs(t_idx, t_targets)
        syncs.append(torch_sync(torch, torch_device))
        suite.notes.append(check_same_loss(float(fns[OURS]().item()), float(fns["torch"]().item()),
                                           f"GPT batch {batch}"))
    settings.progress(f"gpt: batch {batch}, sequence {seq}")

    def sync():
        for s in syncs:
            s()

    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(20, 5), sync)
    case = f"AdamW step, {layers} layers, d_model {d_model}, {heads} heads, sequence {seq}, " \
           f"batch {batch}"
    eager, jitted = jit_rows(case, stats, fns, [Target("torch", 0.9)])
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.0)]), *jitted]
    suite.rows += fault_rows(fns, settings, sync=sync)
    return suite
