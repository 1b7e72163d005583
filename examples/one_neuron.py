"""One neuron, computed and differentiated by hand and by backward().

A neuron takes a weighted sum of its inputs plus a bias, z = w.x + b, and squashes it with an
activation, a = f(z). Backpropagation gives how much the output moves when each weight, the
bias or each input moves: da/dw_i = f'(z) x_i, da/db = f'(z), da/dx_i = f'(z) w_i. This
script builds the neuron with weights (0.8, -0.5, 1.2) and bias 0.3, runs backward() for
ReLU, sigmoid and tanh, and checks every gradient against those formulas.

    python examples/one_neuron.py --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import base_parser, output_path, pyplot, save_figure

from tinygrad_nv import Tensor

WEIGHTS, BIAS = [0.8, -0.5, 1.2], 0.3
INPUTS = [[1.0, 2.0, 0.5], [0.5, 1.0, -0.2], [-1.0, 0.4, -0.3], [0.3, -0.6, 0.9]]
ACTIVATIONS = {  # name: (derivative as a function of z, of a)
    "relu": lambda z, a: float(z > 0),
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a * a,
}
FORMULAS = {"relu": "f'(z) = 1 if z > 0, else 0", "sigmoid": "f'(z) = a (1 - a)",
            "tanh": "f'(z) = 1 - a^2"}


def neuron(x: list[float], activation: str,
           device: str | None = None) -> tuple[float, float, dict[str, np.ndarray]]:
    """z, a and the gradients of a with respect to w, b and x, from backward()."""
    w = Tensor(np.array(WEIGHTS), device=device, requires_grad=True)  # float64 stays float64
    b = Tensor(np.array(BIAS), device=device, requires_grad=True)
    xt = Tensor(np.array(x), device=device, requires_grad=True)
    z = (w * xt).sum() + b
    a = getattr(z, activation)()
    a.backward()
    return z.item(), a.item(), {"w": w.grad.numpy(), "b": b.grad.numpy(), "x": xt.grad.numpy()}


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__).parse_args(argv)
    print(f"neuron: weights {WEIGHTS}, bias {BIAS}\n")
    worst, slopes = 0.0, {name: [] for name in ACTIVATIONS}
    for x in INPUTS:
        z = float(np.dot(WEIGHTS, x) + BIAS)
        print(f"x = {x}   z = w.x + b = {z:+.4f}")
        for name, derivative in ACTIVATIONS.items():
            z_t, a, grads = neuron(x, name, args.device)
            d = derivative(z, a)
            expected = {"w": d * np.array(x), "b": np.array(d), "x": d * np.array(WEIGHTS)}
            error = max(float(np.abs(grads[k] - expected[k]).max()) for k in grads)
            worst = max(worst, error, abs(z_t - z))
            slopes[name].append(float(grads["b"]))
            print(f"  {name:8s} a={a:.4f}  f'(z)={d:.4f}  da/dw={np.round(grads['w'], 4)}  "
                  f"da/db={grads['b']:.4f}  da/dx={np.round(grads['x'], 4)}  "
                  f"|backward - formula|={error:.0e}")
        print()
    plot(args, slopes, worst)
    ok = worst < 1e-12
    print(f"gradients match the formulas: {'yes' if ok else 'NO'} (max difference {worst:.1e})")
    return 0 if ok else 1


def plot(args, slopes: dict[str, list[float]], worst: float) -> None:
    """Each activation and its slope f'(z); at the inputs' z the tangent, and the slope that
    backward() returned (da/db = f'(z))."""
    plt = pyplot()
    if plt is None:
        return
    zs = np.linspace(-3, 3, 200)
    points = np.array([float(np.dot(WEIGHTS, x) + BIAS) for x in INPUTS])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    for ax, name in zip(axes, ACTIVATIONS, strict=True):
        a = getattr(Tensor(zs), name)().numpy()
        ax.plot(zs, a, "C0", label="activation a = f(z)")
        ax.plot(zs, [ACTIVATIONS[name](z, y) for z, y in zip(zs, a, strict=True)], "C1--",
                label="slope f'(z), formula")
        at = getattr(Tensor(points), name)().numpy()
        ax.scatter(points, at, color="C3", zorder=3, label="our 4 inputs' z and a")
        for z, y, slope in zip(points, at, slopes[name], strict=True):
            ax.plot([z - 0.7, z + 0.7], [y - 0.7 * slope, y + 0.7 * slope], "C3", lw=2.5,
                    alpha=0.6, label="tangent: slope f'(z)" if z == points[0] else None)
        ax.scatter(points, slopes[name], marker="x", s=60, color="k", zorder=4,
                   label="f'(z) from backward() (da/db)")
        ax.set(title=f"{name}: {FORMULAS[name]}", xlabel="z = w.x + b",
               ylabel="a = f(z) and its slope f'(z)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=9)
    match = "exactly" if worst == 0 else f"to {worst:.0e}"
    fig.suptitle("One neuron, a = f(w.x + b): backward() gives the slope f'(z) at each input "
                 f"(the red tangents' slope), equal to the formula {match}")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, output_path(args, "one_neuron.png"))


if __name__ == "__main__":
    sys.exit(main())
