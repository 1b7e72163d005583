"""Grad mode is per thread: two threads training two models at the same time get exactly the
results of training them one after the other, with the overlaps forced by a barrier."""

import threading

import numpy as np
import pytest

from tinygrad_nv import Tensor, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_nv.autograd import Function


def _run_in_threads(*targets):
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as e:  # noqa: BLE001  (reported in the main thread)
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


class _Rendezvous(Function):
    """Identity whose backward meets the other thread twice: the other thread builds a
    graph between the two meetings, while this one is inside backward."""

    save_output = False
    meet = None

    def forward(self, a):
        return a

    def backward(self, grad):
        type(self).meet()
        type(self).meet()
        return grad


class _Model:
    def __init__(self, seed: int, device: str):
        rng = np.random.default_rng(seed)
        self.w = Tensor(rng.standard_normal((4, 3)), device=device, requires_grad=True)
        self.b = Tensor(rng.standard_normal(3), device=device, requires_grad=True)
        self.x = Tensor(rng.standard_normal((8, 4)), device=device)
        self.y = Tensor(rng.standard_normal((8, 3)), device=device)

    def loss(self, meet_in_backward: bool = False) -> Tensor:
        w = _Rendezvous.apply(self.w) if meet_in_backward else self.w
        out = (self.x @ w + self.b).tanh()
        return ((out - self.y) ** 2).mean()

    def update(self) -> None:
        for p in (self.w, self.b):
            p.data -= 0.1 * p.grad
            p.grad = None

    def result(self) -> list:
        return [self.w.numpy().copy(), self.b.numpy().copy()]


def _train_a(model: _Model, meet, steps: int) -> None:
    """Backward overlaps the other thread's forward; the update (in no_grad) does too."""
    for _ in range(steps):
        model.loss(meet_in_backward=True).backward()
        with no_grad():
            meet()
            model.update()
            meet()


def _train_b(model: _Model, meet, steps: int) -> None:
    """Two forward passes per step, each between two meetings with the other thread."""
    for _ in range(steps):
        meet()
        first = model.loss()
        meet()
        meet()
        second = model.loss()
        meet()
        (first + second).backward()
        model.update()


def test_two_threads_train_concurrently_as_sequentially(device):
    steps = 3
    _Rendezvous.meet = lambda: None  # sequential reference: nobody to meet
    seq_a, seq_b = _Model(0, device), _Model(1, device)
    _train_a(seq_a, _Rendezvous.meet, steps)
    _train_b(seq_b, _Rendezvous.meet, steps)

    barrier = threading.Barrier(2, timeout=30)
    _Rendezvous.meet = barrier.wait
    par_a, par_b = _Model(0, device), _Model(1, device)
    try:
        _run_in_threads(lambda: _train_a(par_a, barrier.wait, steps),
                        lambda: _train_b(par_b, barrier.wait, steps))
    finally:
        _Rendezvous.meet = None
    for got, want in zip(par_a.result() + par_b.result(), seq_a.result() + seq_b.result()):
        np.testing.assert_array_equal(got, want)


def test_no_grad_in_one_thread_leaves_the_other_recording(device):
    barrier = threading.Barrier(2, timeout=30)
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    seen = {}

    def quiet():
        with no_grad():
            barrier.wait()
            seen["quiet"] = (x * 2).requires_grad
            barrier.wait()

    def recording():
        barrier.wait()
        seen["recording"] = (x * 2).requires_grad
        barrier.wait()

    _run_in_threads(quiet, recording)
    assert seen == {"quiet": False, "recording": True}


def test_plain_set_grad_enabled_affects_only_its_thread():
    def turn_off():
        set_grad_enabled(False)
        assert not is_grad_enabled()

    _run_in_threads(turn_off)
    assert is_grad_enabled()


def test_a_new_thread_starts_with_recording_on():
    seen = []
    with no_grad():
        _run_in_threads(lambda: seen.append(is_grad_enabled()))
    assert seen == [True]


@pytest.mark.parametrize("decorated_first", [True, False])
def test_decorated_function_called_from_two_threads(decorated_first):
    barrier = threading.Barrier(2, timeout=30)
    seen = []

    @no_grad()
    def inside():
        barrier.wait()
        seen.append(is_grad_enabled())
        barrier.wait()

    def outside():
        barrier.wait()
        barrier.wait()
        seen.append(is_grad_enabled())

    targets = (inside, inside) if decorated_first else (inside, outside)
    _run_in_threads(*targets)
    assert sorted(seen) == ([False, False] if decorated_first else [False, True])
    assert is_grad_enabled()


# ---------------------------------------------------------------------- first use
_FIRST_USE = """
import sys, threading
import tinygrad_nv.backend.emu as emu
compiled = []
real_compile = emu._compile
emu._compile = lambda header, code, name, path: (compiled.append(name),
                                                 real_compile(header, code, name, path))
from tinygrad_nv import Tensor
device, made, errors = sys.argv[1], [], []
barrier = threading.Barrier(16, timeout=60)

def first_use(k):
    try:
        barrier.wait()
        if device == "emu" and k % 2:  # another backend loading the same module meanwhile
            Tensor([1.0], device="emu:1").relu()
        made.append(Tensor([[float(k), -1.0]], device=device).relu())  # a kernel on emu
    except BaseException as e:
        errors.append(repr(e))

threads = [threading.Thread(target=first_use, args=(k,)) for k in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
assert len({id(t.backend) for t in made}) == 1, "one backend per thread"
total = made[0]
for t in made[1:]:
    total = total + t  # 'different devices (cpu and cpu)' with two backends of one device
assert total.tolist() == [[120.0, 0.0]], total.tolist()
assert len(compiled) == len(set(compiled)), compiled  # each kernel module compiled once
print("ok", sorted(set(compiled)))
"""


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_sixteen_threads_create_their_first_tensors_at_once(device, tmp_path):
    """In a fresh process (so the backend and, on emu, its kernels really are new, compiled
    into an empty cache): one backend per device and each kernel module compiled once."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "TINYGRAD_NV_CACHE": str(tmp_path)}
    for _ in range(3 if device == "cpu" else 1):  # the cpu race is narrow: try it a few times
        result = subprocess.run([sys.executable, "-c", _FIRST_USE, device], env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.startswith("ok")
