"""lstm: one Adam training step of a character-level LSTM (embedding 65x64, 2-layer LSTM with
hidden size 128, linear head; sequence 64, batch 32, cross-entropy at every step) against
PyTorch with the same weights on the same device. The model is written once against the
PyTorch API and built from `torch` and from `tinygrad_nv`."""

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


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    seq, batch, embed, hidden, layers = settings.size((64, 32, 64, 128, 2), (64, 32, 64, 128, 2),
                                                      (4, 2, 8, 8, 2))
    idx_host, targets_host = np.random.default_rng(0).integers(0, VOCAB, (2, seq, batch))
    fns, sync = both_worlds(suite, settings, lambda lib: make(lib, embed, hidden, layers),
                            lambda lib, params: lib.optim.Adam(params, lr=LR),
                            (idx_host, targets_host), f"LSTM batch {batch}, sequence {seq}")
    settings.progress(f"lstm: batch {batch}, sequence {seq}")
    fns = with_jit(fns)
    stats = time_round_robin(fns, settings, settings.samples(20, 5), sync)
    case = f"Adam step, embedding {VOCAB}x{embed}, {layers}-layer LSTM {hidden}, sequence " \
           f"{seq}, batch {batch}"
    eager, jitted = jit_rows(case, stats, fns)
    suite.rows += [Row(case, "ms", eager, [Target("torch", 1.5)]), *jitted]
    suite.rows += fault_rows(fns, settings, sync=sync)
    return suite
