"""Gradient descent with a learning rate that is too small, about right, and too large.

Gradient descent repeats one step: p <- p - lr * dL/dp. On the long, narrow valley
L(x, y) = (x^2 + 10 y^2) / 2 the steep direction limits the step: with lr above 2/10 each step
overshoots across the valley by more than it started, and the loss explodes. Too small, and
the walk along the flat direction takes forever. This script follows the three paths from
the same start, prints the final losses and plots the paths over the contours of L.

    python examples/learning_rate.py --steps 40 --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import base_parser, output_path, pyplot, save_figure

from tinygrad_nv import Tensor, no_grad

CURVATURE = (1.0, 10.0)  # the valley's curvature along x and y
START = (-4.0, 1.5)
VIEW = (5.0, 3.0)  # the plot shows |x| <= 5, |y| <= 3
RATES = {"too small": 0.01, "good": 0.15, "too large": 0.21}


def loss_fn(p: Tensor) -> Tensor:
    return (Tensor(np.array(CURVATURE), device=p.device) * p * p).sum() / 2


def descend(lr: float, steps: int, device: str | None) -> np.ndarray:
    """The points visited by `steps` steps of gradient descent from START."""
    p = Tensor(np.array(START), device=device, requires_grad=True)
    path = [p.numpy().copy()]
    for _ in range(steps):
        loss_fn(p).backward()
        with no_grad():
            p = (p - lr * p.grad).requires_grad_()  # a fresh leaf: its .grad starts empty
        path.append(p.numpy().copy())
    return np.array(path)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--steps", type=int, default=40, help="gradient steps per rate")
    args = parser.parse_args(argv)
    paths, losses = {}, {}
    for name, lr in RATES.items():
        paths[name] = descend(lr, args.steps, args.device)
        losses[name] = [loss_fn(Tensor(p)).item() for p in paths[name]]
    plot(args, paths, losses)
    start = losses["good"][0]
    for name, lr in RATES.items():
        verdict = "diverged" if losses[name][-1] > start else "converging"
        print(f"lr = {lr:<5} ({name:9s}): loss {start:.3f} -> {losses[name][-1]:.4g} "
              f"after {args.steps} steps ({verdict})")
    ok = losses["good"][-1] < min(losses["too small"][-1], losses["too large"][-1])
    return 0 if ok else 1


def plot(args, paths: dict[str, np.ndarray], losses: dict[str, list[float]]) -> None:
    """Each path over the contours of L, cut where it leaves the view, with the minimum
    marked; the loss per step on a log scale."""
    plt = pyplot()
    if plt is None:
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
    xs, ys = np.meshgrid(np.linspace(-VIEW[0], VIEW[0], 200), np.linspace(-VIEW[1], VIEW[1], 200))
    ax.contour(xs, ys, (CURVATURE[0] * xs**2 + CURVATURE[1] * ys**2) / 2,
               levels=np.geomspace(0.05, 50, 12), colors="0.8", linewidths=0.8)
    for name, path in paths.items():
        label = f"lr={RATES[name]} ({name})"
        outside = np.flatnonzero((np.abs(path) > VIEW).any(axis=1))
        if outside.size:  # keep the first point outside: the line runs off the edge there
            path = path[:outside[0] + 1]
            label += f": leaves the view at step {outside[0]}"
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, label=label)
        bx.semilogy(losses[name], label=f"lr={RATES[name]} ({name})")
    ax.plot(0, 0, "k*", ms=14, zorder=5, label="minimum (0, 0)")
    ax.set(title="paths over the loss contours", xlabel="x", ylabel="y",
           xlim=(-VIEW[0], VIEW[0]), ylim=(-VIEW[1], VIEW[1]))
    bx.set(title="loss per step", xlabel="step", ylabel="loss L(x, y) (log scale)")
    ax.legend(fontsize=8, loc="lower right")
    bx.legend(fontsize=8)
    final, steps = {name: loss[-1] for name, loss in losses.items()}, len(paths["good"]) - 1
    fig.suptitle(f"After {steps} steps from loss {losses['good'][0]:.3g}: lr = {RATES['good']} "
                 f"reaches {final['good']:.1g}, {RATES['too small']} is still at "
                 f"{final['too small']:.2g}, {RATES['too large']} (above 2 / curvature 10) "
                 f"blows up to {final['too large']:.2g}")
    save_figure(fig, output_path(args, "learning_rate.png"))


if __name__ == "__main__":
    sys.exit(main())
