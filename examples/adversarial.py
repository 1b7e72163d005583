"""Adversarial examples: tiny, deliberate pixel changes that fool a trained classifier.

Backpropagation gives the gradient of the loss with respect to the input pixels as easily
as with respect to the weights. The fast gradient sign method (FGSM) moves every pixel by
epsilon in the direction that increases the loss, x' = clip(x + eps * sign(dL/dx), 0, 1).
Random changes of the same size barely matter; the adversarial ones wreck the accuracy,
though a person still reads the same digit. This script trains a quick digits model (or
loads --weights from train_digits.py), attacks the test set for several epsilons (pixels in
[0, 1]), and plots accuracy against epsilon next to a few perturbed digits.

    python examples/adversarial.py --out examples/out
"""

from __future__ import annotations

import sys

import numpy as np
from common import (
    Progress,
    add_model_options,
    base_parser,
    evaluate,
    load_digits,
    logits_of,
    one_blas_thread,
    output_path,
    pyplot,
    save_figure,
    trained_model,
)

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor

EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def input_gradient_sign(model, digits, device) -> np.ndarray:
    """sign(dL/dpixels) for every test image. Standardising divides by a positive std, so
    the sign with respect to the standardised input is the sign with respect to the pixels."""
    x = Tensor(digits.x_test, device=device, requires_grad=True)
    F.cross_entropy(model(x), Tensor(digits.y_test, device=device)).backward()
    return np.sign(x.grad.numpy())


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    add_model_options(parser, epochs=15)
    args = parser.parse_args(argv)
    digits = load_digits(args.seed)
    model = trained_model(args, digits)
    sign = input_gradient_sign(model, digits, args.device)
    noise = np.random.default_rng(args.seed).choice([-1.0, 1.0], size=sign.shape)

    def accuracy(direction: np.ndarray, eps: float) -> float:
        pixels = np.clip(digits.pixels_test + eps * direction, 0.0, 1.0)
        return evaluate(model, digits.standardise(pixels), digits.y_test, args.device)[1]

    results = {eps: (accuracy(noise, eps), accuracy(sign, eps))
               for eps in Progress(EPSILONS, "attacking", unit="epsilon")}
    print("epsilon | random noise | FGSM")
    for eps, (random_acc, fgsm_acc) in results.items():
        print(f"  {eps:<5} |    {random_acc:.4f}    | {fgsm_acc:.4f}")
    plot(args, model, digits, sign, results)
    clean, attacked = results[0.0][1], results[max(EPSILONS)][1]
    print(f"FGSM at epsilon {max(EPSILONS)}: accuracy {clean:.4f} -> {attacked:.4f}")
    return 0 if attacked < clean else 1


def plot(args, model, digits, sign, results) -> None:
    """Accuracy against epsilon; five test digits the model reads right, before and after an
    eps=0.2 attack, each with its true and predicted digit."""
    plt = pyplot()
    if plt is None:
        return
    eps = 0.2
    clean_predictions = logits_of(model, digits.x_test, args.device).argmax(axis=1).numpy()
    shown = np.flatnonzero(clean_predictions == digits.y_test)[:5]
    attacked = np.clip(digits.pixels_test[shown] + eps * sign[shown], 0, 1)
    rows = [("clean", digits.pixels_test[shown], clean_predictions[shown]),
            (f"FGSM, eps={eps}", attacked,
             logits_of(model, digits.standardise(attacked), args.device).argmax(axis=1).numpy())]
    fig = plt.figure(figsize=(12, 5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.1])
    ax = left.subplots()
    ax.plot(list(results), [r[1] for r in results.values()], "o-", label="FGSM")
    ax.plot(list(results), [r[0] for r in results.values()], "s--", label="random signs")
    ax.axvline(eps, color="0.6", ls=":", label=f"eps={eps}: the digits on the right")
    ax.set(title="test accuracy under attack", xlabel="epsilon: change per pixel (pixels in "
           "[0, 1])", ylabel="test accuracy (fraction right)", ylim=(0, 1.02))
    ax.legend()
    right.suptitle("test digits before and after the attack (red: misread)")
    clean, random_acc, fgsm = results[0.0][1], *results[eps]
    fig.suptitle(f"FGSM: moving every pixel by eps = {eps} along the sign of the input gradient "
                 f"drops test accuracy from {100 * clean:.0f}% to {100 * fgsm:.0f}%\n(random "
                 f"signs of the same size: {100 * random_acc:.0f}%)")
    cells = right.subplots(2, len(shown))
    for row, (name, images, predicted) in enumerate(rows):
        for i, index in enumerate(shown):
            true = digits.y_test[index]
            cell = cells[row, i]
            cell.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            cell.set_title(f"true {true}\npredicted {predicted[i]}", fontsize=9,
                           color="C3" if predicted[i] != true else "k")
            cell.set_xticks([])
            cell.set_yticks([])
        cells[row, 0].set_ylabel(name)
    save_figure(fig, output_path(args, "adversarial.png"))


if __name__ == "__main__":
    sys.exit(main())
