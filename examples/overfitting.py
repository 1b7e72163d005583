"""Overfitting: a big network memorises a small training set instead of learning digits.

With only 50 training images and two layers of 512 hidden units, training drives the
training loss to almost zero by memorising those images. The loss on unseen test images
falls for a few epochs, then RISES while the training loss keeps falling: the network grows
ever more confident, also on the test digits it gets wrong, and each of those costs more
and more. That rise is overfitting; its lowest point is where early stopping would stop.
Weight decay (AdamW pulls every weight a little towards zero each step) keeps the weights,
and with them the overconfidence, small: the test loss stays near its lowest. Dropout
(switching off random hidden units while training; --dropout) makes memorising noisier; on
its own it does not stop the rise here, so it is shown on top of weight decay. This script
trains the same network three ways, prints the losses and plots the curves.

    python examples/overfitting.py --epochs 150 --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import base_parser, fit, load_digits, make_mlp, output_path, pyplot, save_figure

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor


def setups(args) -> dict[str, tuple[float, float]]:
    """name: (weight decay, dropout) of the three trainings."""
    decay = f"weight decay {args.weight_decay:g}"
    return {"no regularisation": (0.0, 0.0), decay: (args.weight_decay, 0.0),
            f"{decay} + dropout {args.dropout:g}": (args.weight_decay, args.dropout)}


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=150, help="passes over the training set")
    parser.add_argument("--train-size", type=int, default=50,
                        help="training images kept (the test set stays whole)")
    parser.add_argument("--hidden", type=int, default=512, help="units per hidden layer")
    parser.add_argument("--layers", type=int, default=2, help="hidden layers")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=10.0,
                        help="AdamW weight decay of the second and third runs")
    parser.add_argument("--dropout", type=float, default=0.5,
                        help="dropout probability of the third run")
    parser.add_argument("--batch-size", type=int, default=10, help="images per AdamW step")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the init")
    args = parser.parse_args(argv)
    digits = load_digits(args.seed, n_train=args.train_size)
    print(f"{len(digits.y_train)} training images, {len(digits.y_test)} test images, "
          f"{args.layers} x {args.hidden} hidden units, {args.epochs} epochs")
    histories = {}
    for name, (weight_decay, dropout) in setups(args).items():
        Tensor.manual_seed(args.seed)
        model = make_mlp(args.hidden, dropout, args.layers).to(args.device)
        optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=weight_decay)
        histories[name] = fit(model, optimizer, digits, args.epochs, args.batch_size,
                              args.seed, args.device, desc=name, every=max(1, args.epochs // 10))
    plot(args, histories)
    print(f"{'setup':32s} | train loss | lowest test loss | at epoch | last test loss | "
          "test accuracy")
    for name, history in histories.items():
        test = [h.test_loss for h in history]
        best = int(np.argmin(test))
        print(f"{name:32s} | {history[-1].train_loss:10.4f} | {test[best]:16.4f} | "
              f"{best + 1:8d} | {test[-1]:14.4f} | {history[-1].test_accuracy:.4f}")
    return 0


def plot(args, histories) -> None:
    """Left: training and test loss without regularisation, the lowest test loss marked.
    Right: the test loss of every setup, on a scale zoomed to where they differ."""
    plt = pyplot()
    if plt is None:
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
    tests = {name: np.array([h.test_loss for h in history])
             for name, history in histories.items()}
    epochs = np.arange(1, len(next(iter(tests.values()))) + 1)
    plain, history = next(iter(histories.items()))
    best = int(np.argmin(tests[plain]))
    ax.plot(epochs, [h.train_loss for h in history], label="training loss")
    ax.plot(epochs, tests[plain], label="test loss")
    ax.plot(epochs[best], tests[plain][best], "ko", label=f"lowest test loss (epoch {best + 1})")
    ax.set(title=f"{plain}: training loss falls, test loss rises "
           f"({tests[plain][best]:.2f} -> {tests[plain][-1]:.2f})",
           xlabel="epoch", ylabel="cross-entropy loss", ylim=(0, 1.5 * tests[plain][-1]))
    ax.legend()
    for name, test in tests.items():
        low = int(np.argmin(test))
        line, = bx.plot(epochs, test, lw=1.2 if name == plain else 0.9,
                        label=f"{name}: {test[low]:.2f} -> {test[-1]:.2f}")
        bx.plot(epochs[low], test[low], "o", color=line.get_color())
    after = epochs > 2 * (best + 1)  # past the first fall, where the setups part ways
    after = after if after.any() else epochs > 0
    lows = [test[after].min() for test in tests.values()]
    highs = [test[after].max() for test in tests.values()]
    margin = max(0.15 * (max(highs) - min(lows)), 0.01)
    bx.set(title="test loss of each setup (dots: lowest; legend: lowest -> last)",
           xlabel="epoch", ylim=(min(lows) - 3 * margin, max(highs) + margin))
    bx.legend(fontsize=9, loc="lower right")  # room made below the curves
    fig.suptitle(f"{len(epochs)} epochs on {args.train_size} training images: the network "
                 "memorises them; weight decay keeps the test loss from rising")
    save_figure(fig, output_path(args, "overfitting.png"))


if __name__ == "__main__":
    sys.exit(main())
