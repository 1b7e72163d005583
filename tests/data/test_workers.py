"""DataLoader with worker processes: the same batches as in one process, worker seeds and
get_worker_info, IterableDataset sharding (against torch where it is installed), errors and
deaths of workers surfacing in the main process, timeouts, persistent workers, cleanup, and
the spawn start method. Every test runs under a deadline (tests/data/conftest.py)."""

import gc
import math
import os
import signal
import time

import numpy as np
import pytest

from tinygrad_nv import Tensor
from tinygrad_nv.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    StackDataset,
    TensorDataset,
    get_worker_info,
    multiprocess,
)

pytestmark = pytest.mark.usefixtures("deadline")

X = np.arange(40, dtype=np.float32).reshape(20, 2)
Y = np.arange(20)


class Samples(Dataset):
    """Sample i: a dict of an array, a Python int and a draw from NumPy's global generator."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "i": i}


class WhoAmI(Dataset):
    """Sample i: i, then what this worker knows of itself (main process: -1s)."""

    tag = -1

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        if info is None:
            return np.array([i, -1, -1, -1, self.tag, os.getpid(), -1])
        assert info.dataset is self
        return np.array([i, info.id, info.num_workers, info.seed, self.tag, os.getpid(),
                         np.random.randint(2**31)])


def tag_worker(worker_id):
    info = get_worker_info()
    assert info.id == worker_id
    info.dataset.tag = 100 + worker_id


class Faulty(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"bad sample {i}")
        return i


class Dies(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3)
        return i


def failing_init(worker_id):
    raise KeyError(f"no config for worker {worker_id}")


def values(loader):
    """Every batch of one pass, as nested lists."""
    def plain(batch):
        if isinstance(batch, Tensor):
            return batch.numpy().tolist()
        if isinstance(batch, dict):
            return {k: plain(v) for k, v in batch.items()}
        return [plain(b) for b in batch] if isinstance(batch, list | tuple) else batch
    return [plain(batch) for batch in loader]


@pytest.mark.parametrize("dataset", [TensorDataset(X, Y), Samples()], ids=["tensors", "dicts"])
def test_same_batches_with_any_number_of_workers(dataset):
    def two_epochs(num_workers):
        loader = DataLoader(dataset, batch_size=3, shuffle=True, seed=7,
                            num_workers=num_workers)
        return values(loader) + values(loader)

    single = two_epochs(0)
    assert two_epochs(1) == single and two_epochs(2) == single
    batch = next(iter(DataLoader(dataset, batch_size=3, num_workers=2)))
    tensors = batch if isinstance(batch, list) else list(batch.values())
    assert all(isinstance(t, Tensor) and t.device == Tensor([0]).device for t in tensors)
    assert [t.dtype for t in tensors] == ["float32", "int64"]


class OnEmu(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return Tensor([float(i)], device="emu")


def test_tensors_made_on_a_chosen_device_keep_it():
    single = next(iter(DataLoader(OnEmu(), batch_size=2)))
    workers = next(iter(DataLoader(OnEmu(), batch_size=2, num_workers=1)))
    assert str(single.device) == str(workers.device) == "emu"
    assert workers.tolist() == single.tolist() == [[0.0], [1.0]]
    moved = next(iter(DataLoader(OnEmu(), batch_size=2, num_workers=1, device="cpu")))
    assert str(moved.device) == "cpu"


def test_unseeded_shuffle_follows_the_global_seed_and_custom_collate_runs_in_workers():
    def epoch(num_workers):
        Tensor.manual_seed(3)
        loader = DataLoader(Samples(), batch_size=4, shuffle=True, num_workers=num_workers,
                            collate_fn=lambda batch: (os.getpid(), [s["i"] for s in batch]))
        return [batch for batch in loader]

    single, workers = epoch(0), epoch(2)
    assert [b[1] for b in single] == [b[1] for b in workers]
    assert {b[0] for b in single} == {os.getpid()}
    assert len({b[0] for b in workers}) == 2 and os.getpid() not in {b[0] for b in workers}


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=tag_worker,
                        seed=11)
    rows = np.concatenate([b.numpy() for b in loader])
    assert rows[:, 0].tolist() == list(range(8))
    assert rows[:, 1].tolist() == [0, 0, 1, 1] * 2  # batch k from worker k % 2
    assert (rows[:, 2] == 2).all() and rows[:, 4].tolist() == [100, 100, 101, 101] * 2
    base = int(np.random.default_rng(11).integers(2**63))  # the loader's first draw
    assert rows[:, 3].tolist() == [base, base, base + 1, base + 1] * 2
    pids = rows[:, 5]
    assert len(set(pids[rows[:, 1] == 0])) == 1 and pids[0] != pids[2] != os.getpid()
    again = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2,
                                                          num_workers=2, seed=11)])
    assert (again[:, 6] == rows[:, 6]).all()  # NumPy's global stream: seeded per worker
    assert rows[0, 6] != rows[2, 6]


class Shards:
    """PyTorch's IterableDataset example: each worker takes its slice of range(start, end)."""

    def __init__(self, start, end, worker_info):
        self.start, self.end, self.worker_info = start, end, worker_info

    def __iter__(self):
        info = self.worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per_worker = int(math.ceil((self.end - self.start) / float(info.num_workers)))
        start = self.start + info.id * per_worker
        return iter(range(start, min(start + per_worker, self.end)))


class OurShards(Shards, IterableDataset):
    def __init__(self, start, end):
        super().__init__(start, end, get_worker_info)


