"""Train a character-level language model on the text of Python's own documentation.

Every CPython ships its documentation's topics as `pydoc_data.topics` (about 465,000
characters, nothing to download). The model reads `--context` characters and, at every
position, predicts the next one; its loss is the cross-entropy in nats per character. A model
that only knows how often each character occurs (the unigram baseline) scores about 3.2 nats;
whatever the model gets below that it learned from context. `--model transformer` is a small
GPT: token and position embeddings, blocks of causal self-attention (each position sees only
the ones before it) and a feed-forward layer, then a linear read-out. `--model lstm` is an
embedding, a two-layer LSTM and the read-out. The last 10% of the text is held out for
validation. After training the model writes a paragraph, one character at a time, sampling
from the `--top-k` most likely next characters with their probabilities sharpened by
`--temperature`.

    python examples/char_lm.py                # transformer: 1.74 nats/char, ~1 CPU-minute
    python examples/char_lm.py --model lstm   # LSTM: 1.91 nats/char, ~2 CPU-minutes
    python examples/char_lm.py --amp bf16     # mixed precision (slower on the CPU)
    python examples/char_lm.py --jit          # the step recorded once, then replayed
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import (
    Amp,
    Progress,
    add_amp_option,
    add_jit_option,
    base_parser,
    one_blas_thread,
    output_path,
    pyplot,
    save_figure,
)

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Device, Tensor, jit, no_grad, save

# model: (steps, learning rate, validation loss it must beat at the default settings)
DEFAULTS = {"transformer": (700, 3e-3, 2.5), "lstm": (400, 5e-3, 2.5)}


def load_text() -> str:
    from pydoc_data.topics import topics
    return "".join(topics[name] for name in sorted(topics))


class GPT(nn.Module):
    """Token + position embeddings, pre-norm causal self-attention blocks, a linear head."""

    def __init__(self, vocab: int, context: int, width: int, heads: int, layers: int):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="relu",
                                       batch_first=True, norm_first=True)
            for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: Tensor) -> Tensor:
        positions = Tensor.arange(idx.shape[1], device=idx.device)
        x = self.token(idx) + self.position(positions)
        for block in self.blocks:
            x = block(x, is_causal=True)
        return self.head(self.norm(x))


class CharLSTM(nn.Module):
    """Embedding, a two-layer LSTM over the sequence, a linear head at every position."""

    def __init__(self, vocab: int, width: int):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, num_layers=2, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: Tensor) -> Tensor:
        out, _ = self.lstm(self.token(idx))
        return self.head(out)


def make_model(kind: str, vocab: int, context: int, width: int) -> nn.Module:
    if kind == "transformer":
        return GPT(vocab, context, width, heads=4, layers=2)
    return CharLSTM(vocab, width)


def batches(data: np.ndarray, context: int, batch_size: int, rng: np.random.Generator):
    """Random windows: inputs (B, context) and the same windows shifted by one (targets)."""
    starts = rng.integers(0, len(data) - context - 1, size=batch_size)
    x = np.stack([data[s:s + context] for s in starts])
    y = np.stack([data[s + 1:s + context + 1] for s in starts])
    return x, y


def loss_of(model: nn.Module, x: np.ndarray, y: np.ndarray, device: str | None) -> Tensor:
    logits = model(Tensor(x, device=device))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(y.reshape(-1),
                                                                        device=device))


def eval_loss(model: nn.Module, data: np.ndarray, context: int, batches_: int,
              device: str | None, amp: Amp) -> float:
    """Mean loss over fixed windows of `data` (the same ones each call), in eval mode."""
    model.eval()
    rng = np.random.default_rng(1234)
    with no_grad(), amp.autocast():
        total = sum(loss_of(model, *batches(data, context, 32, rng), device).item()
                    for _ in range(batches_))
    model.train()
    return total / batches_


def sample(model: nn.Module, prompt: np.ndarray, length: int, context: int, temperature: float,
           top_k: int, device: str | None) -> list[int]:
    """Characters drawn one at a time from the `top_k` most likely, softmax(logits / T)."""
    model.eval()
    out = list(prompt)
    with no_grad():
        for _ in range(length):
            window = Tensor(np.array([out[-context:]]), device=device)
            logits = model(window)[0, -1] / temperature
            values, indices = logits.topk(min(top_k, logits.shape[0]))
            choice = values.softmax(-1).multinomial(1)
            out.append(int(indices[choice].item()))
    model.train()
    return out


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="transformer",
                        help="a small GPT, or a two-layer LSTM")
    parser.add_argument("--steps", type=int, help="Adam steps (default: 700 for the "
                        "transformer, 400 for the LSTM)")
    parser.add_argument("--lr", type=float, help="Adam learning rate at the start, decayed "
                        "along a cosine (default: 3e-3 transformer, 5e-3 LSTM)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per step")
    parser.add_argument("--context", type=int, default=64, help="characters per window")
    parser.add_argument("--width", type=int, default=64, help="embedding / hidden size")
    parser.add_argument("--val-batches", type=int, default=20,
                        help="windows / 32 of training and of validation text per evaluation")
    parser.add_argument("--evals", type=int, default=10, help="validation evaluations")
    parser.add_argument("--sample-length", type=int, default=300, help="characters to write")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="below 1 sharpens the distribution the sample is drawn from")
    parser.add_argument("--top-k", type=int, default=10,
                        help="sample among this many most likely characters")
    parser.add_argument("--text-chars", type=int,
                        help="use only the first N characters of the text (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init and batches")
    add_amp_option(parser)
    add_jit_option(parser)
    args = parser.parse_args(argv)
    amp = Amp(args.amp, args.device)
    steps, lr, target = DEFAULTS[args.model]
    steps = steps if args.steps is None else args.steps
    lr = lr if args.lr is None else args.lr

    text = load_text()[:args.text_chars]
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    data = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    counts = np.bincount(train, minlength=len(chars)) + 1
    unigram = float(-(np.log(counts / counts.sum())[val]).mean())

    Tensor.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = make_model(args.model, len(chars), args.context, args.width).to(args.device)
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    print(f"{args.model}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(chars)} characters, {len(train)} training / {len(val)} validation, device "
          f"{Device.canonicalize(args.device)}; unigram baseline {unigram:.3f} nats/char")

    def train_step(x: np.ndarray, y: np.ndarray) -> Tensor:
        with amp.autocast():
            loss = loss_of(model, x, y, args.device)
        amp.backward_step(loss, optimizer)
        return loss

    train_step = jit(train_step, fallback="eager") if args.jit else train_step
    every = max(1, steps // max(1, args.evals))
    curve: list[tuple[int, float, float]] = []
    progress = Progress(range(steps), args.model, unit="step", every=every)
    start = time.perf_counter()
    for step in progress:
        train_step(*batches(train, args.context, args.batch_size, rng))
        schedule.step()
        if (step + 1) % every == 0 or step + 1 == steps:  # both measured alike
            curve.append((step + 1, *(eval_loss(model, part, args.context, args.val_batches,
                                                args.device, amp) for part in (train, val))))
            progress.report(train_loss=curve[-1][1], val_loss=curve[-1][2])
    seconds = time.perf_counter() - start
    val_loss = curve[-1][2] if curve else float("nan")
    print(f"trained {steps} steps in {seconds:.1f} s ({1000 * seconds / max(steps, 1):.0f} "
          f"ms/step incl. validation); validation loss {val_loss:.3f} nats/char "
          f"(unigram {unigram:.3f})")

    path = output_path(args, f"char_lm_{args.model}.safetensors")
    save(model.state_dict(), path)
    print(f"saved weights to {path}")
    plot(args, curve, unigram)

    prompt = val[:args.context // 2]
    written = sample(model, prompt, args.sample_length, args.context, args.temperature,
                     args.top_k, args.device)
    print("sample (prompt from the validation text, then the model):")
    print("".join(chars[i] for i in written))
    failed = args.steps is None and args.lr is None and args.text_chars is None \
        and not val_loss < target
    if failed:
        print(f"error: the {args.model} should reach {target} nats/char at the default "
              "settings", file=sys.stderr)
    return 1 if failed else 0


def plot(args, curve: list[tuple[int, float, float]], unigram: float) -> None:
    """Training and validation loss per evaluation (both in eval mode, on the same windows
    each time) against the unigram baseline; why they differ, in words."""
    plt = pyplot()
    if plt is None or not curve:
        return
    steps, train_loss, val_loss = zip(*curve, strict=True)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(steps, train_loss, "o-", markersize=3, label="training text")
    ax.plot(steps, val_loss, "o-", markersize=3, label="validation text (the last 10%, held out)")
    ax.axhline(unigram, color="gray", linestyle="--",
               label=f"unigram baseline {unigram:.2f} (character frequencies only)")
    ax.annotate(f"{val_loss[-1]:.2f}", (steps[-1], val_loss[-1]), textcoords="offset points",
                xytext=(-8, 4), ha="right", va="bottom", weight="bold", color="C1")
    gap = train_loss[-1] - val_loss[-1]
    ax.annotate("", (steps[-1], val_loss[-1]), (steps[-1], train_loss[-1]),
                arrowprops=dict(arrowstyle="<->", color="0.3"))
    why = (f"validation {gap:.2f} below training: the held-out text is easier to predict\n"
           if gap > 0 else "")
    ax.text(0.97, 0.3, why + "(no dropout here; both measured alike: eval mode, the same "
            "windows at every point)", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=8, color="0.3")
    ax.set(title=f"char-level {args.model}: {val_loss[-1]:.2f} nats per character on held-out "
           f"text after {steps[-1]} steps,\n{unigram - val_loss[-1]:.2f} below the unigram "
           "baseline: what it learned from context", xlabel="training step",
           ylabel="cross-entropy (nats per character)")
    ax.legend()
    save_figure(fig, output_path(args, f"char_lm_{args.model}.png"))


if __name__ == "__main__":
    sys.exit(main())
