"""Looking inside a trained digits network: which pixels matter, what hidden units detect.

A saliency map is the gradient of the right class's score with respect to the input pixels:
the pixels where a small change moves the score most. It costs one backward pass, the same
one that training uses, only asking for d(score)/d(input) instead of d(loss)/d(weights).
A first-layer hidden unit of the MLP computes a weighted sum of the 64 pixels, so its 64
weights, drawn as an 8x8 image, are the pattern it responds to; next to each we show the
test digit that excites it most (read by a forward hook on the hidden layer), and print
which digits it votes for.

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
    the input that activates each most, and each unit's vote per class (UNITS, 10). The
    activations are read by a forward hook on the first ReLU during an ordinary forward."""
    first, relu, last = model[0], model[1], model[-1]
    seen = []
    handle = relu.register_forward_hook(lambda module, args, out: seen.append(out.numpy()))
    with no_grad():
        model(Tensor(x, device=device))
    handle.remove()
    activations = seen[0]
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
    plot(args, digits.pixels_test[shown], digits.y_test[shown], maps, predicted, units,
         digits.pixels_test)
    return 0


def plot(args, images, labels, maps, predicted, units, pixels) -> None:
    """Top: one test digit per class, its true and predicted digit, and its saliency map.
    Bottom (MLP): the weights of hidden units and the test image each responds to most."""
    plt = pyplot()
    if plt is None:
        return
    fig = plt.figure(figsize=(13, 3.3 if units is None else 6.6), layout="constrained")
    parts = [fig] if units is None else fig.subfigures(2, 1)
    top = parts[0].subplots(2, 10)
    parts[0].suptitle("saliency: how much each pixel moves the score of the true digit "
                      "(|d score / d pixel|, bright = most; red title: misclassified)")
    for i in range(10):
        wrong = predicted[i] != labels[i]
        top[0, i].imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        top[0, i].set_title(f"true {labels[i]}, predicted {predicted[i]}", fontsize=8,
                            color="C3" if wrong else "k")
        shown = top[1, i].imshow(maps[i].reshape(8, 8), cmap="hot", vmin=0, vmax=maps.max())
    parts[0].colorbar(shown, ax=top[1, :], shrink=0.9, label="|d score / d pixel|")
    rows = [(top, ["test digit", "saliency map"])]
    if units is not None:
        weights, top_input, votes = units
        bottom = parts[1].subplots(2, 10)
        parts[1].suptitle("first-layer hidden units: their 64 input weights (red: ink there "
                          "excites the unit) and the test image that excites each most")
        limit = np.abs(weights).max()
        for i in range(10):
            shown = bottom[0, i].imshow(weights[i].reshape(8, 8), cmap="RdBu_r",
                                        vmin=-limit, vmax=limit)
            bottom[0, i].set_title(f"unit {i}: votes for {votes[i].argmax()}", fontsize=8)
            bottom[1, i].imshow(pixels[top_input[i]].reshape(8, 8), cmap="gray_r")
        parts[1].colorbar(shown, ax=bottom[0, :], shrink=0.9, label="weight")
        rows.append((bottom, ["unit weights", "top test image"]))
    for axes, names in rows:
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
        for ax, name in zip(axes[:, 0], names, strict=True):
            ax.set_ylabel(name, fontsize=9)
    save_figure(fig, output_path(args, f"saliency_{args.model}.png"))


if __name__ == "__main__":
    sys.exit(main())