@pytest.mark.parametrize("batch_size,drop_last", [(2, False), (2, True), (None, False)])
def test_iterable_dataset_sharded_by_worker_info_as_torch(batch_size, drop_last):
    ours = values(DataLoader(OurShards(3, 10), batch_size=batch_size, drop_last=drop_last,
                             num_workers=2))
    if batch_size == 2:
        assert ours == ([[3, 4], [7, 8], [5, 6]] + ([] if drop_last else [[9]]))
    torch = pytest.importorskip("torch")

    class TorchShards(Shards, torch.utils.data.IterableDataset):
        def __init__(self, start, end):
            super().__init__(start, end, torch.utils.data.get_worker_info)

    theirs = torch.utils.data.DataLoader(TorchShards(3, 10), batch_size=batch_size,
                                         drop_last=drop_last, num_workers=2)
    assert ours == [b if isinstance(b, int) else b.tolist() for b in theirs]


class Unsharded(IterableDataset):
    def __iter__(self):
        return iter(range(3))

    def __len__(self):
        return 3


def test_unsharded_iterable_dataset_repeats_per_worker_and_warns():
    loader = DataLoader(Unsharded(), batch_size=None, num_workers=2)
    assert len(loader) == 3
    with pytest.warns(UserWarning, match=r"reported to be 3 .* but [4-6] samples have been"):
        assert values(loader) == [0, 0, 1, 1, 2, 2]


def test_worker_error_carries_its_traceback():
    it = iter(DataLoader(Faulty(), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 1"
                       r".*Original Traceback.*raise ValueError.*bad sample 3"):
        next(it)
    assert next(it).tolist() == [4, 5]  # the other batches still come (as in PyTorch)
    with pytest.raises(KeyError, match="(?s)in DataLoader worker process 0.*no config"):
        next(iter(DataLoader(Faulty(), num_workers=2, worker_init_fn=failing_init)))
    unpicklable = DataLoader(Faulty(), num_workers=1, collate_fn=lambda b: lambda: b)
    with pytest.raises(Exception, match="sending the batch to the main process"):
        next(iter(unpicklable))


def test_killed_worker_is_a_clear_error_not_a_hang():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                       r"unexpectedly: worker 1 was killed by signal 9"):
        values(DataLoader(Dies(), batch_size=2, num_workers=2, timeout=30))
    assert time.monotonic() - start < 10


def test_timeout(monkeypatch):
    monkeypatch.setattr(multiprocess, "SHUTDOWN_GRACE", 0.2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        values(DataLoader(Slow(), num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 2.5  # the sleeping worker was terminated


def test_workers_end_with_the_pass_or_the_iterator_and_persist_on_request():
    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2)
    it = iter(loader)
    processes = it._workers.processes
    assert len(values(it)) == 4 and not any(p.is_alive() for p in processes)
    it = iter(loader)
    next(it)
    processes = it._workers.processes
    del it
    gc.collect()
    assert not any(p.is_alive() for p in processes)

    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2, persistent_workers=True)
    first = np.concatenate(values(loader))
    processes = loader._iterator._workers.processes
    assert all(p.is_alive() for p in processes)
    it = iter(loader)
    next(it)  # an epoch left early: its prefetched batches must not leak into the next
    second = np.concatenate(values(loader))
    assert (first[:, :6] == second[:, :6]).all()  # same indices, same worker processes
    assert sorted(set(second[:, 5].tolist())) == sorted(p.pid for p in processes)
    del loader, it
    gc.collect()
    assert not any(p.is_alive() for p in processes)


def test_spawn_start_method_gives_the_same_batches():
    dataset = StackDataset(TensorDataset(X[:10]), Samples())  # Tensors and dicts pickled
    kwargs = dict(batch_size=3, shuffle=True, seed=5)
    spawned = DataLoader(dataset, num_workers=2, multiprocessing_context="spawn",
                         worker_init_fn=tag_worker, **kwargs)
    assert values(spawned) == values(DataLoader(dataset, **kwargs))


def test_pin_memory_is_accepted_and_a_no_op_without_cuda():
    from tinygrad_nv.backend import cuda_unavailable_reason

    if cuda_unavailable_reason() is None:
        pytest.skip("a CUDA device is visible: tests/data/test_pin_memory checks pinning")
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, num_workers=1, pin_memory=True)
    with pytest.warns(UserWarning, match="no accelerator is found"):
        assert values(loader) == values(DataLoader(TensorDataset(X, Y), batch_size=4))


@pytest.mark.gpu
def test_pin_memory_pins_cpu_batches_on_a_cuda_host():
    from tinygrad_nv.backend import cuda_unavailable_reason

    if (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    import cupy

    dataset = TensorDataset(X, Y)
    for num_workers in (0, 1):
        xb, yb = next(iter(DataLoader(dataset, batch_size=4, num_workers=num_workers,
                                      pin_memory=True, device="cpu")))
        for t in (xb, yb):
            assert str(t.device) == "cpu"
            attributes = cupy.cuda.runtime.pointerGetAttributes(t._data.ctypes.data)
            assert attributes.type == 1  # cudaMemoryTypeHost: page-locked host memory
        assert xb.to("cuda").tolist() == X[:4].tolist() and yb.tolist() == Y[:4].tolist()
    on_gpu = next(iter(DataLoader(dataset, batch_size=4, num_workers=2, device="cuda")))
    assert str(on_gpu[0].device) == "cuda:0" and on_gpu[0].tolist() == X[:4].tolist()
    on_device = TensorDataset(Tensor(X, device="cuda"))
    with pytest.raises(RuntimeError, match="forked worker cannot use the GPU"):
        next(iter(DataLoader(on_device, num_workers=1, multiprocessing_context="fork")))
