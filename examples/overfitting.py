"""Overfitting: a big network memorises a small training set instead of learning digits.

With only 100 training images and 256 hidden units, training can drive the training loss
to almost zero by memorising those images, while the loss on unseen test images stalls far
above it: the gap between them is overfitting. Weight decay (AdamW pulls every weight a
little towards zero each step) and dropout (switching off random hidden units while
training) make memorising harder and narrow the gap. This script trains the same network four ways,
prints the final train/test losses and their gap, and plots the curves.

    python examples/overfitting.py --epochs 150 --out examples/out
"""

from __future__ import annotations

import sys

from common import base_parser, fit, load_digits, make_mlp, output_path, pyplot, save_figure

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor

SETUPS = {  # name: (weight decay, dropout)
    "plain": (0.0, 0.0),
    "weight decay": (1.0, 0.0),
    "dropout": (0.0, 0.5),
    "both": (1.0, 0.5),
}


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--train-size", type=int, default=100, help="training images kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    digits = load_digits(args.seed, n_train=args.train_size)
    histories = {}
    for name, (weight_decay, dropout) in SETUPS.items():
        Tensor.manual_seed(args.seed)
        model = make_mlp(hidden=256, dropout=dropout).to(args.device)
        optimizer = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=weight_decay)
        histories[name] = fit(model, optimizer, digits, args.epochs, 32, args.seed,
                              args.device, desc=name, verbose=False)
    plot(args, histories)
    print(f"{len(digits.y_train)} training images, {args.epochs} epochs")
    print("setup        | train loss | test loss | gap    | test accuracy")
    for name, history in histories.items():
        last = history[-1]
        print(f"{name:12s} | {last.train_loss:10.4f} | {last.test_loss:9.4f} | "
              f"{last.test_loss - last.train_loss:6.4f} | {last.test_accuracy:.4f}")
    return 0


def plot(args, histories) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(histories), figsize=(4 * len(histories), 3.6),
                             sharey=True)
    for ax, (name, history) in zip(axes, histories.items(), strict=True):
        ax.plot([h.train_loss for h in history], label="train")
        ax.plot([h.test_loss for h in history], label="test")
        ax.set(title=name, xlabel="epoch", yscale="log")
        ax.legend()
    axes[0].set_ylabel("cross-entropy loss")
    save_figure(fig, output_path(args, "overfitting.png"))


if __name__ == "__main__":
    sys.exit(main())
