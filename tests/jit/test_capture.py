"""emu's capture mode (TINYGRAD_NV_EMU_CAPTURE=1): a jit recording checked as one CUDA graph.
A legal step replays as one graph launch per call with eager's numbers; the mode catches a
planted host synchronisation, a planted host-to-device copy and a planted baked learning
rate, and names CuPy's cuBLAS matrix products and cuRAND draws, which a capture refuses; dropout
and rand* draw from the graph's Philox stream, eager's numbers for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv as tg
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tests.jit.models import mlp_eager_and_jitted
from tinygrad_nv import Tensor
from tinygrad_nv.backend.launch import CudaKernels
from tinygrad_nv.jit import capture
from tinygrad_nv.jit.capture import EmuGraph, EmuRuntime
from tinygrad_nv.jit.graph import CAPTURE_ENV, CaptureError, Launches
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu


@pytest.fixture(autouse=True)
def _capture_mode(monkeypatch):
    monkeypatch.setenv(CAPTURE_ENV, "1")


def elementwise_run():
    """A step without matrix products or random draws (SGD with momentum): capturable."""
    w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), device="emu", requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)

    def step(x: Tensor) -> Tensor:
        opt.zero_grad()
        loss = (w * x).tanh().sum()
        loss.backward()
        opt.step()
        return loss
    return w, opt, step


def inputs(i: int) -> Tensor:
    return Tensor(np.full(6, 0.5 + i, np.float32), device="emu")


def test_a_legal_step_is_one_graph_launch_per_replay_with_eager_numbers():
    with instrumented("emu") as probe:
        w_eager, _, eager = elementwise_run()
        w, _, step = elementwise_run()
        fn = tg.jit(step)
        for i in range(6):
            np.testing.assert_array_equal(fn(inputs(i))._data, eager(inputs(i))._data)
        np.testing.assert_array_equal(w._data, w_eager._data)
        assert fn.replays == probe.graph_launches == 4


def test_a_launch_leaves_no_patch_behind_even_for_a_device_named_twice():
    """A step whose tensors are on one device lists its backend once per tensor: the host
    sync trap each launch installs must be gone after it, or every later .numpy() raises."""
    from tinygrad_nv.backend import get_backend
    emu = get_backend("emu")
    with pytest.raises(CaptureError, match="copy of device values"), Launches("step", [emu, emu]):
        emu.to_host(np.ones(2))
    assert "to_host" not in emu.__dict__
    np.testing.assert_array_equal(Tensor([1.0, 2.0], device="emu").numpy(), [1.0, 2.0])


def test_a_planted_host_sync_inside_a_kernel(monkeypatch):
    real = CudaKernels.act_forward

    def act_forward(self, act, x, param=0.0):
        if bool((x > 1e30).any()):  # a host read of device values
            raise ValueError("too large")
        return real(self, act, x, param)

    with instrumented("emu"):
        monkeypatch.setattr(CudaKernels, "act_forward", act_forward)
        _, _, step = elementwise_run()
        fn = tg.jit(step)
        fn(inputs(0))
        fn(inputs(1))  # recorded (the capture)
        with pytest.raises(CaptureError, match="host synchronisation inside the graph"):
            fn(inputs(2))  # the first launch


def test_a_planted_host_to_device_copy():
    w = Tensor(np.ones(3, np.float32), device="emu", requires_grad=True)

    def step(x):
        return (w * x + Tensor([1.0, 2.0, 3.0], device="emu")).sum()  # host data: H2D

    fn = tg.jit(step)
    fn(Tensor(np.ones(3, np.float32), device="emu"))
    with pytest.raises(CaptureError, match=r"host-to-device copy.*test_capture\.py:\d+"):
        fn(Tensor(np.ones(3, np.float32), device="emu"))


def test_a_planted_baked_learning_rate():
    """Adagrad passes its learning rate to xp functions, by value: a graph would replay the
    captured one, so a changed learning rate raises."""
    w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), device="emu", requires_grad=True)
    opt = optim.Adagrad([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        (w * x).tanh().sum().backward()
        opt.step()

    fn = tg.jit(step)
    for i in range(3):
        fn(inputs(i))
    opt.param_groups[0]["lr"] = 0.05
    with pytest.raises(CaptureError, match=r"changed between replays \(0\.1 when captured"):
        fn(inputs(3))


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p, lr=0.1),
                                  lambda p: optim.AdamW(p, lr=0.1),
                                  lambda p: optim.RMSprop(p, lr=0.01, centered=True)],
                         ids=["sgd", "adam", "adamw", "rmsprop"])
def test_fused_optimizers_read_their_coefficients_from_device_memory(make):
    """SGD, Adam(W) and RMSprop pass their coefficient records in device memory (optim.cu's
    _dev kernels): a schedule changing the learning rate stays legal, and every step equals
    eager's."""
    runs = []
    for _ in range(2):
        w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), device="emu", requires_grad=True)
        opt = make([w])

        def step(x, w=w, opt=opt):
            opt.zero_grad()
            loss = (w * x).tanh().sum()
            loss.backward()
            opt.step()
            return loss
        runs.append((w, opt, step))
    fn = tg.jit(runs[1][2])
    for i in range(6):
        for _, opt, _ in runs:
            opt.param_groups[0]["lr"] = 0.1 / (i + 1)
        np.testing.assert_array_equal(fn(inputs(i))._data, runs[0][2](inputs(i))._data)
    np.testing.assert_array_equal(runs[0][0]._data, runs[1][0]._data)
    assert fn.replays == 4


