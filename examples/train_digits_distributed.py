"""Train the digits classifier of train_digits.py data-parallel across processes (MPI).

Every process holds a replica of the model. A DistributedSampler hands each process its own
part of the training set, so each step every process computes the gradient of its half (with
two processes) of a 64-image batch; DistributedDataParallel averages those gradients across
processes during backward, so every replica takes the same Adam step that one process would
take on the whole batch. Only rank 0 prints and saves.

    mpiexec -n 2 python examples/train_digits_distributed.py          # MLP, >= 97% test accuracy
    mpiexec -n 2 python examples/train_digits_distributed.py --model cnn
    python examples/train_digits_distributed.py                       # one process works too

On a machine with few cores, give each process its share for BLAS threads
(`OMP_NUM_THREADS=1 mpiexec -n 2 ...` on two cores), as torchrun does.
"""

from __future__ import annotations

import sys
import time

from common import (
    LEARNING_RATES,
    add_digits_options,
    base_parser,
    digits_epochs_and_target,
    evaluate,
    load_digits,
    make_model,
    output_path,
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
    accuracy = 0.0
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        total = train_epoch(model, optimizer, loader)
        schedule.step()
        train_loss = dist.all_reduce(Tensor([total])).item() / (len(sampler) * world)
        test_loss, accuracy = evaluate(model.module, digits.x_test, digits.y_test, device)
        say(f"epoch {epoch + 1:3d}/{epochs}  train loss {train_loss:.4f}  test loss "
            f"{test_loss:.4f}  test accuracy {accuracy:.4f}")
    say(f"trained in {time.perf_counter() - start:.1f} s")

    if args.save != "none":
        path = args.save or output_path(args, f"digits_{args.model}_distributed.safetensors")
        dist.save_checkpoint(model.module.state_dict(), path)
        say(f"saved weights to {path}")
    failed = accuracy < target and args.epochs is None
    if failed:
        say(f"error: the {args.model} should reach {target:.2f} at the default settings",
            file=sys.stderr)
    say(f"test accuracy: {accuracy:.4f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
