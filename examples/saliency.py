"""Looking inside a trained digits network: which pixels matter, what hidden units detect.

A saliency map is the gradient of the right digit's score with respect to the input pixels:
red where more ink would raise the score, blue where it would lower it. It costs one
backward pass, the same one that training uses, only asking for d(score)/d(input) instead of
d(loss)/d(weights). The gradient says what a small change would do, not what the ink that is
there did; integrated gradients answer that: the gradient averaged along the straight path
from a blank image to the digit, times the ink, gives each pixel's share of the score, and
the shares add up to score(digit) - score(blank). Both are averaged over all test images of
a digit and drawn beside the digit's mean image. A first-layer hidden unit of
the MLP computes a weighted sum of the 64 pixels, so its 64 weights, drawn as an 8x8 image,
are the pattern it responds to; next to each we show the test digit that excites it most
(read by a forward hook on the hidden layer), and print which digits it votes for.

    python examples/saliency.py --out examples/out    # saliency_mlp.png, saliency_units.png
"""

from __future__ import annotations

import sys

import numpy as np
from common import (
    add_model_options,
    base_parser,
    load_digits,
    logits_of,
    one_blas_thread,
    output_path,
    pyplot,
    save_figure,
    trained_model,
)

from tinygrad_nv import Tensor, no_grad

UNITS = 10  # hidden units shown
STEPS = 32  # points on the path from the blank image to the digit (integrated gradients)


def input_gradients(model, x: np.ndarray, labels: np.ndarray, device) -> np.ndarray:
    """d score[label] / d x for each row of x: one backward pass for the whole batch."""
    xt = Tensor(x, device=device, requires_grad=True)
    scores = model(xt)
    picked = Tensor(np.eye(scores.shape[1], dtype=np.float32)[labels], device=device)
    (scores * picked).sum().backward()
    return xt.grad.numpy()


def integrated_gradients(model, x: np.ndarray, labels: np.ndarray, blank: np.ndarray,
                         device) -> np.ndarray:
    """Each input's share of the score: (x - blank) times the gradient averaged over STEPS
    points between blank and x (midpoints). The shares of a row sum to about
    score(x) - score(blank)."""
    path = [input_gradients(model, (blank + (k + 0.5) / STEPS * (x - blank)).astype(np.float32),
                            labels, device) for k in range(STEPS)]
    return (x - blank) * np.mean(path, axis=0)


def per_class(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The mean row of `values` for each digit 0-9: (10, columns)."""
    return np.stack([values[labels == d].mean(axis=0) for d in range(10)])


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


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    add_model_options(parser, epochs=15)
    args = parser.parse_args(argv)
    digits = load_digits(args.seed)
    model = trained_model(args, digits)
    x, y = digits.x_test, digits.y_test
    right = logits_of(model, x, args.device).argmax(axis=1).numpy() == y
    blank = digits.standardise(np.zeros((1, 64), dtype=np.float32))
    shares = integrated_gradients(model, x, y, blank, args.device)
    scores = logits_of(model, np.concatenate([x, blank]), args.device).numpy()
    gain = scores[np.arange(len(y)), y] - scores[-1, y]
    error = float(np.abs(shares.sum(axis=1) - gain).max() / np.abs(gain).max())
    print(f"integrated gradients: each digit's shares add up to its score gain over a blank "
          f"image to within {100 * error:.1f}% of the largest gain")
    attribution = per_class(shares, y)
    for d, share in enumerate(attribution):
        top = np.argsort(-share)[:3]
        print(f"digit {d}: {100 * right[y == d].mean():.0f}% right; its ink adds most to its "
              f"score at pixels (row, col) {[divmod(int(i), 8) for i in top]}")
    # d score / d pixel: the inputs are (pixel - mean) / std
    plain = per_class(input_gradients(model, x, y, args.device), y) / digits.std
    plot_saliency(args, per_class(digits.pixels_test, y), plain, attribution,
                  per_class(right, y), error)
    if args.model == "mlp":
        units = hidden_units(model, x, args.device)
        for unit, vote in enumerate(units[2]):
            print(f"hidden unit {unit}: pushes up digit {vote.argmax()}, down digit "
                  f"{vote.argmin()}")
        plot_units(args, *units, digits.pixels_test)
    return 0


def bare(axes) -> None:
    """No ticks on image axes."""
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])


def plot_saliency(args, means, plain, attribution, right, error: float) -> None:
    """Per digit: the mean test image, the plain input gradient and the integrated gradients
    (both averaged over the digit's test images), each map scaled to its largest value."""
    plt = pyplot()
    if plt is None:
        return
    fig = plt.figure(figsize=(14, 5.8), layout="constrained")
    axes = fig.subplots(3, 10)
    for d in range(10):
        axes[0, d].imshow(means[d].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[0, d].set_title(f"digit {d}: {100 * right[d]:.0f}% right", fontsize=9)
    rows = (("plain gradient\n(what more ink\nwould do)", plain),
            ("integrated\ngradients (what\nthe ink did)", attribution))
    for row, (name, maps) in enumerate(rows, start=1):
        for d in range(10):  # each map on its own scale: its largest |value| is 1
            limit = np.abs(maps[d]).max()
            shown = axes[row, d].imshow(maps[d].reshape(8, 8) / limit, cmap="RdBu_r", vmin=-1,
                                        vmax=1)
            axes[row, d].contour(means[d].reshape(8, 8), levels=[0.4], colors="0.3",
                                 linewidths=0.6)
        axes[row, 0].set_ylabel(name, fontsize=9)
    fig.colorbar(shown, ax=axes[1:, :], shrink=0.6, label="relative to the map's largest")
    axes[0, 0].set_ylabel("mean test image", fontsize=9)
    bare(axes)
    fig.suptitle(f"Which pixels make the {args.model.upper()} say each digit "
                 f"({100 * right.mean():.0f}% of the test digits right): red raises the right "
                 "digit's score, blue lowers it\n(averaged over each digit's test images; grey "
                 "line: the mean image's ink; the integrated-gradient shares add up to the score "
                 f"gain over a blank image, to {100 * error:.1f}%)")
    save_figure(fig, output_path(args, f"saliency_{args.model}.png"))


def plot_units(args, weights, top_input, votes, pixels) -> None:
    """The weights of the first-layer hidden units and the test image each responds to most."""
    plt = pyplot()
    if plt is None:
        return
    fig = plt.figure(figsize=(14, 3.6), layout="constrained")
    axes = fig.subplots(2, UNITS)
    limit = np.abs(weights).max()
    for i in range(UNITS):
        shown = axes[0, i].imshow(weights[i].reshape(8, 8), cmap="RdBu_r", vmin=-limit,
                                  vmax=limit)
        axes[0, i].set_title(f"unit {i}: votes for {votes[i].argmax()}", fontsize=8)
        axes[1, i].imshow(pixels[top_input[i]].reshape(8, 8), cmap="gray_r")
    fig.colorbar(shown, ax=axes[0, :], shrink=0.9, label="weight")
    axes[0, 0].set_ylabel("unit weights", fontsize=9)
    axes[1, 0].set_ylabel("top test image", fontsize=9)
    bare(axes)
    fig.suptitle(f"The {UNITS} most variable of the MLP's first-layer hidden units: the ink "
                 "pattern each responds to (red: ink there excites it) and the test image "
                 "that excites it most")
    save_figure(fig, output_path(args, "saliency_units.png"))


if __name__ == "__main__":
    sys.exit(main())