def test_dropout_and_rand_draw_eagers_numbers_from_the_graphs_philox_stream():
    """emu's generator is cuda's Philox stream: inside a graph the draws read (seed, offset)
    from device memory, uploaded before each launch, so every replay draws new masks and the
    same seed gives eager's masks and noise, step after step."""
    def run():
        w = Tensor(np.linspace(-1, 1, 8, dtype=np.float32), device="emu", requires_grad=True)
        opt = optim.SGD([w], lr=0.1, momentum=0.9)

        def step(x: Tensor) -> Tensor:
            opt.zero_grad()
            noise = Tensor.rand(8, device="emu") + Tensor.randn(2, 8, device="emu")
            loss = (F.dropout((w * x).tanh(), 0.5) + 0.01 * noise).sum()
            loss.backward()
            opt.step()
            return loss
        return w, step

    results = []
    with instrumented("emu") as probe:
        for jitted in (False, True):
            w, step = run()
            fn = tg.jit(step) if jitted else step
            tg.manual_seed(3)
            losses = [fn(Tensor(np.full(8, 0.5 + i, np.float32), device="emu")).numpy()
                      for i in range(20)]
            results.append((losses, w.numpy()))
        assert fn.replays == probe.graph_launches == 18
    for eager, replayed in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(eager, replayed)
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert len({float(x) for x in results[1][0]}) == 20  # new masks at every replay


def test_a_generator_that_is_not_philox_is_refused(monkeypatch):
    monkeypatch.setattr(tg.backend.get_backend("emu"), "rng", np.random.default_rng(0))
    w = Tensor(np.ones(3, np.float32), device="emu", requires_grad=True)
    fn = tg.jit(lambda x: F.dropout(x * w, 0.5).sum())
    fn(Tensor(np.ones((2, 3), np.float32), device="emu"))
    with pytest.raises(CaptureError, match="cuRAND is not capturable"):
        fn(Tensor(np.ones((2, 3), np.float32), device="emu"))


@pytest.mark.parametrize("what, match", [
    (lambda x, w: Tensor.einsum("ij,jk->ik", x, w), r"einsum through the array module.*cuBLAS"),
    (lambda x, w: x.reshape(1, 2, 3) @ w.reshape(1, 3, 3), r"matrix product in a graph.*batched")])
