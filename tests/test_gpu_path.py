"""The GPU path's guarantees, proven on instrumented `emu` devices (tinygrad_nv.testing.
instrumented): every array call runs with the tensor's device current, and a training step
makes no host synchronisation, within a launch budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_nv.backend as backends
import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.backend.emu import current_device
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu

# Launches of one training step at steady state, measured with the fused optimizers, the loss
# mean fused into cross-entropy and one bias_grad pass per layer (MLP + Adam: 29 before those,
# 20 now; CNN + SGD: 37 before, 32 now); the MLP's is issue 22's target, the CNN's budget catches
# a regression of a few launches per layer. The optimizer's address table is uploaded again
# only when an address changed: gradients land where the allocator puts them (on emu, NumPy's
# malloc alternates between a few places), so one step in a few may take one launch more.
MLP_BUDGET, CNN_BUDGET = 20, 35
STEADY, COUNTED = 3, 4  # steps before counting (optimizer state, tables cached), steps counted


def test_every_call_runs_on_the_tensors_device():
    """Creation, ops forward and backward, fused kernels, the seed gradient, the optimizers
    and transfers to and from another device all run with emu:1 current."""
    dev = "emu:1"
    with instrumented(dev) as probe:
        made = [Tensor.zeros(3, device=dev), Tensor.ones(2, 2, device=dev),
                Tensor.full((2,), 3.0, device=dev), Tensor.arange(5, device=dev),
                Tensor.eye(3, device=dev), Tensor.randn(4, device=dev),
                Tensor.randint(0, 5, (3,), device=dev), Tensor([1.0, 2.0], device=dev),
                Tensor.rand(4, device=dev), Tensor.uniform(3, low=-1.0, high=2.0, device=dev),
                Tensor.normal(3, mean=1.0, std=2.0, device=dev),
                Tensor.logspace(0, 2, 5, device=dev), Tensor.randperm(4, device=dev)]
        made.append(made[0].zeros_like())
        made += [made[7].abs().multinomial(2), made[7].abs().multinomial(3, replacement=True)]
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(2 * 4 * 4, 3)).to(dev)
        opts = [optim.Adam(model.parameters(), lr=0.01), optim.SGD(model.parameters(), lr=0.1),
                optim.RMSprop(model.parameters(), lr=0.01)]
        x, target = Tensor.randn(2, 1, 4, 4, device=dev), Tensor.randn(2, 3, device=dev)
        F.mse_loss(model(x).log_softmax(), target).backward()
        for opt in opts:
            opt.step()
        there_and_back = x.to("emu").to(dev)
        assert current_device() == 0  # every placement was left again
    assert all(str(t.device) == dev for t in [*made, there_and_back, *model.parameters()])
    assert probe.misplaced == []
    assert {"im2col_cn_idx32_f32", "act_forward_f32", "act_backward_f32", "bias_grad_f32",
            "softmax_forward_warp_f32",
            "softmax_backward_warp_f32", "adam_multi_f32", "sgd_multi_f32", "rmsprop_multi_f32",
            "from_host"} <= set(probe.calls)


def test_a_call_outside_the_placement_is_caught():
    """The check can fail: a raw array operation outside any op runs on device 0."""
    with instrumented("emu:1") as probe:
        x = Tensor.ones(3, device="emu:1")
        probe.reset()
        x._data + 1  # noqa: B018
    assert probe.misplaced == ["add (device 0 current)"]


def test_a_cuda_index_beyond_the_device_count_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backends, "cuda_unavailable_reason", lambda: None)
    monkeypatch.setattr(backends, "cuda_device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"'cuda:7' does not exist: this host has 1 CUDA "
                                         r"device \(cuda:0 to cuda:0\)"):
        backends.get_backend("cuda:7")
    assert "cuda:7" not in backends._backends


def test_emu_device_names():
    assert backends.canonicalize("emu:0") == "emu" and backends.canonicalize("EMU:2") == "emu:2"
    with pytest.raises(ValueError, match="'emu:N'"):
        backends.canonicalize("emu:x")


def _mlp_step():
    """MLP 784-256-128-10, cross-entropy, Adam, batch 128 (issue 12's reference step)."""
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10)).to("emu")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = Tensor.randn(128, 784, device="emu"), Tensor.randint(0, 10, (128,), device="emu")
    return model, opt, lambda: F.cross_entropy(model(x), y)


