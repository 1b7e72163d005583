"""The package's PyTorch names: as_tensor, from_numpy, is_tensor, numel, the default dtype,
cuda, backends, accelerator, onnx, nn.DataParallel, and a fast import."""

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, nn


@pytest.fixture
def default_float64():
    tg.set_default_dtype(tg.float64)
    yield
    tg.set_default_dtype(tg.float32)


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(3.0)
    t = tg.from_numpy(a)
    a[0] = 5.0
    assert t.tolist() == [5.0, 1.0, 2.0] and t.dtype == tg.float64 and str(t.device) == "cpu"
    with tg.no_grad():
        t.add_(1.0)
    np.testing.assert_array_equal(a, [6.0, 2.0, 3.0])
    assert tg.from_numpy(np.arange(4, dtype=np.int16)[::2]).tolist() == [0, 2]


@pytest.mark.parametrize("bad,match", [
    ([1, 2], r"expected np.ndarray \(got list\)"),
    (np.array(["a"]), "can't convert np.ndarray of type <U1"),
    (np.zeros(2, dtype=np.complex64), "complex64"),
])
def test_from_numpy_refuses_what_it_cannot_share(bad, match):
    with pytest.raises(TypeError, match=match):
        tg.from_numpy(bad)


def test_as_tensor_shares_or_converts():
    x = Tensor([1.0, 2.0], device="cpu", requires_grad=True)
    assert tg.as_tensor(x) is x and tg.as_tensor(x, device="cpu") is x
    wide = tg.as_tensor(x, dtype=tg.float64)
    assert wide.dtype == tg.float64 and wide.requires_grad  # converted, differentiably
    a = np.arange(3.0)
    shared = tg.as_tensor(a, device="cpu")
    a[1] = 7.0
    assert shared.tolist() == [0.0, 7.0, 2.0]
    copied = tg.as_tensor(a, dtype=tg.float32, device="cpu")
    a[2] = 9.0
    assert copied.tolist() == [0.0, 7.0, 2.0] and copied.dtype == tg.float32
    assert tg.as_tensor([1, 2]).dtype == tg.int64
    assert str(tg.as_tensor(np.ones(2), device="emu").device) == "emu"


def test_is_tensor_and_numel():
    x = Tensor.zeros(2, 3)
    assert tg.is_tensor(x) and tg.is_tensor(nn.Linear(1, 1).weight)
    assert not tg.is_tensor([1.0]) and not tg.is_tensor(np.zeros(2))
    assert tg.numel(x) == 6 and tg.numel(Tensor(1.0)) == 1


def test_default_dtype_makes_python_floats_and_factories_wide(default_float64):
    assert tg.get_default_dtype() == tg.float64
    made = [tg.tensor([1.0]), tg.tensor(2.5), Tensor.zeros(2), Tensor.ones(2), tg.rand(2),
            tg.randn(2), Tensor.arange(0.0, 2.0), tg.linspace(0, 1, 3), Tensor.eye(2),
            Tensor.full((2,), 1.5), tg.tensor([1, 2]) * 1.5, tg.tensor([1, 2]).sqrt(),
            nn.Linear(2, 2).weight]
    assert [t.dtype for t in made] == [tg.float64] * len(made)
    assert tg.tensor([1, 2]).dtype == tg.int64 and Tensor.arange(3).dtype == tg.int64


def test_default_dtype_is_float32_and_only_floats():
    assert tg.get_default_dtype() == tg.float32 and tg.tensor([1.5]).dtype == tg.float32
    with pytest.raises(TypeError, match="only floating-point types are supported"):
        tg.set_default_dtype(tg.int64)
    assert tg.get_default_dtype() == tg.float32


def test_default_dtype_matches_torch(default_float64):
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    try:
        for make in (lambda m: m.tensor([1.0]), lambda m: m.zeros(2), lambda m: m.rand(2),
                     lambda m: m.tensor([1, 2]) * 1.5, lambda m: m.arange(0.0, 1.0)):
            assert str(make(tg).dtype) == str(make(torch).dtype).removeprefix("torch.")
    finally:
        torch.set_default_dtype(torch.float32)


