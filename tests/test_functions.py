"""Torch-style functions at the package level: the very functions Tensor binds as methods."""

import inspect

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, functions


@pytest.mark.parametrize("name", functions.__all__)
def test_each_function_is_the_tensor_method(name):
    method = inspect.getattr_static(Tensor, name)
    method = method.__func__ if isinstance(method, staticmethod) else method
    function = getattr(tg, name)
    if isinstance(method, classmethod):
        assert function == getattr(Tensor, name)
    else:
        assert function is method


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