def test_products_other_than_a_2d_gemm_are_refused(what, match):
    w = Tensor(np.ones((3, 3), np.float32), device="emu", requires_grad=True)
    fn = tg.jit(lambda x: what(x, w).sum())
    with pytest.raises(CaptureError, match=match):
        for _ in range(4):  # eager, recording, warm-up (a plain replay), capture
            fn(Tensor(np.ones((2, 3), np.float32), device="emu"))


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_the_mlp_step_is_one_graph_with_eagers_numbers(opt):
    """The examples' MLP (two nn.Linear: cuBLAS GEMMs in the graph, dropout: Philox) with SGD
    momentum or Adam under a learning rate changed between steps: 20 steps, one graph launch
    per replay, eager's losses and state bit for bit. The batch changes every step (copied
    into the graph's buffers) and each loss stays the one returned (copied out of the graph's
    arrays, which the next launch overwrites)."""
    with instrumented("emu") as probe:
        fn = mlp_eager_and_jitted(opt, "emu", 8, tg.jit)
        assert fn.replays == probe.graph_launches == 18


def test_a_gemm_needs_the_cublas_handle_on_the_capture_stream(monkeypatch):
    """A planted capture that does not set the handle's stream first (CuPy's next eager call
    sets it to its own stream) is caught."""
    monkeypatch.setattr(EmuRuntime, "capture", lambda self, body, args: EmuGraph(
        self, body, args))
    w = Tensor(np.ones((3, 3), np.float32), device="emu", requires_grad=True)
    fn = tg.jit(lambda x: (x @ w).sum())
    for _ in range(3):
        fn(Tensor(np.ones((2, 3), np.float32), device="emu"))
    capture.runtime_for(w.backend).blas_stream = None  # an eager product after the warm-up
    with pytest.raises(CaptureError, match="not on the capture stream"):
        fn(Tensor(np.ones((2, 3), np.float32), device="emu"))


@pytest.mark.parametrize("a_order, b_order", [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F"),
                                              ("strided", "C"), ("C", "strided")])
@pytest.mark.parametrize("shape", [(4, 3, 5), (1, 6, 2), (5, 2, 1)])
def test_the_gemm_plan_is_the_product_cublas_computes(a_order, b_order, shape):
    """gemm_plan's operands, ops and leading dimensions, read as cuBLAS reads them (column
    major), give a @ b: the GEMM the graph calls is the product eager asks for."""
    n, k, m = shape
    rng = np.random.default_rng(0)
    a, b = (_ordered(rng.standard_normal(s), order)
            for s, order in (((n, k), a_order), ((k, m), b_order)))
    plan = capture.gemm_plan(a, b, None, np)
    product = _column_major(plan.b, plan.trans_b, plan.ldb, (plan.m, plan.k)) @ \
        _column_major(plan.a, plan.trans_a, plan.lda, (plan.k, plan.n))
    np.testing.assert_allclose(product.T, a @ b, rtol=1e-12)
    assert plan.c.shape == (n, m) and plan.c.flags.c_contiguous


def _ordered(x: np.ndarray, order: str) -> np.ndarray:
    if order == "strided":
        wide = np.zeros((x.shape[0], 2 * x.shape[1]))
        wide[:, ::2] = x
        return wide[:, ::2]
    return np.asarray(x, order=order)


def _column_major(x: np.ndarray, trans: int, ld: int, shape: tuple) -> np.ndarray:
    """op(X) of shape `shape`, X the column-major matrix at x's first element with leading
    dimension ld (cuBLAS's reading)."""
    rows, cols = (shape[1], shape[0]) if trans else shape
    stored = np.lib.stride_tricks.as_strided(x, shape=(rows, cols),
                                             strides=(x.itemsize, ld * x.itemsize))
    return stored.T if trans else stored


def test_capture_mode_is_off_without_the_switch(monkeypatch):
    monkeypatch.setenv(CAPTURE_ENV, "0")
    w = Tensor(np.ones((3, 3), np.float32), device="emu", requires_grad=True)
    fn = tg.jit(lambda x: (x @ w).sum())
    for _ in range(3):
        fn(Tensor(np.ones((2, 3), np.float32), device="emu"))
    assert fn.replays == 1
    monkeypatch.setenv(CAPTURE_ENV, "yes")
    double = tg.jit(lambda x: x * 2)
    double(Tensor(1.0, device="emu"))
    with pytest.raises(ValueError, match="valid values are '0' and '1'"):
        double(Tensor(1.0, device="emu"))
