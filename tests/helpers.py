"""The one op-test helper: forward against a NumPy reference, then gradcheck and
gradgradcheck in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck


def check_op(fn: Callable, reference: Callable, *inputs: Tensor, atol: float = 1e-6,
             rtol: float = 1e-6, grad: bool = True, gradgrad: bool = True,
             float32: bool = True) -> None:
    """fn(*tensors) must match reference(*arrays) in float64 (and float32, more loosely);
    its first and second derivatives must match finite differences."""
    arrays = [t.numpy() if isinstance(t, Tensor) else t for t in inputs]
    expected = reference(*arrays)
    got = fn(*inputs)
    np.testing.assert_allclose(got.numpy(), expected, atol=atol, rtol=rtol)
    if float32:
        lowered = [t.float() if isinstance(t, Tensor) and t.dtype.kind == "f" else t
                   for t in inputs]
        got32 = fn(*lowered)
        assert got32.dtype == np.float32, f"float32 inputs gave {got32.dtype}"
        np.testing.assert_allclose(got32.numpy(), expected, atol=1e-4, rtol=1e-4)
    if grad:
        gradcheck(fn, inputs)
    if gradgrad:
        gradgradcheck(fn, inputs)
