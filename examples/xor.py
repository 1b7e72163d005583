"""XOR: the smallest problem one neuron cannot solve and two layers can.

XOR is 1 when exactly one of its two inputs is 1. No single straight line separates those
points from the others, so one neuron (a weighted sum and a threshold) fails. A hidden layer
bends the input space: each hidden unit draws a line, and the output unit combines them.
This script trains a 2-16-1 network with plain gradient descent on the four points, prints
the truth table it learned and plots its decision boundary to xor_<activation>.png.

    python examples/xor.py --activation tanh --steps 1000 --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import Progress, base_parser, output_path, pyplot, save_figure

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, no_grad

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float32)
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                        help="nonlinearity of the hidden layer")
    parser.add_argument("--hidden", type=int, default=16,
                        help="hidden units (with 8, about 1 seed in 10 leaves every ReLU dead)")
    parser.add_argument("--steps", type=int, default=1000, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    args = parser.parse_args(argv)

    Tensor.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(2, args.hidden), ACTIVATIONS[args.activation](),
                          nn.Linear(args.hidden, 1)).to(args.device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr)  # plain gradient descent
    x, y = Tensor(INPUTS, device=args.device), Tensor(TARGETS, device=args.device)
    progress = Progress(range(args.steps), "xor", unit="step", every=100)
    for _ in progress:
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        progress.report(loss=loss.item())

    with no_grad():
        probs = model(x).sigmoid().numpy()[:, 0]
    print(" x1 x2 | target | P(1)   | predicted")
    for (a, b), target, p in zip(INPUTS, TARGETS[:, 0], probs, strict=True):
        print(f"  {a:.0f}  {b:.0f} |   {target:.0f}    | {p:.4f} | {int(p > 0.5)}")
    solved = bool(((probs > 0.5) == (TARGETS[:, 0] > 0.5)).all())
    plot(args, model, probs, loss.item())
    print(f"final loss {loss.item():.4f}: XOR {'solved' if solved else 'NOT solved'}")
    return 0 if solved else 1


def plot(args, model: nn.Module, probs: np.ndarray, loss: float) -> None:
    """P(output = 1) over the square, the 0.5 boundary, and the four points by target."""
    plt = pyplot()
    if plt is None:
        return
    from matplotlib.lines import Line2D
    xs, ys = np.meshgrid(np.linspace(-0.5, 1.5, 150), np.linspace(-0.5, 1.5, 150))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    with no_grad():
        surface = model(Tensor(grid, device=args.device)).sigmoid().numpy().reshape(xs.shape)
    fig, ax = plt.subplots(figsize=(6.4, 6))
    filled = ax.contourf(xs, ys, surface, levels=np.linspace(0, 1, 21), cmap="RdBu_r")
    ax.contour(xs, ys, surface, levels=[0.5], colors="k", linewidths=1.5)
    for target, marker in ((0, "o"), (1, "^")):
        chosen = TARGETS[:, 0] == target
        ax.scatter(*INPUTS[chosen].T, marker=marker, c="white", edgecolors="k", linewidths=2,
                   s=170, zorder=3, label=f"training point with target {target}")
    for (x1, x2), p in zip(INPUTS, probs, strict=True):
        ax.annotate(f"P(1) = {p:.2f}", (x1, x2), textcoords="offset points", xytext=(0, 14),
                    ha="center", fontsize=9, bbox=dict(fc="white", ec="none", alpha=0.8))
    handles = ax.get_legend_handles_labels()[0]
    boundary = Line2D([], [], color="k", label="decision boundary, P(1) = 0.5")
    ax.legend(handles=[*handles, boundary], loc="upper center", bbox_to_anchor=(0.5, -0.12),
              ncol=2, fontsize=8, markerscale=0.6)
    fig.colorbar(filled, label="P(x1 xor x2 = 1), the network's output", ticks=[0, 0.5, 1])
    right = int(((probs > 0.5) == (TARGETS[:, 0] > 0.5)).sum())
    ax.set(title=f"{args.hidden} {args.activation} hidden units bend the plane: {right} of 4 "
           f"points right\n(loss {loss:.3f} after {args.steps} steps; one neuron gets at most "
           "3)", xlabel="input x1", ylabel="input x2")
    save_figure(fig, output_path(args, f"xor_{args.activation}.png"))


if __name__ == "__main__":
    sys.exit(main())