def _cnn_step():
    """Conv-ReLU-MaxPool-Linear, cross-entropy, SGD with momentum."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 10)).to("emu")
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = Tensor.randn(4, 1, 8, 8, device="emu"), Tensor.randint(0, 10, (4,), device="emu")
    return model, opt, lambda: F.cross_entropy(model(x), y)


@pytest.mark.parametrize("make, budget", [(_mlp_step, MLP_BUDGET), (_cnn_step, CNN_BUDGET)],
                         ids=["mlp-adam", "cnn-sgd"])
def test_a_training_step_never_waits_for_the_device(make, budget):
    with instrumented("emu") as probe:
        model, opt, loss_fn = make()

        def step():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            return loss
        for _ in range(STEADY):
            step()
        launches, calls = [], []
        for _ in range(COUNTED):
            probe.reset()
            loss = step()
            assert probe.syncs == [] and probe.misplaced == []
            launches.append(probe.launches)
            calls.append(sorted(probe.calls))
        assert loss.item() > 0  # reading the loss is the step's one sync: the check can fail
    assert probe.syncs == ["to_host"]
    assert 0 < min(launches) <= budget and max(launches) <= budget + 1, (launches, calls)


LOSSES = {
    "cross_entropy": lambda z, y, p: F.cross_entropy(z, y),
    "cross_entropy_smoothing_ignore": lambda z, y, p: F.cross_entropy(
        z, y, label_smoothing=0.1, ignore_index=1),
    "cross_entropy_sum": lambda z, y, p: F.cross_entropy(z, y, reduction="sum"),
    "cross_entropy_probabilities": lambda z, y, p: F.cross_entropy(z, p.softmax()),
    "binary_cross_entropy": lambda z, y, p: F.binary_cross_entropy(z.sigmoid(), p),
    "binary_cross_entropy_with_logits": lambda z, y, p: F.binary_cross_entropy_with_logits(z, p),
    "mse_loss": lambda z, y, p: F.mse_loss(z, p),
    "l1_smooth_l1_huber": lambda z, y, p: F.l1_loss(z, p) + F.smooth_l1_loss(z, p)
    + F.huber_loss(z, p, reduction="sum"),
    "kl_div": lambda z, y, p: F.kl_div(z.log_softmax(), p, reduction="batchmean"),
    "cross_entropy_none_weight_smoothing": lambda z, y, p: F.cross_entropy(
        z, y, weight=p[0].detach(), label_smoothing=0.1, reduction="none").sum(),
    "nll_loss_weight_ignore": lambda z, y, p: F.nll_loss(z.log_softmax(), y, weight=p[1],
                                                         ignore_index=2),
    "binary_cross_entropy_weight": lambda z, y, p: F.binary_cross_entropy(z.sigmoid(), p,
                                                                          weight=p),
    # integer-tensor indexing inside: its bounds check must not sync either
    "cross_entropy_weight": lambda z, y, p: F.cross_entropy(z, y, weight=p[0].detach()),
    "nll_loss": lambda z, y, p: F.nll_loss(z.log_softmax(), y),
    "embedding": lambda z, y, p: F.embedding(y, z).sum(),
    "gather_rows": lambda z, y, p: z[y].sum(),
}


@pytest.mark.parametrize("loss_fn", LOSSES.values(), ids=LOSSES.keys())
def test_losses_and_their_backward_never_wait_for_the_device(loss_fn):
    with instrumented("emu") as probe:
        z = Tensor.randn(4, 3, device="emu", requires_grad=True)
        y, p = Tensor([0, 2, 1, 1], device="emu"), Tensor.rand(4, 3, device="emu")
        probe.reset()
        loss_fn(z, y, p).backward()
    assert probe.syncs == [] and probe.launches > 0


def test_clip_grad_norm_never_waits_for_the_device():
    from tinygrad_nv.nn.utils import clip_grad_norm_

    with instrumented("emu") as probe:
        params = [Tensor.randn(5, 3, device="emu", requires_grad=True) for _ in range(3)]
        for p in params:
            p.grad = Tensor.randn(5, 3, device="emu")
        probe.reset()
        total = clip_grad_norm_(params, 0.5)
        assert probe.syncs == []
        clipped = Tensor.cat([p.grad.flatten() for p in params]).norm().item()
    assert clipped == pytest.approx(0.5, rel=1e-5) and total.item() > 0.5


class CupyLikeGenerator:
    """What cupy.random.Generator offers for drawing numbers: no permutation (nor shuffle)."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64):
        return self._rng.random(size, dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        return self._rng.integers(low, high, size, dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._rng.standard_normal(size, dtype)


def test_randperm_with_cupys_generator(monkeypatch):
    """CuPy's Generator has no permutation: randperm orders uniform draws instead."""
    monkeypatch.setattr(backends.get_backend("emu"), "rng", CupyLikeGenerator(3))
    p = Tensor.randperm(1000, device="emu")
    assert p.dtype == dtypes.int64 and sorted(p.tolist()) == list(range(1000))
    assert p.tolist() != list(range(1000))
    assert Tensor.randperm(0, device="emu").shape == (0,)


def test_the_device_fixture_marks_its_cuda_run_cuda_not_gpu():
    """On a GPU host the suite runs on the CPU and on cuda:0; `-m gpu` leaves the device tests
    out (they are `cuda`), TINYGRAD_NV_DEVICE=cuda runs them once, on cuda."""
    from tests.conftest import device_params

    def described(params):
        return [(p.values[0], sorted(m.name for m in p.marks),
                 [m.args[0] for m in p.marks if m.name == "skipif"]) for p in params]

    assert described(device_params(None, None)) == [("cpu", [], []),
                                                    ("cuda:0", ["cuda", "skipif"], [False])]
    assert described(device_params("cuda", None)) == [("cuda:0", ["cuda", "skipif"], [False])]
    assert described(device_params("emu", "no driver")) == [
        ("emu", [], []), ("cuda:0", ["cuda", "skipif"], [True])]


def test_gpu_selects_only_the_gpu_only_checks():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "gpu",
                           "-p", "no:cacheprovider", "tests/test_creation.py",
                           "tests/backend/test_gpu.py"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/backend/test_gpu.py::")
                             for line in collected), proc.stdout
