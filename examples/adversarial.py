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
    add_model_options,
    base_parser,
    evaluate,
    load_digits,
    logits_of,
    output_path,
    pyplot,
    save_figure,
    trained_model,
)
from tqdm import tqdm

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor

EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def input_gradient_sign(model, digits, device) -> np.ndarray:
    """sign(dL/dpixels) for every test image. Standardising divides by a positive std, so
    the sign with respect to the standardised input is the sign with respect to the pixels."""
    x = Tensor(digits.x_test, device=device, requires_grad=True)
    F.cross_entropy(model(x), Tensor(digits.y_test, device=device)).backward()
    return np.sign(x.grad.numpy())


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
               for eps in tqdm(EPSILONS, desc="epsilons")}
    print("epsilon | random noise | FGSM")
    for eps, (random_acc, fgsm_acc) in results.items():
        print(f"  {eps:<5} |    {random_acc:.4f}    | {fgsm_acc:.4f}")
    plot(args, model, digits, sign, results)
    clean, attacked = results[0.0][1], results[max(EPSILONS)][1]
    print(f"FGSM at epsilon {max(EPSILONS)}: accuracy {clean:.4f} -> {attacked:.4f}")
    return 0 if attacked < clean else 1


def plot(args, model, digits, sign, results) -> None:
    """Accuracy against epsilon, and five test digits before and after an eps=0.2 attack."""
    plt = pyplot()
    if plt is None:
        return
    eps, shown = 0.2, np.arange(5)
    adversarial = np.clip(digits.pixels_test[shown] + eps * sign[shown], 0, 1)
    predicted = [logits_of(model, digits.standardise(p), args.device).argmax(axis=1).numpy()
                 for p in (digits.pixels_test[shown], adversarial)]
    fig = plt.figure(figsize=(12, 4.5))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(list(results), [r[1] for r in results.values()], "o-", label="FGSM")
    ax.plot(list(results), [r[0] for r in results.values()], "s--", label="random signs")
    ax.set(title="test accuracy under attack", xlabel="epsilon (pixels in [0, 1])",
           ylabel="accuracy", ylim=(0, 1.02))
    ax.legend()
    for row, (images, labels, name) in enumerate([(digits.pixels_test[shown], predicted[0],
                                                   "clean"),
                                                  (adversarial, predicted[1], f"eps={eps}")]):
        for i in shown:
            cell = fig.add_subplot(2, 10, 10 * row + 6 + i)
            cell.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            cell.set_title(f"{name}\npred {labels[i]}", fontsize=8)
            cell.axis("off")
    save_figure(fig, output_path(args, "adversarial.png"))


if __name__ == "__main__":
    sys.exit(main())
