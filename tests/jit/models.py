"""Small versions of the examples' models and their training steps, built twice from one seed
(eager and jitted) so that the tests compare the two bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, manual_seed


class DigitsCNN(nn.Module):
    """examples/common.py's CNN in small: conv, batch norm, ReLU, pooling, dropout, linear."""

    def __init__(self, channels: int = 4, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(16 * channels, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x.reshape(-1, 1, 8, 8)))


class GPT(nn.Module):
    """examples/char_lm.py's transformer in small (dropout on: the random stream replays)."""

    def __init__(self, vocab: int = 11, context: int = 6, width: int = 8):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(context, width)
        self.block = nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.1,
                                                activation="gelu", batch_first=True,
                                                norm_first=True)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: Tensor) -> Tensor:
        positions = Tensor.arange(idx.shape[1], device=idx.device)
        x = self.token(idx) + self.position(positions)
        return self.head(self.norm(self.block(x, is_causal=True)))


class CharLSTM(nn.Module):
    """examples/char_lm.py's LSTM in small."""

    def __init__(self, vocab: int = 11, width: int = 6):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, num_layers=2, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: Tensor) -> Tensor:
        out, _ = self.lstm(self.token(idx))
        return self.head(out)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 10))


MODELS: dict[str, Callable[[], nn.Module]] = {"mlp": mlp, "cnn": DigitsCNN, "gpt": GPT,
                                              "lstm": CharLSTM}


def batch(kind: str, size: int, seed: int, device: str) -> tuple[Tensor, Tensor]:
    """(inputs, integer targets) of one step of `kind`'s task."""
    rng = np.random.default_rng(seed)
    if kind in ("mlp", "cnn"):
        x = Tensor(rng.standard_normal((size, 64)).astype(np.float32), device=device)
        return x, Tensor(rng.integers(0, 10, size), device=device)
    return (Tensor(rng.integers(0, 11, (size, 6)), device=device),
            Tensor(rng.integers(0, 11, (size, 6)), device=device))


@dataclass
class Run:
    """A model, its optimizer (and schedule) and its training step."""

    model: nn.Module
    opt: optim.Optimizer
    schedule: Any
    step: Callable


def make_run(kind: str, opt: str, device: str, clip: float | None = None,
             schedule: bool = False, seed: int = 0) -> Run:
    Tensor.manual_seed(seed)
    model = MODELS[kind]().to(device)
    params = model.parameters()
    optimizer = {"sgd": lambda: optim.SGD(params, lr=0.05, momentum=0.9),
                 "adam": lambda: optim.Adam(params, lr=1e-2),
                 "adamw": lambda: optim.AdamW(params, lr=1e-2, weight_decay=0.1),
                 "amsgrad": lambda: optim.AdamW(params, lr=1e-2, weight_decay=0.1,
                                                amsgrad=True),
                 "adagrad": lambda: optim.Adagrad(params, lr=0.05, lr_decay=0.01,
                                                  weight_decay=0.01)}[opt]()
    sched = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=40) \
        if schedule else None

    def step(x: Tensor, y: Tensor) -> Tensor:
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss
    return Run(model, optimizer, sched, step)


def state_of(run: Run) -> list[np.ndarray]:
    """Every parameter, gradient, buffer and optimizer state array, on the host."""
    arrays = [t.numpy() for t in run.model.parameters()]
    arrays += [p.grad.numpy() for p in run.model.parameters() if p.grad is not None]
    arrays += [b.numpy() for b in run.model.buffers()]
    for state in run.opt.state.values():
        arrays += [v.numpy() for v in state.values() if isinstance(v, Tensor)]
    return arrays


def eager_and_jitted(kind: str, opt: str, device: str, size: int, jit: Callable) -> Any:
    """`kind`'s model stepped 20 times eagerly and through `jit` from the same weights and
    seed, the learning rate changed every step (ExponentialLR stepped after each); checks the
    losses and every state array are equal bit for bit and returns the jitted step (its replay
    counts)."""
    runs = [make_run(kind, opt, device) for _ in range(2)]
    fn = jit(runs[1].step)
    losses = []
    for run, step in zip(runs, (runs[0].step, fn), strict=True):
        manual_seed(5)
        schedule = optim.lr_scheduler.ExponentialLR(run.opt, gamma=0.8)
        losses.append([])
        for i in range(20):
            losses[-1].append(step(*batch(kind, size, i, device)))
            schedule.step()
    for eager, replayed in zip(losses[0], losses[1], strict=True):
        np.testing.assert_array_equal(eager.numpy(), replayed.numpy())
    for eager, replayed in zip(state_of(runs[0]), state_of(runs[1]), strict=True):
        np.testing.assert_array_equal(eager, replayed)
    return fn
