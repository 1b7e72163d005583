"""Train the digits classifier of train_digits.py data-parallel across processes (MPI).

Every process holds a replica of the model. A DistributedSampler hands each process its own
part of the training set, so each step every process computes the gradient of its half (with
two processes) of a 64-image batch; DistributedDataParallel averages those gradients across
processes during backward, so every replica takes the same Adam step that one process would
take on the whole batch. Only rank 0 prints and saves, and it plots every process's
training loss (on its own part of the data) with the test loss and accuracy.

    mpiexec -n 2 python examples/train_digits_distributed.py          # MLP, >= 97% test accuracy
    mpiexec -n 2 python examples/train_digits_distributed.py --model cnn
    python examples/train_digits_distributed.py                       # one process works too

On a machine with few cores, give each process its share for BLAS threads
(`OMP_NUM_THREADS=1 mpiexec -n 2 ...` on two cores), as torchrun does.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import (
    LEARNING_RATES,
    Epoch,
    add_digits_options,
    base_parser,
    digits_epochs_and_target,
    evaluate,
    load_digits,
    make_model,
    output_path,
    plot_training,
    train_epoch,
)

import tinygrad_nv.distributed as dist
import tinygrad_nv.optim as optim
from tinygrad_nv import Device, Tensor
from tinygrad_nv.data import DataLoader, DistributedSampler, TensorDataset


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    add_digits_options(parser, batch_help="images per step over all processes together")
    parser.add_argument("--save", help="where rank 0 writes the weights (default: "
                        "digits_<model>_distributed.safetensors in --out); 'none' to skip")
    args = parser.parse_args(argv)
    epochs, target = digits_epochs_and_target(args)

    dist.init()  # with GPUs: each process takes GPU local_rank() as its default device
    rank, world = dist.rank(), dist.world_size()
    if args.batch_size % world:
        parser.error(f"--batch-size {args.batch_size} must be a multiple of the {world} "
                     "processes")
    say = print if rank == 0 else (lambda *a, **k: None)
    device = args.device
    if device in ("cuda", "gpu") and Device.DEFAULT.startswith("cuda"):
        device = Device.DEFAULT  # this process's own GPU, not cuda:0 for every process

    Tensor.manual_seed(args.seed)
    digits = load_digits(args.seed)
    model = dist.DistributedDataParallel(make_model(args.model).to(device))  # rank 0's
    Tensor.manual_seed(args.seed + 1000 * rank)  # a different dropout mask in each process
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATES[args.model])
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    train = TensorDataset(digits.x_train, digits.y_train)
    sampler = DistributedSampler(train, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch_size // world, sampler=sampler,
                        device=device)
    say(f"{args.model} on {world} process(es), {args.batch_size // world} images each per "
        f"step, device {Device.canonicalize(device)}")

    start = time.perf_counter()
    history, per_process = [], []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        total = train_epoch(model, optimizer, loader)
        schedule.step()
        losses = [Tensor([0.0]) for _ in range(world)]  # each process's mean loss on its part
        dist.all_gather(losses, Tensor([total / len(sampler)]))
        per_process.append([loss.item() for loss in losses])
        history.append(Epoch(sum(per_process[-1]) / world,
                             *evaluate(model.module, digits.x_test, digits.y_test, device)))
        say(f"epoch {epoch + 1:3d}/{epochs}  train loss {history[-1].train_loss:.4f}  test loss "
            f"{history[-1].test_loss:.4f}  test accuracy {history[-1].test_accuracy:.4f}")
    say(f"trained in {time.perf_counter() - start:.1f} s")
    spread = replica_spread(model.module)
    say(f"largest difference between the processes' weights: {spread:.1g}")

    if args.save != "none":
        path = args.save or output_path(args, f"digits_{args.model}_distributed.safetensors")
        dist.save_checkpoint(model.module.state_dict(), path)
        say(f"saved weights to {path}")
    if rank == 0:
        train = {f"process {r}'s part of the training images": [row[r] for row in per_process]
                 for r in range(world)}
        same = "stay identical" if spread == 0 else f"differ by at most {spread:.1g}"
        plot_training(args, f"digits_{args.model}_distributed.png",
                      f"{args.model.upper()} on {world} process{'es' if world > 1 else ''}",
                      train, history, target, f"\neach process learns from its own part of "
                      f"the data; with averaged gradients their weights {same}")
    accuracy = history[-1].test_accuracy if history else 0.0
    failed = accuracy < target and args.epochs is None
    if failed:
        say(f"error: the {args.model} should reach {target:.2f} at the default settings",
            file=sys.stderr)
    say(f"test accuracy: {accuracy:.4f}")
    return 1 if failed else 0


def replica_spread(module) -> float:
    """The largest difference between the values of one weight on two processes (0: the
    replicas are identical, as averaged gradients and the same start make them)."""
    flat = np.concatenate([p.numpy().ravel() for p in module.parameters()])
    high = dist.all_reduce(Tensor(flat), "max").numpy()
    low = dist.all_reduce(Tensor(flat), "min").numpy()
    return float(np.abs(high - low).max())


if __name__ == "__main__":
    sys.exit(main())
