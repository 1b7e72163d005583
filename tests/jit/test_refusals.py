"""What a recording refuses: reading device values (`.item()`, `bool`, `.numpy()`,
`nonzero`, boolean masks) raises JitError naming the op and the user's line, unless
fallback='eager' (one warning, then eager); bad arguments and options raise clear errors;
Python side effects run only when a call runs fn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_nv as tg
from tests.jit.models import batch, make_run
from tinygrad_nv import JitError, Tensor


def reader(device: str, how: str):
    w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0, device=device)

    def fn(x: Tensor):
        y = x * w
        if how == "item":
            return y.sum().item()
        if how == "bool":
            return y if y.sum() > 0 else -y
        if how == "numpy":
            return y.numpy()
        if how == "nonzero":
            return y.nonzero()
        return y[y > 0]  # boolean mask
    return fn


def call_three_times(fn, device: str):
    for _ in range(3):
        fn(Tensor(np.ones((2, 3), np.float32), device=device))


@pytest.mark.parametrize("how, op", [("item", "Tensor.item"), ("bool", "Tensor.__bool__"),
                                     ("numpy", "Tensor.numpy"), ("nonzero", "nonzero"),
                                     ("mask", "getitem")])
def test_reading_device_values_while_recording_names_the_op_and_line(device, how, op):
    fn = tg.jit(reader(device, how))
    fn(Tensor(np.ones((2, 3), np.float32), device=device))  # eager: fine
    with pytest.raises(JitError) as info:
        fn(Tensor(np.ones((2, 3), np.float32), device=device))
    message = str(info.value)
    assert op in message and "test_refusals.py:" in message
    assert "move it out of the jitted step" in message and "fallback='eager'" in message


def test_the_item_error_shows_the_users_line(device):
    run = make_run("mlp", "sgd", device)

    def step(x, y):
        loss = run.step(x, y)
        return loss.item()  # the line the message must show

    fn = tg.jit(step)
    fn(*batch("mlp", 4, 0, device))
    with pytest.raises(JitError, match=r"test_refusals\.py:\d+: return loss\.item\(\)"):
        fn(*batch("mlp", 4, 1, device))


def test_fallback_eager_warns_once_and_runs_eagerly(device):
    fn = tg.jit(reader(device, "item"), fallback="eager")
    with pytest.warns(RuntimeWarning, match="runs eagerly from now on") as caught:
        results = [fn(Tensor(np.full((2, 3), i, np.float32), device=device)) for i in range(5)]
    assert len(caught) == 1
    assert results == [float((np.arange(6).reshape(2, 3) - 2.0).sum() * i) for i in range(5)]
    assert fn.recordings == 0 and fn.replays == 0


def test_side_effects_run_only_when_fn_runs(device):
    calls = []

    @tg.jit
    def fn(x):
        calls.append(len(calls))  # runs eagerly and when recording only
        return x * 2

    outs = [fn(Tensor(np.float32(i), device=device)).numpy() for i in range(5)]
    assert calls == [0, 1] and [float(o) for o in outs] == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_bad_arguments_and_options():
    with pytest.raises(ValueError, match="fallback must be None or 'eager'"):
        tg.jit(lambda: None, fallback="graph")
    with pytest.raises(ValueError, match="max_signatures must be a positive int"):
        tg.jit(lambda: None, max_signatures=0)
    with pytest.raises(TypeError, match="expected a function"):
        tg.jit(3)
    fn = tg.jit(lambda x, opts: x)
    with pytest.raises(JitError, match="hashable values"):
        fn(Tensor(1.0), {1, 2})  # a set: unhashable


def test_max_signatures_bounds_the_cache(device):
    fn = tg.jit(lambda x: x + 1, max_signatures=2)
    for n in (1, 2, 3, 1, 1):
        for _ in range(3):
            fn(Tensor(np.zeros(n, np.float32), device=device))
    # n=1 was evicted by n=3, so it ran eagerly and recorded again
    assert fn.recordings == 4 and len(fn._cache) == 2


def test_decorator_with_options_and_nested_calls(device):
    @tg.jit(max_signatures=1)
    def inner(x):
        return x * 3

    @tg.jit
    def outer(x):
        return inner(x) + 1  # recorded into outer's replay, not separately

    for i in range(4):
        np.testing.assert_array_equal(outer(Tensor(np.float32(i), device=device)).numpy(),
                                      np.float32(3 * i + 1))
    assert outer.replays == 2 and inner.recordings == 0


def test_no_warning_for_a_plain_step(device):
    run = make_run("mlp", "adam", device)
    step = tg.jit(run.step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(4):
            step(*batch("mlp", 4, i, device))


def test_steps_on_cuda_arrays_run_eagerly_with_one_warning(monkeypatch):
    """Recording CuPy arrays is opt-in (TINYGRAD_NV_CUDA_GRAPHS=1) until it has run on a GPU:
    without it a step given tensors of a CUDA device runs eagerly (emu stands in for the CUDA
    backend here), with eager's results, warned once."""
    from tinygrad_nv.backend.emu import EmuBackend
    from tinygrad_nv.jit import api
    from tinygrad_nv.jit.graph import CAPTURE_ENV
    monkeypatch.setattr(api, "CudaBackend", EmuBackend)
    monkeypatch.delenv(CAPTURE_ENV, raising=False)  # emu's graphs would be cuda's opt-in here
    w = Tensor([1.0, 2.0], device="emu", requires_grad=True)

    def step(x):
        return (w * x).sum()

    fn = tg.jit(step)
    x = Tensor([3.0, 4.0], device="emu")
    with pytest.warns(RuntimeWarning, match="CUDA arrays is opt-in .*TINYGRAD_NV_CUDA_GRAPHS=1"):
        results = [fn(x).item() for _ in range(4)]
    assert results == [11.0] * 4 and fn.recordings == 0 and fn.eager_only


def test_replays_warn_nothing_where_eager_warns_nothing(device):
    """NumPy's floating-point warnings are silenced in replays as in eager's ops (log of
    negative values, division by zero: NaN and inf, as PyTorch, without a warning)."""
    w = Tensor([1.0, -2.0], device=device, requires_grad=True)

    def step(x):
        return ((w * x).log() + 1 / (x - x)).sum()

    fn = tg.jit(step)
    x = Tensor([3.0, 4.0], device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [fn(x).item() for _ in range(4)]
    assert fn.replays == 2 and all(np.isnan(r) for r in results)
