"""max_unpool1d/2d and lp_pool1d/2d against NumPy formulas (gradcheck/gradgradcheck on
hypothesis-drawn shapes, kernels and strides) and torch (values and gradients, output_size,
unbatched inputs, ceil_mode), with their errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor


def _unpool(a, index, size):
    out = np.zeros((*a.shape[:-len(size)], int(np.prod(size))))
    flat_a, flat_i = a.reshape(*out.shape[:-1], -1), index.reshape(*out.shape[:-1], -1)
    np.put_along_axis(out, flat_i, flat_a, -1)
    return out.reshape(*a.shape[:-len(size)], *size)


def _lp_windows(a, p, kernel, stride):
    """(sum over each window of a ** p) ** (1 / p), floor mode, last len(kernel) axes."""
    dims = len(kernel)
    out_shape = [(n - k) // s + 1 for n, k, s in zip(a.shape[-dims:], kernel, stride)]
    out = np.zeros((*a.shape[:-dims], *out_shape))
    for pos in np.ndindex(*out_shape):
        window = tuple(slice(i * s, i * s + k) for i, k, s in zip(pos, kernel, stride))
        out[(..., *pos)] = (a[(..., *window)] ** p).sum(axis=tuple(range(-dims, 0)))
    return out ** (1 / p)


@given(data=hst.data())
def test_max_unpool_against_numpy(data, device):
    dims = data.draw(hst.sampled_from([1, 2]))
    k = data.draw(hst.integers(1, 3))
    s = data.draw(hst.integers(k, 3))  # windows apart: each index once (finite differences)
    spatial = tuple(data.draw(hst.integers(k, 6)) for _ in range(dims))
    lead = (2, 3)[:data.draw(hst.integers(1, 2))]
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = Tensor(rng.normal(size=(*lead, *spatial)), device=device)
    pool, unpool = (F.max_pool1d, F.max_unpool1d) if dims == 1 else (F.max_pool2d,
                                                                      F.max_unpool2d)
    y, index = pool(x, k, s, return_indices=True)
    check_op(lambda t: unpool(t, index, k, s, output_size=spatial),
             lambda a: _unpool(a, index.numpy(), spatial),
             y.detach().requires_grad_())


@given(data=hst.data())
def test_lp_pool_against_numpy(data, device):
    dims, p = data.draw(hst.sampled_from([1, 2])), data.draw(hst.sampled_from([1.0, 2.0, 3]))
    kernel = tuple(data.draw(hst.integers(1, 3)) for _ in range(dims))
    stride = tuple(data.draw(hst.integers(1, 2)) for _ in range(dims))
    spatial = tuple(data.draw(hst.integers(k, 5)) for k in kernel)
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = Tensor(rng.uniform(0.5, 2.0, size=(2, *spatial)), device=device, requires_grad=True)
    lp = F.lp_pool1d if dims == 1 else F.lp_pool2d
    check_op(lambda t: lp(t, p, kernel, stride), lambda a: _lp_windows(a, p, kernel, stride), x)


@pytest.mark.parametrize("dims,kwargs,output_size", [
    (2, {"kernel_size": 2}, None), (2, {"kernel_size": 3, "stride": 2, "padding": 1}, (7, 8)),
    (1, {"kernel_size": 2, "stride": 1}, None), (1, {"kernel_size": 3, "stride": 2}, [2, 3, 8]),
])
@pytest.mark.parametrize("batched", [True, False])
def test_max_unpool_against_torch(dims, kwargs, output_size, batched, device):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    shape = ((2, 3) if batched else (3,)) + (7, 8)[-dims:]
    a = np.random.default_rng(0).normal(size=shape)
    name = f"max_pool{dims}d"
    ty, ti = getattr(tf, name)(torch.tensor(a), **kwargs, return_indices=True)
    y = Tensor(ty.detach().numpy(), device=device, requires_grad=True)
    index = Tensor(ti.numpy(), device=device)
    if output_size is not None and not batched:
        output_size = output_size[-dims:]
    ty.requires_grad_()
    out = getattr(F, f"max_unpool{dims}d")(y, index, **kwargs, output_size=output_size)
    tout = getattr(tf, f"max_unpool{dims}d")(ty, ti, **kwargs, output_size=output_size)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    g = np.random.default_rng(1).normal(size=tout.shape)
    (out * Tensor(g, device=device)).sum().backward(), (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dims,norm_type,kernel,stride,ceil_mode", [
    (2, 2, 2, None, False), (2, 3, (2, 3), (1, 2), True), (2, 1.5, 3, 2, True),
    (1, 2, 3, None, False), (1, 1, 2, 1, True), (1, 4, 3, 2, True),
])
def test_lp_pool_against_torch(dims, norm_type, kernel, stride, ceil_mode, device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).uniform(0.1, 2, size=(2, 3, 7, 8)[-dims - 2:])
    x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = getattr(F, f"lp_pool{dims}d")(x, norm_type, kernel, stride, ceil_mode)
    ty = getattr(torch.nn.functional, f"lp_pool{dims}d")(tx, norm_type, kernel, stride,
                                                         ceil_mode)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward(), ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("call,error,match", [
    (lambda x, i: F.max_unpool2d(x, i, 2, output_size=(9, 8)), ValueError,
     r'max_unpool2d: invalid output_size "\(9, 8\)" \(dim 0 must be between 2 and 6\)'),
    (lambda x, i: F.max_unpool2d(x, i, 2, output_size=(4,)), ValueError,
     "max_unpool2d: output_size must have 2 or 4 elements"),
    (lambda x, i: F.max_unpool2d(x, i * 9, 2), IndexError,
     r"max_unpool2d: found an invalid max index 135 \(output planes are of size 4x4\)"),
    (lambda x, i: F.max_unpool2d(x, i[..., :1], 2), ValueError,
     r"max_unpool2d: indices must be integers of the input's shape \(1, 1, 2, 2\)"),
    (lambda x, i: F.max_unpool1d(x, i, 2), ValueError,
     r"max_unpool1d: expected a 2-D or 3-D input"),
    (lambda x, i: F.max_unpool2d(x, i, 0), ValueError,
     "max_unpool2d: kernel_size must be an int >= 1 or 2 of them, got 0"),
    (lambda x, i: F.lp_pool1d(x, 2, 2), ValueError, "lp_pool1d: expected a 2-D or 3-D input"),
    (lambda x, i: F.lp_pool2d(x, 0, 2), ValueError,
     "lp_pool2d: norm_type must be a non-zero number, got 0"),
])
def test_errors(call, error, match):
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), device="cpu")
    y, i = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(error, match=match):
        call(y, i)
