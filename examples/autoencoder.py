"""Compress handwritten digits to two numbers and back: a convolutional autoencoder.

The encoder squeezes each 8x8 image (scikit-learn's digits, no download) through two strided
3x3 convolutions (8x8 -> 4x4 -> 2x2) and a linear layer into a code of `--code` numbers; the
decoder grows it back with a linear layer and two transposed convolutions (2x2 -> 4x4 -> 8x8).
Nothing tells the network which digit it sees: it only learns to reproduce its input, with the
mean squared error of the pixels as the loss. Yet similar digits end up with similar codes:
the second picture places every test image at its code (the first two principal axes of the
codes when --code is above 2) and colours it by its label.

    python examples/autoencoder.py               # about 15 s on 2 cores
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import (
    Progress,
    base_parser,
    load_digits,
    one_blas_thread,
    output_path,
    pyplot,
    save_figure,
)

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Device, Tensor, no_grad, save
from tinygrad_nv.data import DataLoader, TensorDataset

# test reconstruction error the default settings must beat (pixels in [0, 1]; predicting the
# mean training image scores about 0.074, the default run about 0.041)
TARGET_MSE = 0.05


class AutoEncoder(nn.Module):
    """Conv2d down to a code, ConvTranspose2d back up to the image."""

    def __init__(self, code: int, channels: int = 16):
        super().__init__()
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1), nn.ReLU(),          # 8x8 -> 4x4
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),      # 4x4 -> 2x2
            nn.Flatten(), nn.Linear(8 * c, code))
        self.decoder = nn.Sequential(
            nn.Linear(code, 8 * c), nn.ReLU(), nn.Unflatten(1, (2 * c, 2, 2)),
            nn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1),  # -> 4x4
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 3, stride=2, padding=1, output_padding=1),      # -> 8x8
            nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


@one_blas_thread
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--code", type=int, default=2, help="numbers per code")
    parser.add_argument("--epochs", type=int, default=60, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=64, help="images per Adam step")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the init")
    args = parser.parse_args(argv)

    Tensor.manual_seed(args.seed)
    digits = load_digits(args.seed)
    model = AutoEncoder(args.code).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    x_train = Tensor(digits.pixels_train.reshape(-1, 1, 8, 8), device=args.device)
    x_test = Tensor(digits.pixels_test.reshape(-1, 1, 8, 8), device=args.device)
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed)
    print(f"autoencoder: {sum(p.numel() for p in model.parameters())} parameters, code of "
          f"{args.code}, {len(x_train)} training / {len(x_test)} test images, device "
          f"{Device.canonicalize(args.device)}")
    start = time.perf_counter()
    curve = []
    progress = Progress(range(args.epochs), "autoencoder", unit="epoch",
                        every=max(1, args.epochs // 10))
    for _ in progress:
        total = 0.0
        for (x,) in loader:
            loss = F.mse_loss(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
        model.eval()
        with no_grad():
            test_mse = F.mse_loss(model(x_test), x_test).item()
        model.train()
        curve.append((total / len(x_train), test_mse))
        progress.report(train_mse=curve[-1][0], test_mse=test_mse)
    seconds = time.perf_counter() - start
    test_mse = curve[-1][1] if curve else float("nan")
    baseline = float(((digits.pixels_test - digits.pixels_train.mean(0)) ** 2).mean())
    print(f"trained in {seconds:.1f} s; test reconstruction MSE {test_mse:.4f} (predicting "
          f"the mean image: {baseline:.4f})")

    path = output_path(args, "autoencoder.safetensors")
    save(model.state_dict(), path)
    print(f"saved weights to {path}")
    model.eval()
    with no_grad():
        codes = model.encoder(x_test).numpy()
        rebuilt = model.decoder(Tensor(codes, device=args.device)).numpy().reshape(-1, 64)
    read = looks_like(rebuilt, digits.pixels_train, digits.y_train)
    readable = float((looks_like(digits.pixels_test, digits.pixels_train, digits.y_train)
                      == digits.y_test).mean())
    print(f"read by their nearest training image, {100 * readable:.0f}% of the test digits "
          f"and {100 * (read == digits.y_test).mean():.0f}% of their reconstructions are the "
          "right digit")
    plot(args, digits, rebuilt, codes, read)
    failed = not test_mse < TARGET_MSE and args.epochs == parser.get_default("epochs") \
        and args.code == parser.get_default("code")
    if failed:
        print(f"error: the autoencoder should reach a test MSE below {TARGET_MSE}",
              file=sys.stderr)
    return 1 if failed else 0


def looks_like(images: np.ndarray, pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The digit each image (N, 64) looks like: the label of the nearest of `pixels`."""
    distances = (images**2).sum(1)[:, None] - 2 * images @ pixels.T + (pixels**2).sum(1)
    return labels[distances.argmin(axis=1)]