def test_cuda_module_without_a_gpu(monkeypatch):
    from tinygrad_nv import backend

    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: "no GPU in this test")
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    assert tg.cuda.current_device() == 0
    tg.cuda.manual_seed(0)  # ignored without CUDA, as PyTorch
    tg.cuda.manual_seed_all(0)
    tg.cuda.empty_cache()
    assert tg.cuda.get_rng_state_all() == []
    with pytest.raises(RuntimeError, match="no GPU in this test"):
        tg.cuda.get_rng_state()
    with pytest.raises(ValueError, match="does not exist"):
        tg.cuda.set_device(1)


def test_backends_accelerator_onnx_are_honest_stand_ins(monkeypatch):
    from tinygrad_nv import backend

    cudnn = tg.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, False, False)
    monkeypatch.setattr(cudnn, "benchmark", True)  # a plain attribute
    assert tg.backends.cudnn.benchmark is True and cudnn.is_available() is False
    assert tg.backends.mps.is_available() is False
    assert tg.backends.cuda.matmul.allow_tf32 is False
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: "no GPU in this test")
    assert tg.accelerator.is_available() is False
    assert tg.accelerator.current_accelerator() is None
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: None)
    assert tg.accelerator.current_accelerator() == tg.device("cuda")
    assert tg.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match="state_dict"):
        tg.onnx.export(nn.Linear(1, 1), Tensor([[1.0]]), "model.onnx")


def test_matmul_precision_is_recorded_and_checked():
    tg.set_float32_matmul_precision("high")
    assert tg.get_float32_matmul_precision() == "high"
    tg.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="expected one of"):
        tg.set_float32_matmul_precision("fast")


def test_data_parallel_is_the_identity_wrapper():
    net = nn.Linear(3, 2)
    model = nn.DataParallel(net)
    x = Tensor.randn(4, 3)
    assert model.module is net and model(x).tolist() == net(x).tolist()
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    assert nn.parallel.DataParallel is nn.DataParallel
    with pytest.warns(UserWarning, match="one device only"):
        nn.DataParallel(net, device_ids=[0, 1])


def test_import_stays_light():
    code = ("import sys, tinygrad_nv; heavy = ['tinygrad_nv.nn', 'tinygrad_nv.optim', "
            "'tinygrad_nv.data', 'tinygrad_nv.cuda', 'tinygrad_nv.distributed', 'cupy', "
            "'torch', 'scipy', 'mpi4py']; print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_sys_modules_torch_binding_gives_the_same_submodules():
    """`sys.modules["torch"] = tinygrad_nv`, then `import torch.nn`, `torch.nn.functional`,
    `from torch.utils.data import DataLoader`: the already imported tinygrad_nv modules, not
    second copies loaded under torch.* names (which replaced tinygrad_nv.nn by a new module);
    a real torch imported normally is left alone."""
    code = """
import sys, tinygrad_nv, tinygrad_nv.nn
original = sys.modules["tinygrad_nv.nn"]
sys.modules["torch"] = tinygrad_nv
import torch.nn as nn, torch.nn.functional as F, torch.optim.lr_scheduler as sched
from torch.utils.data import DataLoader
try:
    import torch.no_such_module
except ModuleNotFoundError as e:
    missing = e.name
print(nn is original is tinygrad_nv.nn, nn.__name__, F is sys.modules["tinygrad_nv.nn.functional"],
      sched is sys.modules["tinygrad_nv.optim.lr_scheduler"],
      DataLoader is sys.modules["tinygrad_nv.data"].DataLoader, missing)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "tinygrad_nv.nn", "True", "True", "True",
                                  "torch.no_such_module"]
    pytest.importorskip("torch")
    code = ("import tinygrad_nv, torch, torch.nn; "
            "print(torch.nn.__name__, torch.nn.Module is tinygrad_nv.nn.Module)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["torch.nn", "False"]
