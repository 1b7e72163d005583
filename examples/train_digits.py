"""Train a classifier for handwritten digits (scikit-learn's 8x8 images, no download).

Each image is 64 numbers; the network turns them into 10 scores, one per digit, and the
cross-entropy loss measures how much probability the softmax of those scores gives to the
right digit. Backpropagation gives the gradient of that loss for every weight and Adam
moves the weights a little against it, minibatch after minibatch. `--model mlp` is one
hidden layer of 256 ReLU units; `--model cnn` slides small 3x3 filters over the image first.
The test split is never trained on: its accuracy is what the model learned to generalise.

    python examples/train_digits.py                 # MLP, >= 97% test accuracy
    python examples/train_digits.py --model cnn     # CNN, >= 98%
    python examples/train_digits.py --amp bf16      # mixed precision (slow on the CPU)
    python examples/train_digits.py --jit           # the step recorded once, then replayed
"""

from __future__ import annotations

import sys
import time

from common import (
    LEARNING_RATES,
    Amp,
    add_amp_option,
    add_digits_options,
    add_jit_option,
    base_parser,
    digits_epochs_and_target,
    fit,
    load_digits,
    make_model,
    one_blas_thread,
    output_path,
    plot_training,
)

import tinygrad_nv.optim as optim
from tinygrad_nv import Device, Tensor, save


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    add_digits_options(parser, batch_help="images per Adam step")
    parser.add_argument("--lr", type=float, help="Adam learning rate at the start; it decays "
                        "along a cosine (default: 3e-3 for mlp, 2e-3 for cnn)")
    parser.add_argument("--save", help="where to write the weights (default: "
                        "digits_<model>.safetensors in --out); 'none' to skip")
    add_amp_option(parser)
    add_jit_option(parser)
    args = parser.parse_args(argv)
    epochs, target = digits_epochs_and_target(args)
    lr = LEARNING_RATES[args.model] if args.lr is None else args.lr

    Tensor.manual_seed(args.seed)
    digits = load_digits(args.seed)
    model = make_model(args.model).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    print(f"{args.model}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(digits.y_train)} training / {len(digits.y_test)} test images, device "
          f"{Device.canonicalize(args.device)}")
    start = time.perf_counter()
    history = fit(model, optimizer, digits, epochs, args.batch_size, args.seed, args.device,
                  desc=args.model, lines=True, cosine=True, amp=Amp(args.amp, args.device),
                  jitted=args.jit)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    if args.save != "none":
        path = args.save or output_path(args, f"digits_{args.model}.safetensors")
        save(model.state_dict(), path)
        print(f"saved weights to {path}")
    plot(args, history, target)
    accuracy = history[-1].test_accuracy if history else 0.0
    failed = accuracy < target and args.epochs is None and args.lr is None
    if failed:
        print(f"error: the {args.model} should reach {target:.2f} at the default settings",
              file=sys.stderr)
    print(f"test accuracy: {accuracy:.4f}")
    return 1 if failed else 0


def plot(args, history, target: float) -> None:
    """Loss and test accuracy per epoch (common.plot_training)."""
    dropout = " with dropout on" if args.model == "mlp" else ""
    train = {f"training images (mean over the epoch{dropout})": [h.train_loss for h in history]}
    plot_training(args, f"digits_{args.model}.png", args.model.upper(), train, history, target)


if __name__ == "__main__":
    sys.exit(main())