def plot(args, digits, rebuilt: np.ndarray, codes: np.ndarray, read: np.ndarray) -> None:
    """One test digit of each class, its code and its reconstruction (red where it looks like
    another digit); then the codes of all test images coloured by their digit."""
    plt = pyplot()
    if plt is None:
        return
    labels = digits.y_test
    shown = [int(np.flatnonzero(labels == d)[0]) for d in range(10)]
    fig, axes = plt.subplots(2, 10, figsize=(13, 3.9))
    for i, index in enumerate(shown):
        wrong = read[index] != labels[index]
        axes[0, i].imshow(digits.pixels_test[index].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[0, i].set_title(f"digit {labels[index]}", fontsize=9)
        axes[1, i].imshow(rebuilt[index].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        code = ", ".join(f"{c:.1f}" for c in codes[index][:3])
        axes[1, i].set_title(f"code ({code}{', ...' if codes.shape[1] > 3 else ''})\n"
                             + (f"looks like a {read[index]}" if wrong else "still a "
                                f"{labels[index]}"), fontsize=8, color="C3" if wrong else "k")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input\n(64 pixels)", fontsize=9)
    axes[1, 0].set_ylabel(f"rebuilt from\n{args.code} numbers", fontsize=9)
    wrong = read != labels
    pairs = np.bincount(10 * labels[wrong] + read[wrong], minlength=100) if wrong.any() else None
    common = "" if pairs is None else (f"; most often a {pairs.argmax() // 10} comes back as a "
                                       f"{pairs.argmax() % 10}")
    fig.suptitle(f"Each 8x8 digit squeezed into a code of {args.code} numbers, then rebuilt: "
                 f"{100 * wrong.mean():.0f}% of the test digits come back looking like "
                 f"another digit{common}\n(red; \"looks like\": the digit of the nearest "
                 "training image; digits whose codes overlap in autoencoder_codes.png get mixed "
                 "up)", fontsize=10)
    save_figure(fig, output_path(args, "autoencoder_reconstructions.png"))

    if codes.shape[1] > 2:  # the two directions along which the codes vary most
        centered = codes - codes.mean(0)
        codes = centered @ np.linalg.svd(centered, full_matrices=False)[2][:2].T
    axis = "code number" if args.code == 2 else "principal axis of the codes"
    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=10, vmin=-0.5,
                        vmax=9.5)
    for d in range(10):
        x, y = np.median(codes[labels == d], axis=0)
        ax.text(x, y, str(d), fontsize=15, weight="bold", ha="center", va="center",
                bbox=dict(boxstyle="circle", fc="white", ec=points.cmap(d / 10), alpha=0.85))
    fig.colorbar(points, ax=ax, ticks=range(10), label="the test image's digit (never shown "
                 "to the network)")
    ax.set(title=f"The {len(codes)} test images at their codes: the digits sort themselves "
           "into regions\nwithout a label (circled: the median code of each digit)",
           xlabel=f"{axis} 1", ylabel=f"{axis} 2")
    save_figure(fig, output_path(args, "autoencoder_codes.png"))


if __name__ == "__main__":
    sys.exit(main())
