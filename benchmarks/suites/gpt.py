"""gpt: one AdamW training step of a small GPT (2 pre-norm blocks, d_model 128, 4 heads,
sequence 64, batch 16, exact GELU, character vocabulary of 65) against PyTorch with the same
weights on the same device. The model is written once against the PyTorch API and built from
`torch` and from `tinygrad_nv`."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (
    Row,
    Settings,
    Suite,
    Target,
    both_worlds,
    fault_rows,
    jit_rows,
    time_round_robin,
    with_jit,
)

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


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    batch, seq, d_model, heads, layers = settings.size((16, 64, 128, 4, 2), (16, 64, 128, 4, 2),
                                                       (2, 8, 16, 4, 1))
    idx_host, targets_host = np.random.default_rng(0).integers(0, VOCAB, (2, batch, seq))
    fns, sync = both_worlds(
        suite, settings, lambda lib: make(lib, d_model, heads, layers, seq),
        lambda lib, params: lib.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY),
        (idx_host, targets_host), f"GPT batch {batch}")
    settings.progress(f"gpt: batch {batch}, sequence {seq}")
    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(20, 5), sync)
    case = f"AdamW step, {layers} layers, d_model {d_model}, {heads} heads, sequence {seq}, " \
           f"batch {batch}"
    eager, jitted = jit_rows(case, stats, fns, [Target("torch", 0.9)])
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.0)]), *jitted]
    suite.rows += fault_rows(fns, settings, sync=sync)
    return suite
