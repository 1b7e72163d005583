"""Shared helpers for the examples: options, plotting, the digits data, models, training."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Device, Tensor, autocast, bfloat16, float16, jit, load, no_grad
from tinygrad_nv.amp import GradScaler
from tinygrad_nv.data import DataLoader, TensorDataset


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help keeps the docstring's line breaks and ends each option's help with its default
    (options whose default is None say in their own words what happens without them)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with the options every example has: --out and --device."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("examples/out"),
                        help="folder for PNGs and weights")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:N or emu (default: cuda if there is a GPU)")
    return parser


def add_amp_option(parser: argparse.ArgumentParser) -> None:
    """--amp: mixed precision (tinygrad_nv.autocast; fp16 adds a GradScaler)."""
    parser.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off",
                        help="mixed precision: products in bfloat16 or float16 under autocast, "
                        "float32 weights (fp16 also scales the loss); on the CPU NumPy has "
                        "no fast half-precision arithmetic, so amp runs there are slower than "
                        "float32: for checking correctness only")


class Amp:
    """The --amp choice for a training loop: `with amp.autocast():` around forward and loss,
    then `amp.backward_step(loss, optimizer)` (a GradScaler's scale/step/update for fp16)."""

    def __init__(self, mode: str, device: str | None):
        self.dtype = {"bf16": bfloat16, "fp16": float16}.get(mode)
        name = Device.canonicalize(device)
        self.device_type = "cpu" if name == "cpu" else "cuda"
        self.scaler = GradScaler(name.split(":")[0], enabled=mode == "fp16")

    def autocast(self) -> autocast:
        return autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward_step(self, loss: Tensor, optimizer: optim.Optimizer) -> None:
        optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()


def add_jit_option(parser: argparse.ArgumentParser) -> None:
    """--jit: record the training step once and replay it (tinygrad_nv.jit)."""
    parser.add_argument("--jit", action="store_true",
                        help="record the training step once and replay it (tinygrad_nv.jit): "
                        "the same numbers as eager with less Python per step")


def training_step(model: nn.Module, optimizer: optim.Optimizer, amp: Amp | None = None,
                  jitted: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """step(x, y) -> loss: one cross-entropy step (under `amp`'s autocast), jitted if asked (a
    step that reads device values, as fp16's GradScaler does, then runs eagerly)."""
    amp = amp or Amp("off", None)

    def step(x: Tensor, y: Tensor) -> Tensor:
        with amp.autocast():
            loss = F.cross_entropy(model(x), y)
        amp.backward_step(loss, optimizer)
        return loss
    return jit(step, fallback="eager") if jitted else step


def one_blas_thread(main: Callable[..., int]) -> Callable[..., int]:
    """`main` runs with one BLAS thread: the examples' matrices are small, and several threads
    per process mostly spin on a machine with busy cores (the digits MLP trained several times
    faster so on this project's 2-core VM). threadpoolctl comes with scikit-learn."""

    @functools.wraps(main)
    def with_one_thread(argv: list[str] | None = None) -> int:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return main(argv)
        with threadpool_limits(limits=1, user_api="blas"):
            return main(argv)
    return with_one_thread


def on_terminal() -> bool:
    """Whether a person watches: stdout and stderr both terminals. Only then do bars redraw."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class Progress:
    """A loop's progress, for people. Off a terminal (a pipe, a log file, CI) nothing redraws:
    `report` prints one plain line every `every` items and at the last one. On a terminal a
    tqdm bar redraws in place and shows the latest figures given to `report`; with
    `lines=True` those plain lines are printed above the bar instead.

    >>> progress = Progress(range(epochs), "mlp", unit="epoch")
    >>> for epoch in progress:
    ...     progress.report(train_loss=0.25)   # "mlp: epoch  3/30  train loss 0.2500"
    """

    def __init__(self, items: Iterable[Any], desc: str, unit: str = "epoch", every: int = 1,
                 lines: bool = False):
        self.items = list(items)
        self.desc, self.unit, self.every, self.lines = desc, unit, max(1, every), lines
        self.bar = tqdm(total=len(self.items), desc=desc, unit=unit) if on_terminal() \
            else None
        self.done = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            yield item
            self.done += 1
            if self.bar is not None:
                self.bar.update()
        if self.bar is not None:
            self.bar.close()

    def report(self, **figures: float) -> None:
        """Figures of the current item (names with _ for spaces), e.g. report(loss=0.25)."""
        text = "  ".join(f"{name.replace('_', ' ')} {value:.4f}"
                         for name, value in figures.items())
        count = self.done + 1
        due = count % self.every == 0 or count == len(self.items)
        width = len(str(len(self.items)))
        line = f"{self.desc}: {self.unit} {count:>{width}}/{len(self.items)}  {text}"
        if self.bar is None:
            if due:
                print(line, flush=True)
            return
        if not self.lines:  # else the lines above the bar carry the figures
            self.bar.set_postfix_str(text, refresh=False)
        elif due:
            self.bar.write(line)


def output_path(args: argparse.Namespace, name: str) -> Path:
    """`name` inside the --out folder, which is created if needed."""
    args.out.mkdir(parents=True, exist_ok=True)
    return args.out / name


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or None (with a note) where it is missing."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Write `fig` as a PNG (laid out tightly unless it has a layout of its own) and say so."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)  # pyplot holds every figure until closed (examples run in one process)
    print(f"saved {path}")


def whole_epochs(ax: Any) -> None:
    """Ticks at whole numbers only on the x axis (epochs: there is no epoch 2.5)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# ---------------------------------------------------------------------- the digits data
@dataclass
class Digits:
    """scikit-learn's 8x8 digits, split with a fixed seed. `x_*` are standardised inputs
    (N, 64) float32; `pixels_*` the same images scaled to [0, 1]; `y_*` int64 labels."""

    pixels_train: np.ndarray
    y_train: np.ndarray
    pixels_test: np.ndarray
    y_test: np.ndarray
    mean: float
    std: float

    def standardise(self, pixels: np.ndarray) -> np.ndarray:
        return ((pixels - self.mean) / self.std).astype(np.float32)

    @property
    def x_train(self) -> np.ndarray:
        return self.standardise(self.pixels_train)

    @property
    def x_test(self) -> np.ndarray:
        return self.standardise(self.pixels_test)


def load_digits(seed: int = 0, n_train: int | None = None, test_size: float = 0.25) -> Digits:
    """The digits (bundled with scikit-learn, no download), split in a stratified way;
    `n_train` keeps only the first n training images. Statistics come from the training set."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split
    images, labels = sklearn_digits(return_X_y=True)
    p_train, p_test, y_train, y_test = train_test_split(
        images / 16.0, labels, test_size=test_size, random_state=seed, stratify=labels)
    p_train, y_train = p_train[:n_train], y_train[:n_train]
    # one mean and std for all pixels: per-pixel statistics would blow up the border pixels
    # that are almost always blank, and make the network hypersensitive to them
    return Digits(p_train.astype(np.float32), y_train.astype(np.int64),
                  p_test.astype(np.float32), y_test.astype(np.int64),
                  np.float32(p_train.mean()), np.float32(p_train.std()))


# ---------------------------------------------------------------------- models
def make_mlp(hidden: int = 128, dropout: float = 0.0, layers: int = 1) -> nn.Module:
    """64 pixels -> `layers` layers of `hidden` ReLU units (each followed by dropout) -> 10
    class scores."""
    blocks = []
    for width in [64] + [hidden] * (layers - 1):
        blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*blocks, nn.Linear(hidden, 10))


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions with ReLU and 2x2 max pooling on the 8x8 image, then two linear
    layers. Takes the same (N, 64) input as the MLP."""

    def __init__(self, channels: int = 32, dropout: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * channels, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x.reshape(-1, 1, 8, 8)))


LEARNING_RATES = {"mlp": 3e-3, "cnn": 2e-3}  # Adam's, decayed along a cosine by fit()
DIGITS_TARGETS = {"mlp": (30, 0.97), "cnn": (20, 0.98)}  # model: (epochs, test accuracy)


def add_digits_options(parser: argparse.ArgumentParser, batch_help: str) -> None:
    """--model, --epochs, --batch-size and --seed of the digits training scripts."""
    parser.add_argument("--model", choices=sorted(DIGITS_TARGETS), default="mlp",
                        help="one hidden layer of 256 ReLU units, or a small CNN")
    parser.add_argument("--epochs", type=int, help="passes over the training set "
                        "(default: 30 for mlp, 20 for cnn)")
    parser.add_argument("--batch-size", type=int, default=64, help=batch_help)
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the init")


def digits_epochs_and_target(args: argparse.Namespace) -> tuple[int, float]:
    """The epochs to train (--epochs or the model's default) and the accuracy to reach."""
    epochs, target = DIGITS_TARGETS[args.model]
    return (epochs if args.epochs is None else args.epochs), target


def make_model(kind: str) -> nn.Module:
    """The digits models that train_digits.py trains: 'mlp' or 'cnn'."""
    if kind == "mlp":
        return make_mlp(hidden=256, dropout=0.2)
    if kind == "cnn":
        return DigitsCNN()
    raise ValueError(f"unknown model {kind!r}: use 'mlp' or 'cnn'")


# ---------------------------------------------------------------------- training
@dataclass
class Epoch:
    train_loss: float
    test_loss: float
    test_accuracy: float


def logits_of(model: nn.Module, x: np.ndarray, device: str | None = None,
              amp: Amp | None = None) -> Tensor:
    """The model's class scores for inputs x, in eval mode and without a graph (under
    `amp`'s autocast when given, as the model trains)."""
    was_training = model.training
    model.eval()
    with no_grad(), (amp or Amp("off", device)).autocast():
        logits = model(Tensor(x, device=device)).float()
    model.train(was_training)
    return logits


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray,
             device: str | None = None, amp: Amp | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on inputs x and labels y."""
    logits = logits_of(model, x, device, amp)
    loss = F.cross_entropy(logits, Tensor(y, device=logits.device)).item()
    return loss, float((logits.argmax(axis=1).numpy() == y).mean())


def train_epoch(model: nn.Module, optimizer, batches, amp: Amp | None = None,
                step: Callable[[Tensor, Tensor], Tensor] | None = None) -> float:
    """One pass of cross-entropy training over `batches` (by `step`, else
    training_step(model, optimizer, amp)); the summed loss of its samples."""
    model.train()
    step = step or training_step(model, optimizer, amp)
    total = 0.0
    for x, y in batches:
        total += step(x, y).item() * y.shape[0]
    return total


def fit(model: nn.Module, optimizer: optim.Optimizer, digits: Digits, epochs: int,
        batch_size: int, seed: int = 0, device: str | None = None, desc: str = "training",
        lines: bool = False, every: int = 1, cosine: bool = False,
        amp: Amp | None = None, jitted: bool = False) -> list[Epoch]:
    """Minibatch training with cross-entropy (shuffled batches from a DataLoader); evaluates
    on the test split after each epoch. Progress as `Progress` shows it: a bar on a
    terminal (with a line per epoch too when `lines`), else a line every `every` epochs.
    `cosine` lowers the learning rate along a half cosine to zero over the epochs; `amp`
    trains and evaluates in mixed precision; `jitted` records the step once and replays it."""
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs) if cosine else None
    train = DataLoader(TensorDataset(Tensor(digits.x_train, device=device),
                                     Tensor(digits.y_train, device=device)),
                       batch_size=batch_size, shuffle=True, seed=seed)
    history = []
    progress = Progress(range(epochs), desc, unit="epoch", every=every, lines=lines)
    step = training_step(model, optimizer, amp, jitted)
    for _ in progress:
        total = train_epoch(model, optimizer, train, amp, step)
        if schedule is not None:
            schedule.step()
        history.append(Epoch(total / len(train.dataset),
                             *evaluate(model, digits.x_test, digits.y_test, device, amp)))
        progress.report(**vars(history[-1]))
    return history


def plot_training(args: argparse.Namespace, name: str, what: str, train: dict[str, list[float]],
                  history: list[Epoch], target: float, note: str = "") -> None:
    """The PNG `name` in --out: the loss per epoch (each curve of `train`, then the test loss)
    and the test accuracy against `target`; the title gives the last accuracy, then `note`."""
    plt = pyplot()
    if plt is None or not history:
        return
    epochs = np.arange(1, len(history) + 1)
    accuracy = 100 * np.array([h.test_accuracy for h in history])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, losses in train.items():
        ax.plot(epochs, losses, label=label)
    ax.plot(epochs, [h.test_loss for h in history], "k", label="test images (never trained on)")
    ax.set(title="loss per epoch", xlabel="epoch",
           ylabel="cross-entropy (nats per image, log scale)", yscale="log")
    ax.legend(fontsize=8)
    bx.plot(epochs, accuracy, "C2o-", ms=3, label="test accuracy")
    bx.axhline(100 * target, color="0.4", ls="--", label=f"target {100 * target:.0f}%")
    bx.annotate(f"{accuracy[-1]:.1f}%", (epochs[-1], accuracy[-1]), ha="right", va="bottom",
                textcoords="offset points", xytext=(0, 6), fontsize=11, weight="bold")
    bx.set(title="test accuracy per epoch", xlabel="epoch", ylabel="test digits right (%)",
           ylim=(max(0.0, min(accuracy.min(), 100 * target) - 3), 100.5))
    bx.legend(loc="lower center")
    for axes in (ax, bx):
        whole_epochs(axes)
    verdict = "reaches" if accuracy[-1] >= 100 * target else "misses"
    fig.suptitle(f"{what}: {accuracy[-1]:.1f}% of the test digits right after {len(epochs)} "
                 f"epochs ({verdict} the {100 * target:.0f}% target){note}")
    save_figure(fig, output_path(args, name))


def add_model_options(parser: argparse.ArgumentParser, epochs: int) -> None:
    """Options of the examples that look at a trained digits model: train one or load one."""
    parser.add_argument("--weights", help="weights saved by train_digits.py with the same "
                        "--model and --seed (default: none, a model is trained first)")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                        help="the digits model: one hidden layer, or a small CNN")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help="epochs of that training (ignored with --weights)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the init")


def trained_model(args: argparse.Namespace, digits: Digits) -> nn.Module:
    """The model of `add_model_options`: loaded from --weights, or trained with Adam now."""
    Tensor.manual_seed(args.seed)
    model = make_model(args.model).to(args.device)
    if args.weights:
        model.load_state_dict(load(args.weights, device=args.device))
        print(f"loaded {args.weights}")
    else:
        fit(model, optim.Adam(model.parameters(), lr=LEARNING_RATES[args.model]), digits,
            args.epochs, 64, args.seed, args.device, desc=f"training the {args.model}",
            cosine=True)
    model.eval()
    return model
