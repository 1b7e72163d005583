"""Overfitting: a big network memorises a small training set instead of learning digits.

With only 50 training images and two layers of 512 hidden units, training drives the
training loss to almost zero by memorising those images: every one of them comes out right,
while about one test image in six does not. The loss on unseen test images falls for a few
epochs, then RISES while the training loss keeps falling: the network grows ever more
confident, also on the test digits it gets wrong, and each of those costs more and more.
The lowest point of the test loss is where early stopping would stop (the test split stands
in for a validation split here). Weight decay (each SGD step also pulls every weight a little
towards zero: an L2 penalty) stops the rise: once the training images are learnt their
gradients fade, the pull wins, and the weights, with them the overconfidence, stop growing;
the test loss stays at its lowest. One training set is noisy, so the script trains each
setup from --seeds different seeds (each its own 50 images and initial weights) and plots
the mean.

    python examples/overfitting.py --epochs 150 --seeds 5 --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import (
    base_parser,
    evaluate,
    fit,
    load_digits,
    make_mlp,
    one_blas_thread,
    output_path,
    pyplot,
    save_figure,
    whole_epochs,
)

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=150, help="passes over the training set")
    parser.add_argument("--seeds", type=int, default=5,
                        help="trainings per setup, each its own training images and start")
    parser.add_argument("--train-size", type=int, default=50,
                        help="training images kept (the test set stays whole)")
    parser.add_argument("--hidden", type=int, default=512, help="units per hidden layer")
    parser.add_argument("--layers", type=int, default=2, help="hidden layers")
    parser.add_argument("--lr", type=float, default=0.02, help="SGD learning rate (momentum 0.9)")
    parser.add_argument("--weight-decay", type=float, default=5e-3,
                        help="SGD weight decay (L2 penalty) of the regularised setup")
    parser.add_argument("--batch-size", type=int, default=10, help="images per SGD step")
    args = parser.parse_args(argv)
    print(f"{args.train_size} training images, {args.layers} x {args.hidden} hidden units, "
          f"{args.epochs} epochs, {args.seeds} seeds per setup")
    setups = {"no regularisation": 0.0, f"weight decay {args.weight_decay:g}": args.weight_decay}
    curves = {}
    for name, weight_decay in setups.items():
        runs = [train(args, weight_decay, seed, f"{name}, seed {seed}")
                for seed in range(args.seeds)]
        curves[name] = {key: np.mean([run[key] for run in runs], axis=0) for key in runs[0]}
        curves[name]["test_runs"] = np.array([run["test_loss"] for run in runs])
    print(f"{'setup (mean of the seeds)':26s} | lowest test loss | at epoch | last test loss "
          "| test accuracy | training accuracy")
    for name, curve in curves.items():
        best = int(np.argmin(curve["test_loss"]))
        print(f"{name:26s} | {curve['test_loss'][best]:16.4f} | {best + 1:8d} | "
              f"{curve['test_loss'][-1]:14.4f} | {curve['test_accuracy'][-1]:13.4f} | "
              f"{curve['train_accuracy']:.4f}")
    plot(args, curves)
    return 0


def train(args, weight_decay: float, seed: int, desc: str) -> dict[str, np.ndarray]:
    """One training from `seed` (its own training images and start): the losses and test
    accuracy per epoch, and the training accuracy at the end."""
    digits = load_digits(seed, n_train=args.train_size)
    Tensor.manual_seed(seed)
    model = make_mlp(args.hidden, 0.0, args.layers).to(args.device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                          weight_decay=weight_decay)
    history = fit(model, optimizer, digits, args.epochs, args.batch_size, seed, args.device,
                  desc=desc, every=args.epochs)
    run = {key: np.array([getattr(h, key) for h in history])
           for key in ("train_loss", "test_loss", "test_accuracy")}
    run["train_accuracy"] = evaluate(model, digits.x_train, digits.y_train, args.device)[1]
    return run


def plot(args, curves: dict[str, dict[str, np.ndarray]]) -> None:
    """Left: training and test loss without regularisation (mean of the seeds, the seeds'
    range shaded), early stopping marked. Right: the test loss with and without weight decay."""
    plt = pyplot()
    if plt is None:
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    (plain, curve), (decayed, regular) = curves.items()
    epochs = np.arange(1, len(curve["test_loss"]) + 1)
    best = int(np.argmin(curve["test_loss"]))
    low, last = curve["test_loss"][best], curve["test_loss"][-1]
    ax.plot(epochs, curve["train_loss"], "C0",
            label=f"training images (the {args.train_size} it learns from)")
    ax.plot(epochs, curve["test_loss"], "C3", label="test images (never trained on)")
    ax.fill_between(epochs, curve["test_runs"].min(0), curve["test_runs"].max(0), color="C3",
                    alpha=0.15, lw=0, label=f"test loss, range of the {args.seeds} seeds")
    ax.axvline(epochs[best], color="k", ls=":",
               label=f"early stopping: epoch {epochs[best]}, test loss {low:.2f}")
    ax.annotate(f"{last:.2f}", (epochs[-1], last), textcoords="offset points", xytext=(0, 6),
                ha="right", weight="bold", color="C3")
    ax.set(title=f"{plain}: training loss falls to {curve['train_loss'][-1]:.0e}, test loss "
           f"rises {low:.2f} -> {last:.2f}", xlabel="epoch",
           ylabel="cross-entropy (nats per image, log scale)", yscale="log")
    ax.legend(fontsize=8, loc="lower left")
    for name, color, values in ((plain, "C3", curve), (decayed, "C2", regular)):
        test = values["test_loss"]
        low_at = int(np.argmin(test))
        bx.plot(epochs, test, color, label=f"{name}: lowest {test[low_at]:.2f}, last "
                f"{test[-1]:.2f} (rise +{test[-1] - test[low_at]:.2f})")
        bx.plot(epochs[low_at], test[low_at], "o", color=color)
        bx.annotate(f"{test[-1]:.2f}", (epochs[-1], test[-1]), textcoords="offset points",
                    xytext=(0, 6), ha="right", weight="bold", color=color)
    bx.set(title=f"test loss at epoch {epochs[-1]}: {regular['test_loss'][-1]:.2f} with "
           f"{decayed}, {last:.2f} without",
           xlabel="epoch", ylabel="test cross-entropy (nats per image)",
           ylim=(0.9 * min(v["test_loss"].min() for v in curves.values()),
                 1.15 * max(v["test_loss"][best:].max() for v in curves.values())))
    bx.legend(fontsize=8, loc="upper left")
    for axes in (ax, bx):
        whole_epochs(axes)
    right = 100 * curve["train_accuracy"], 100 * curve["test_accuracy"][-1]
    fig.suptitle(f"{args.train_size} training images, {args.layers} x {args.hidden} hidden "
                 f"units, mean of {args.seeds} seeds: memorised ({right[0]:.0f}% of training "
                 f"images right, {right[1]:.0f}% of test images); stop early or decay weights")
    save_figure(fig, output_path(args, "overfitting.png"))


if __name__ == "__main__":
    sys.exit(main())
