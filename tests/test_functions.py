"""Torch-style functions at the package level: the very functions Tensor binds as methods."""

import inspect

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor
from tinygrad_nv._tensor import KINDS

_KINDS = {kind.__name__.rsplit(".", 1)[1]: kind for kind in KINDS}


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_each_kinds_table_is_bound_as_methods_and_functions(kind):
    exports = _KINDS[kind].EXPORTS
    assert exports.methods or exports.functions
    for name, fn in exports.methods.items():
        assert inspect.getattr_static(Tensor, name) is fn, name
    for name, fn in exports.functions.items():
        assert getattr(tg, name) is fn, name


def test_creation_functions_are_the_tensor_constructors():
    for name in ("zeros", "ones", "arange", "rand", "randn", "full", "eye", "linspace"):
        assert getattr(tg, name) == getattr(Tensor, name)


def test_tensor_is_pytorchs_function_and_copies(device):
    data = np.arange(3.0)
    t = tg.tensor(data, dtype=tg.float32, device=device, requires_grad=True)
    data[0] = 5.0
    assert isinstance(t, Tensor) and t.dtype == tg.float32 and t.requires_grad
    assert t.tolist() == [0.0, 1.0, 2.0]
    assert tg.tensor([[1, 2]]).dtype == tg.long and tg.tensor(2.5).shape == ()


def test_submodules_are_attributes():
    import subprocess
    import sys
    code = ("import tinygrad_nv as torch; torch.nn.Linear; torch.optim.SGD; "
            "torch.utils.data.DataLoader; torch.autograd.grad; torch.func.jacobian; "
            "import tinygrad_nv.utils.data.dataloader, tinygrad_nv.utils.data.distributed")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_functions_compute_as_numpy(device):
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(a, device=device)
    np.testing.assert_allclose(tg.cat([x, x], dim=1).numpy(), np.concatenate([a, a], 1))
    np.testing.assert_allclose(tg.exp(x).numpy(), np.exp(a))
    np.testing.assert_allclose(tg.where(x > 2, x, -1.0).numpy(), np.where(a > 2, a, -1.0))
    np.testing.assert_allclose(tg.clamp(x, 1, 3).numpy(), np.clip(a, 1, 3))
    np.testing.assert_allclose(tg.cumsum(x, dim=1).numpy(), np.cumsum(a, 1))
    assert tg.zeros(2, 3, device=device).shape == (2, 3)


def test_star_import_keeps_builtins():
    namespace = {}
    exec("from tinygrad_nv import *", namespace)
    assert "sum" not in namespace and "Tensor" in namespace
