"""Multi-process loading (num_workers > 0), PyTorch's `_MultiProcessingDataLoaderIter`: the
main process draws the indices and sends batch i to worker i % num_workers (skipping workers
whose IterableDataset copy is exhausted), keeps prefetch_factor batches per worker in flight,
and hands the batches out in order. Each worker answers through its own pipe, so the main
process notices a worker that died (killed, crashed) as soon as it waits for it, and `timeout`
bounds every wait. Workers end when the pass is over (unless persistent_workers), when the
iterator is garbage collected, or at interpreter exit."""

from __future__ import annotations

import itertools
import multiprocessing
import pickle
import signal
import time
import warnings
import weakref
from multiprocessing.connection import Connection, wait
from typing import Any

from tinygrad_nv.backend import default_device
from tinygrad_nv.data.iterator import _BaseDataLoaderIter
from tinygrad_nv.data.worker import (
    ExceptionWrapper,
    _IterableDatasetStopIteration,
    _ResumeIteration,
    _worker_loop,
    decode,
)

SHUTDOWN_GRACE = 5.0  # seconds workers get to finish before they are terminated


class _Workers:
    """The processes of one iterator, with an index queue and a result pipe each.
    `shutdown()` asks them to stop, drains their pipes meanwhile, and terminates the ones
    that are still running after SHUTDOWN_GRACE seconds."""

    def __init__(self, context: Any, num_workers: int, args: tuple):
        self.done, self.closed = context.Event(), False
        self.processes: list = []
        self.index_queues: list = []
        self.results: list[Connection] = []
        try:
            for worker_id in range(num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()
                reader, writer = context.Pipe(duplex=False)
                self.index_queues.append(index_queue)
                self.results.append(reader)
                process = context.Process(
                    target=_worker_loop, daemon=True,
                    args=(*args, self.done, index_queue, writer, worker_id))
                try:
                    process.start()
                except (TypeError, AttributeError, pickle.PicklingError):
                    warnings.warn(f"DataLoader: could not start a worker with the "
                                  f"{context.get_start_method()!r} start method: the dataset, "
                                  "collate_fn and worker_init_fn must pickle for it (no "
                                  "lambdas or local classes)", stacklevel=5)
                    raise
                finally:
                    writer.close()  # the worker holds the only write end: EOF when it dies
                self.processes.append(process)
        except BaseException:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.done.set()
        for index_queue in self.index_queues:
            index_queue.put(None)
        waiting = {p.sentinel: p for p in self.processes}
        readers = list(self.results)  # read and dropped: a worker may block sending a batch
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while waiting and (left := deadline - time.monotonic()) > 0:
            for ready in wait([*waiting, *readers], left):
                if ready in waiting:
                    del waiting[ready]
                    continue
                try:
                    ready.recv_bytes()
                except (EOFError, OSError):
                    readers.remove(ready)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=SHUTDOWN_GRACE)
        for index_queue in self.index_queues:
            index_queue.close()
        for reader in self.results:
            reader.close()


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """One pass over the sampler with worker processes (persistent ones are reused by
    `_reset` for the next pass)."""

    def __init__(self, loader: Any):
        super().__init__(loader)
        self._prefetch_factor, self._persistent = \
            loader.prefetch_factor, loader.persistent_workers
        context = loader.multiprocessing_context or multiprocessing.get_context()
        # workers never touch a GPU (forked CUDA contexts do not work): their default device
        # is the CPU then, and their Tensors reach the GPU in the main process
        device = default_device()
        self._worker_device = "cpu" if device.startswith("cuda") else device
        args = (self._dataset, self._auto_collation, self._collate_fn, self._drop_last,
                self._base_seed, loader.worker_init_fn, self._num_workers, self._worker_device)
        self._workers = _Workers(context, self._num_workers, args)
        weakref.finalize(self, self._workers.shutdown)
        self._reset(loader, first=True)

    def _reset(self, loader: Any, first: bool = False) -> None:
        if not first:
            super()._reset(loader)
        self._send_idx = self._rcvd_idx = 0
        # batch number -> (worker,) while it is computed, (worker, data) when it came early
        self._task_info: dict[int, tuple] = {}
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first:  # persistent workers: a new pass, after the old one's leftovers
            for index_queue in self._workers.index_queues:
                index_queue.put(_ResumeIteration())
            acks = 0
            while acks < self._num_workers:
                idx, _ = self._get_data()
                acks += isinstance(idx, _ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker with work left
            worker = next(self._worker_cycle)
            if self._workers_status[worker]:
                break
        else:
            return
        self._workers.index_queues[worker].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker,)
        self._send_idx += 1

    def _next_data(self) -> Any:
        while True:
            while self._rcvd_idx < self._send_idx:  # skip batches no worker will send
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._workers.shutdown()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                return self._process(self._task_info.pop(self._rcvd_idx)[1])
            idx, data = self._get_data()
            if isinstance(data, _IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                self._try_put_index()
            elif idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                return self._process(data)

    def _process(self, data: Any) -> Any:
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return self._place(decode(data, self._device))

    def _get_data(self) -> tuple[Any, Any]:
        """The next (batch number, data) any active worker sends; RuntimeError when a worker
        died or `timeout` seconds pass first."""
        waitables: dict[Any, int] = {}
        for worker, active in enumerate(self._workers_status):
            if active:
                waitables[self._workers.results[worker]] = worker
                waitables[self._workers.processes[worker].sentinel] = worker
        if not waitables:
            raise AssertionError("DataLoader: waiting for a batch while no worker is active")
        ready = wait(list(waitables), self._timeout if self._timeout > 0 else None)
        if not ready:
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        # a worker's last batch may arrive with its death: read pipes before sentinels
        for obj in sorted(ready, key=lambda o: not isinstance(o, Connection)):
            worker = waitables[obj]
            result = self._workers.results[worker]
            if result.poll():
                try:
                    return result.recv()
                except EOFError:
                    pass
            raise self._lost(worker)
        raise AssertionError("unreachable")

    def _lost(self, worker: int) -> RuntimeError:
        """The error for a worker that died, which is no longer waited for."""
        self._workers_status[worker] = False
        process = self._workers.processes[worker]
        process.join(timeout=1.0)
        code = process.exitcode
        how = (f"was killed by signal {-code} ({signal.strsignal(-code)})"
               if code is not None and code < 0 else f"exited with code {code}")
        return RuntimeError(f"DataLoader worker (pid(s) {process.pid}) exited unexpectedly: "
                            f"worker {worker} {how}")
