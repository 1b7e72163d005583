"""layer_norm as one Function (kernels.layer_norm / layer_norm_backward): values and gradients
against NumPy and PyTorch, gradcheck and gradgradcheck with and without the affine terms, the
CUDA kernels on emu against the NumPy reference, and backward with no graph nodes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing import gradcheck, gradgradcheck


def layer_norm_ref(x, shape, w, b, eps):
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axes, keepdims=True)
    y = centered / np.sqrt((centered**2).mean(axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@settings(max_examples=10)
@given(lead=hst.lists(hst.integers(1, 4), max_size=2), shape=hst.sampled_from([(5,), (3, 4)]),
       affine=hst.sampled_from(["both", "weight", "none"]), seed=hst.integers(0, 2**16))
def test_against_numpy_with_gradients(lead, shape, affine, seed, device):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((*lead, *shape)) * 2 + 1, device=device, requires_grad=True)
    w = Tensor(rng.standard_normal(shape), device=device, requires_grad=True) \
        if affine != "none" else None
    b = Tensor(rng.standard_normal(shape), device=device, requires_grad=True) \
        if affine == "both" else None
    y = F.layer_norm(x, shape, w, b, 1e-5)
    want = layer_norm_ref(x.numpy(), shape, None if w is None else w.numpy(),
                          None if b is None else b.numpy(), 1e-5)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-10)
    inputs = [t for t in (x, w, b) if t is not None]

    def fn(*t):
        return F.layer_norm(t[0], shape, *t[1:], eps=1e-5) if affine != "weight" else \
            F.layer_norm(t[0], shape, t[1], None, 1e-5)
    gradcheck(fn, inputs)
    gradgradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_against_pytorch(dtype, device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [(rng.standard_normal((16, 8, 128)) * 3 + 2).astype(dtype),
              rng.standard_normal(128).astype(dtype), rng.standard_normal(128).astype(dtype)]
    arrays[0][0, 0] = 4.0  # a constant row
    g = rng.standard_normal((16, 8, 128)).astype(dtype)
    ours = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.layer_norm(ours[0], (128,), ours[1], ours[2])
    t = torch.nn.functional.layer_norm(theirs[0], (128,), theirs[1], theirs[2])
    y.backward(Tensor(g, device=device))
    t.backward(torch.tensor(g))
    tol = 2e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=10 * tol, atol=10 * tol)


def test_one_node_each_way(device):
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)), device=device,
               requires_grad=True)
    w = Tensor(np.ones(6), device=device, requires_grad=True)
    y = F.layer_norm(x, (6,), w)
    node = y._ctx  # under reshapes, if any
    while type(node).__name__ != "LayerNorm":
        node = node.parents[0]._ctx
    assert node.mean.shape == (4, 1) and node.rstd.shape == (4, 1)
    y.sum().backward()  # the kernel's backward: no Tensor operations recorded
    assert x.grad._ctx is None and w.grad._ctx is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, cols", [(5, 7), (33, 128), (3, 2000)])
def test_kernels_on_emu_match_the_numpy_reference(rows, cols, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((rows, cols)) * 3 + 1).astype(dtype)
    x[0] = 2.5  # a constant row: rstd = 1 / sqrt(eps)
    w, b = rng.standard_normal(cols).astype(dtype), rng.standard_normal(cols).astype(dtype)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    ref, emu = NumpyKernels(np), get_backend("emu").kernels
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for weight, bias in ((w, b), (None, None), (w, None)):
        got, want = emu.layer_norm(x, weight, bias, 1e-5), ref.layer_norm(x, weight, bias, 1e-5)
        for a, e in zip(got, want, strict=True):
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol)
        got = emu.layer_norm_backward(x, g, weight, *want[1:])
        for a, e in zip(got, ref.layer_norm_backward(x, g, weight, *want[1:]), strict=True):
            assert (a is None) == (e is None)
            if e is not None:
                np.testing.assert_allclose(a, e, rtol=10 * tol, atol=10 * tol)
