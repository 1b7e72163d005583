"""Convolutions as one matrix product per direction over the whole batch: the columns in the
(C*kh*kw, N*OH*OW) layout (kernels.im2col_cn / col2im_cn, the CUDA kernels on emu against the
NumPy reference), conv2d / conv1d / conv_transpose2d against PyTorch, and double backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing import gradgradcheck

GEOMETRIES = [  # kernel, stride, padding, dilation
    ((3, 3), (1, 1), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 0), (1, 2)),
    ((2, 2), (2, 2), (0, 0), (1, 1)), ((1, 3), (1, 2), (0, 2), (1, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_columns_on_emu_match_the_numpy_reference_and_unfold(geometry, dtype):
    x = np.random.default_rng(0).standard_normal((3, 4, 7, 6)).astype(dtype)
    ref, emu = NumpyKernels(np), get_backend("emu").kernels
    cols = ref.im2col_cn(x, *geometry)
    unfold = ref.im2col(x, *geometry)  # (N, C*kh*kw, L): the same numbers, batch outside
    np.testing.assert_array_equal(cols, unfold.transpose(1, 0, 2).reshape(cols.shape))
    np.testing.assert_array_equal(emu.im2col_cn(x, *geometry), cols)
    c = np.random.default_rng(1).standard_normal(cols.shape).astype(dtype)
    back = ref.col2im_cn(c, x.shape, *geometry)
    np.testing.assert_allclose(emu.col2im_cn(c, x.shape, *geometry), back, rtol=1e-5)
    # the adjoint: <im2col_cn(x), c> == <x, col2im_cn(c)>
    np.testing.assert_allclose((cols * c).sum(), (x * back).sum(), rtol=1e-4)


def test_one_matrix_product_per_direction(monkeypatch):
    calls = []
    matmul = np.matmul

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return matmul(*args, **kwargs)

    rng = np.random.default_rng(0)
    for groups in (1, 2):
        x = Tensor(rng.standard_normal((8, 4, 9, 9)), device="cpu", requires_grad=True)
        w = Tensor(rng.standard_normal((6, 4 // groups, 3, 3)), device="cpu",
                   requires_grad=True)
        b = Tensor(rng.standard_normal(6), device="cpu", requires_grad=True)
        monkeypatch.setattr(np, "matmul", counted)
        y = F.conv2d(x, w, b, padding=1, groups=groups)
        assert len(calls) == 1  # the whole batch, every group, the bias folded in
        y.sum().backward()
        assert len(calls) == 3  # the weight's and the columns' gradients
        monkeypatch.setattr(np, "matmul", matmul)
        calls.clear()


@settings(max_examples=8)
@given(geometry=hst.sampled_from(GEOMETRIES), groups=hst.sampled_from([1, 2]),
       bias=hst.booleans(), seed=hst.integers(0, 2**16))
def test_conv2d_against_pytorch(geometry, groups, bias, seed, device):
    torch = pytest.importorskip("torch")
    kernel, stride, padding, dilation = geometry
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4, 8, 7)), rng.standard_normal((6, 4 // groups, *kernel))]
    arrays += [rng.standard_normal(6)] if bias else []
    ours = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.conv2d(*ours[:2], ours[2] if bias else None, stride, padding, dilation, groups)
    t = torch.nn.functional.conv2d(*theirs[:2], theirs[2] if bias else None, stride, padding,
                                   dilation, groups)
    g = rng.standard_normal(t.shape)
    y.backward(Tensor(g, device=device))
    t.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride, padding, extra, dilation, groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 2, 2, 2, 1), ((2, 1), (0, 1), (1, 0), (1, 2), 2)])
def test_conv_transpose2d_and_conv1d_against_pytorch(stride, padding, extra, dilation, groups,
                                                      device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 6 // groups, 3, 2)),
              rng.standard_normal(6)]
    ours = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.conv_transpose2d(*ours, stride, padding, extra, groups, dilation)
    t = torch.nn.functional.conv_transpose2d(*theirs, stride, padding, extra, groups, dilation)
    y.backward(Tensor(np.cos(np.arange(t.numel())).reshape(t.shape), device=device))
    t.backward(torch.tensor(np.cos(np.arange(t.numel())).reshape(t.shape)))
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-10)
    x1, w1 = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 4 // groups, 3))
    s1 = stride if isinstance(stride, int) else stride[0]
    y1 = F.conv1d(Tensor(x1, device=device), Tensor(w1, device=device), None, s1, 1, 1, groups)
    t1 = torch.nn.functional.conv1d(torch.tensor(x1), torch.tensor(w1), None, s1, 1, 1, groups)
    np.testing.assert_allclose(y1.numpy(), t1.numpy(), rtol=1e-10, atol=1e-10)


def test_double_backward(device):
    rng = np.random.default_rng(0)
    x, w, b = (Tensor(rng.standard_normal(s), device=device, requires_grad=True)
               for s in ((2, 4, 5, 4), (4, 3, 3, 2), (6,)))
    gradgradcheck(lambda *t: F.conv_transpose2d(*t, stride=2, padding=1, output_padding=1,
                                                groups=2), [x, w, b])
    w2 = Tensor(rng.standard_normal((6, 2, 2, 3)), device=device, requires_grad=True)
    gradgradcheck(lambda *t: F.conv2d(*t, stride=(2, 1), padding=1, dilation=(1, 2),
                                      groups=2), [x, w2, b])


@pytest.mark.parametrize("op,x_shape,w_shape", [
    ("conv2d", (0, 2, 6, 6), (3, 2, 3, 3)), ("conv1d", (0, 2, 6), (3, 2, 3)),
    ("conv_transpose2d", (0, 2, 6, 6), (2, 3, 3, 3)), ("conv_transpose1d", (0, 2, 6), (2, 3, 3)),
])
def test_convolutions_of_an_empty_batch(op, x_shape, w_shape, device):
    """As PyTorch: an empty output of the right shape and zero gradients (the kernels raised
    ZeroDivisionError / IndexError)."""
    torch = pytest.importorskip("torch")
    x = Tensor(np.zeros(x_shape), device=device, requires_grad=True)
    w = Tensor(np.ones(w_shape), device=device, requires_grad=True)
    b = Tensor(np.ones(3), device=device, requires_grad=True)
    kwargs = {"stride": 2, **({"output_padding": 1} if "transpose" in op else {})}
    out = getattr(F, op)(x, w, b, **kwargs)
    expected = getattr(torch.nn.functional, op)(torch.zeros(x_shape), torch.ones(w_shape),
                                                torch.ones(3), **kwargs)
    assert out.shape == tuple(expected.shape) and out.dtype == x.dtype
    out.sum().backward()
    assert x.grad.shape == x_shape
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(w_shape))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(3))
