"""emu's capture mode (TINYGRAD_NV_EMU_CAPTURE=1): a jit recording checked as one CUDA graph.
A legal step replays as one graph launch per call with eager's numbers (the examples' MLP, CNN,
transformer and LSTM steps, attention over a broadcast batch axis, every fused optimizer under a
changing learning rate); the mode catches a planted host synchronisation, a planted
host-to-device copy and a planted baked learning rate, and names the cuBLAS products and cuRAND
draws a capture refuses; dropout and rand* draw from the graph's Philox stream, eager's numbers
for the same seed. The GEMM plans themselves: test_gemm.py."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv as tg
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tests.jit.models import eager_and_jitted
from tinygrad_nv import Tensor
from tinygrad_nv.backend.launch import CudaKernels
from tinygrad_nv.jit import capture, state
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


class BakedSGD(optim.Optimizer):
    """A plain SGD that passes its learning rate to an xp function by value: a graph would
    replay the captured value."""

    def __init__(self, params, lr):
        super().__init__(params, dict(lr=lr))

    def update(self, p, grad, state_, group):
        lr = state.dynamic(lambda group: group["lr"], group)
        p._data -= p.backend.xp.multiply(lr, grad)


def test_a_planted_baked_learning_rate():
    w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), device="emu", requires_grad=True)
    opt = BakedSGD([w], lr=0.1)

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


OPTIMIZERS = {"sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
              "adam": lambda p: optim.Adam(p, lr=0.1),
              "adamw": lambda p: optim.AdamW(p, lr=0.1),
              "amsgrad": lambda p: optim.Adam(p, lr=0.1, amsgrad=True, weight_decay=0.1),
              "adamw_amsgrad": lambda p: optim.AdamW(p, lr=0.1, amsgrad=True),
              "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, centered=True),
              "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.1, weight_decay=0.1),
              "nadam": lambda p: optim.NAdam(p, lr=0.1),
              "radam": lambda p: optim.RAdam(p, lr=0.1, decoupled_weight_decay=True),
              "adamax": lambda p: optim.Adamax(p, lr=0.1),
              "adadelta": lambda p: optim.Adadelta(p, lr=0.5),
              "asgd": lambda p: optim.ASGD(p, lr=0.1, lambd=0.1, t0=2)}


@pytest.mark.parametrize("make", list(OPTIMIZERS.values()), ids=list(OPTIMIZERS))
def test_fused_optimizers_read_their_coefficients_from_device_memory(make):
    """Every fused optimizer passes its coefficient record in device memory (optim.cu's _dev
    kernels): a learning rate changed every step (and step counts, bias corrections, ASGD's
    eta and mu) stays legal, each step is one graph launch and equals eager's."""
    with instrumented("emu") as probe:
        runs = []
        for _ in range(2):
            w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), device="emu",
                       requires_grad=True)
            opt = make([w])

            def step(x, w=w, opt=opt):
                opt.zero_grad()
                loss = (w * x).tanh().sum()
                loss.backward()
                opt.step()
                return loss
            runs.append((w, opt, step))
        fn = tg.jit(runs[1][2])
        for i in range(8):
            for _, opt, _ in runs:
                opt.param_groups[0]["lr"] = 0.1 / (i + 1)
            np.testing.assert_array_equal(fn(inputs(i))._data, runs[0][2](inputs(i))._data)
        assert fn.replays == probe.graph_launches == 6
    np.testing.assert_array_equal(runs[0][0]._data, runs[1][0]._data)
    for key, value in runs[0][1].state[runs[0][0]].items():
        replayed = runs[1][1].state[runs[1][0]][key]
        np.testing.assert_array_equal(getattr(value, "_data", value),
                                      getattr(replayed, "_data", replayed))


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
    (lambda x, w: (x.long() @ w.long()).float(),
     r"matrix product in a graph \(dtypes int64 @ int64\), recorded at test_capture\.py:\d+")])
def test_products_other_than_cublas_gemms_are_refused(what, match):
    w = Tensor(np.ones((3, 3), np.float32), device="emu", requires_grad=True)
    fn = tg.jit(lambda x: what(x, w).sum())
    with pytest.raises(CaptureError, match=match):
        for _ in range(4):  # eager, recording, warm-up (a plain replay), capture
            fn(Tensor(np.ones((2, 3), np.float32), device="emu"))


@pytest.mark.parametrize("kind, opt", [("mlp", "sgd"), ("mlp", "adam"), ("cnn", "adam"),
                                       ("gpt", "adam"), ("lstm", "adam"), ("gpt", "amsgrad"),
                                       ("mlp", "adagrad")])
def test_model_steps_are_one_graph_with_eagers_numbers(kind, opt):
    """The examples' steps (GEMMs: 2-D through nn.Linear, batched through the CNN's weight
    gradient and the transformer's attention; dropout: Philox) under a learning rate changed
    between steps: 20 steps, one graph launch per replay, eager's losses and state bit for
    bit. The batch changes every step (copied into the graph's buffers) and each loss stays
    the one returned (copied out of the graph's arrays, which the next launch overwrites)."""
    with instrumented("emu") as probe:
        fn = eager_and_jitted(kind, opt, "emu", 4, tg.jit)
        assert fn.replays == probe.graph_launches == 18


def test_attention_over_a_broadcast_batch_axis_is_one_graph_with_eagers_numbers():
    """Attention whose keys and values are shared by the heads ((N, 1, S, E) against (N, H, L,
    E) queries): its products broadcast a batch axis (CuPy: gemmBatched over pointer tables)
    and their gradients sum over it; 20 Adam steps, one graph launch per replay."""
    def run():
        Tensor.manual_seed(1)
        w = [Tensor.randn(8, 8, device="emu", requires_grad=True) for _ in range(2)]
        opt = optim.Adam(w, lr=1e-2)

        def step(x: Tensor) -> Tensor:
            opt.zero_grad()
            q = (x @ w[0]).reshape(2, 5, 4, 2).transpose(1, 2)      # (N, H, L, E)
            kv = (x @ w[1])[..., :2].reshape(2, 1, 5, 2)             # (N, 1, S, E)
            loss = F.scaled_dot_product_attention(q, kv, kv, is_causal=True).square().sum()
            loss.backward()
            opt.step()
            return loss
        return w, opt, step

    results = []
    with instrumented("emu") as probe:
        for jitted in (False, True):
            w, opt, step = run()
            fn = tg.jit(step) if jitted else step
            losses = []
            for i in range(20):
                opt.param_groups[0]["lr"] = 1e-2 / (1 + i)
                x = Tensor(np.random.default_rng(i).standard_normal((2, 5, 8), np.float32),
                           device="emu")
                losses.append(fn(x).numpy())
            results.append((losses, [t.numpy() for t in w]))
        assert fn.replays == probe.graph_launches == 18
    for eager, replayed in zip([*results[0][0], *results[0][1]], [*results[1][0], *results[1][1]],
                               strict=True):
        np.testing.assert_array_equal(eager, replayed)


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
