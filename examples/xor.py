"""XOR: the smallest problem one neuron cannot solve and two layers can.

XOR is 1 when exactly one of its two inputs is 1. No single straight line separates those
points from the others, so one neuron (a weighted sum and a threshold) fails. A hidden layer
bends the input space: each hidden unit draws a line, and the output unit combines them.
This script trains a 2-8-1 network with plain gradient descent on the four points, prints
the truth table it learned and plots its decision boundary.

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
    parser.add_argument("--hidden", type=int, default=8, help="hidden units")
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
    plot(args, model)
    print(f"final loss {loss.item():.4f}: XOR {'solved' if solved else 'NOT solved'}")
    return 0 if solved else 1


def plot(args, model: nn.Module) -> None:
    """P(output = 1) over the unit square, with the four training points."""
    plt = pyplot()
    if plt is None:
        return
    xs, ys = np.meshgrid(np.linspace(-0.5, 1.5, 150), np.linspace(-0.5, 1.5, 150))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    with no_grad():
        probs = model(Tensor(grid, device=args.device)).sigmoid().numpy().reshape(xs.shape)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    filled = ax.contourf(xs, ys, probs, levels=20, cmap="RdBu_r", vmin=0, vmax=1)
    ax.contour(xs, ys, probs, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(INPUTS[:, 0], INPUTS[:, 1], c=TARGETS[:, 0], cmap="RdBu_r", edgecolors="k",
               s=120, vmin=0, vmax=1)
    fig.colorbar(filled, label="P(xor = 1)")
    ax.set(title=f"XOR with {args.hidden} {args.activation} hidden units", xlabel="x1",
           ylabel="x2")
    save_figure(fig, output_path(args, "xor.png"))


if __name__ == "__main__":
    sys.exit(main())
