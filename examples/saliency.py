"""Looking inside a trained digits network: which pixels matter, what hidden units detect.

A saliency map is the gradient of the right class's score with respect to the input pixels:
the pixels where a small change moves the score most. It costs one backward pass, the same
one that training uses, only asking for d(score)/d(input) instead of d(loss)/d(weights).
A first-layer hidden unit of the MLP computes a weighted sum of the 64 pixels, so its 64
weights, drawn as an 8x8 image, are the pattern it responds to; next to each we show the
test digit that excites it most, and print which digits it votes for.

    python examples/saliency.py --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import (
    add_model_options,
    base_parser,
    load_digits,
    logits_of,
    output_path,
    pyplot,
    save_figure,
    trained_model,
)

from tinygrad_nv import Tensor, no_grad

UNITS = 10  # hidden units shown


def saliency(model, x: np.ndarray, labels: np.ndarray, device) -> np.ndarray:
    """|d score[label] / d x| for each row of x: one backward pass for the whole batch."""
    xt = Tensor(x, device=device, requires_grad=True)
    scores = model(xt)
    picked = Tensor(np.eye(scores.shape[1], dtype=np.float32)[labels], device=device)
    (scores * picked).sum().backward()
    return np.abs(xt.grad.numpy())


def hidden_units(model, x: np.ndarray, device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the UNITS most variable first-layer units: their weights (UNITS, 64), the index of
    the input that activates each most, and each unit's vote per class (UNITS, 10)."""
    first, last = model[0], model[-1]
    with no_grad():
        activations = first(Tensor(x, device=device)).relu().numpy()
    units = np.argsort(-activations.std(axis=0))[:UNITS]
    votes = last.weight.numpy()[:, units].T
    return first.weight.numpy()[units], activations[:, units].argmax(axis=0), votes


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    add_model_options(parser, epochs=15)
    args = parser.parse_args(argv)
    digits = load_digits(args.seed)
    model = trained_model(args, digits)
    x_test = digits.x_test
    shown = np.array([np.flatnonzero(digits.y_test == d)[0] for d in range(10)])
    maps = saliency(model, x_test[shown], digits.y_test[shown], args.device)
    predicted = logits_of(model, x_test[shown], args.device).argmax(axis=1).numpy()
    for d, (p, m) in enumerate(zip(predicted, maps, strict=True)):
        top = np.argsort(-m)[:3]
        print(f"digit {d}: predicted {p}; most salient pixels (row, col): "
              f"{[divmod(int(i), 8) for i in top]}")
    units = None
    if args.model == "mlp":
        units = hidden_units(model, x_test, args.device)
        for unit, vote in enumerate(units[2]):
            print(f"hidden unit {unit}: pushes up digit {vote.argmax()}, down digit "
                  f"{vote.argmin()}")
    plot(args, digits.pixels_test[shown], maps, predicted, units, digits.pixels_test)
    return 0


def plot(args, images, maps, predicted, units, pixels) -> None:
    plt = pyplot()
    if plt is None:
        return
    rows = 2 if units is None else 4
    fig, axes = plt.subplots(rows, 10, figsize=(12, 1.35 * rows + 0.4))
    for i in range(10):
        axes[0, i].imshow(images[i].reshape(8, 8), cmap="gray_r")
        axes[0, i].set_title(f"{i} (pred {predicted[i]})", fontsize=8)
        axes[1, i].imshow(maps[i].reshape(8, 8), cmap="hot")
        if units is not None:
            weights, top, votes = units
            limit = np.abs(weights[i]).max()
            axes[2, i].imshow(weights[i].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[2, i].set_title(f"unit {i}: +{votes[i].argmax()}", fontsize=8)
            axes[3, i].imshow(pixels[top[i]].reshape(8, 8), cmap="gray_r")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    labels = ["test digit", "saliency", "unit weights", "top input"]
    for ax, label in zip(axes[:, 0], labels, strict=False):
        ax.set_ylabel(label, fontsize=8)
    save_figure(fig, output_path(args, f"saliency_{args.model}.png"))


if __name__ == "__main__":
    sys.exit(main())
