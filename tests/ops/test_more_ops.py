"""The ops added beside the existing kinds: deg2rad, rad2deg, float_power, ldexp, frexp,
nextafter, heaviside, sgn (ops/pointwise.py); adjoint, fliplr, flipud, rot90, tensor_split,
hsplit, vsplit, dsplit, split_with_sizes, diag_embed, diagflat, sum_to_size (ops/layout.py);
msort, quantile, nanquantile, nanmedian (ops/quantile.py); vdot, inner, addmv, addr, addbmm
(ops/matrix.py). Values against NumPy, gradients by gradcheck in float64 (hypothesis-drawn
shapes), bad inputs, and torch where installed."""

import math

import numpy as np
import pytest
from hypothesis import given

import tinygrad_nv
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck, strategies

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))


def _t(a, device, dtype="float64", **kwargs):
    return Tensor(np.asarray(a), dtype=dtype, device=device, **kwargs)


def _leaf(a, device):
    return _t(a, device, requires_grad=True)


# ---------------------------------------------------------------------- pointwise
def test_degrees_and_radians(device):
    x = _t(A, device)
    np.testing.assert_allclose(x.deg2rad().numpy(), np.deg2rad(A), rtol=1e-15)
    np.testing.assert_allclose(tinygrad_nv.rad2deg(x).numpy(), np.rad2deg(A), rtol=1e-15)
    ints = Tensor([180, -90], device=device).deg2rad()
    assert ints.dtype == tinygrad_nv.float32
    np.testing.assert_allclose(ints.numpy(), [math.pi, -math.pi / 2], rtol=1e-7)
    with pytest.raises(RuntimeError, match="deg2rad: is not supported for bool"):
        Tensor([True], device=device).deg2rad()
    assert gradgradcheck(lambda t: t.rad2deg() * t, (_leaf(A, device),))


def test_float_power(device):
    x = Tensor([2, 3], device=device)
    out = x.float_power(2)
    assert out.dtype == tinygrad_nv.float64
    np.testing.assert_array_equal(out.numpy(), [4.0, 9.0])
    np.testing.assert_allclose(tinygrad_nv.float_power(2, _t([0.5], device)).numpy(), [2 ** 0.5])
    y = Tensor(np.abs(A) + 0.1, dtype="float32", device=device)
    np.testing.assert_allclose(y.float_power(_t(B, device)).numpy(),
                               (np.abs(A) + 0.1).astype(np.float32).astype(np.float64) ** B)
    assert gradcheck(lambda a, b: a.float_power(b), (_leaf(np.abs(A) + 0.1, device),
                                                     _leaf(B, device)))


def test_ldexp(device):
    x, e = _t(A, device), Tensor([[1, -2, 3, 0]], device=device)
    np.testing.assert_array_equal(x.ldexp(e).numpy(), np.ldexp(A, [[1, -2, 3, 0]]))
    assert Tensor([1.0], device=device).ldexp(Tensor([3], device=device)).dtype == \
        tinygrad_nv.float32
    assert Tensor([1, 2], device=device).ldexp(Tensor([1, 1], device=device)).dtype == \
        tinygrad_nv.float32
    np.testing.assert_allclose(x.ldexp(_t(B, device)).numpy(), A * 2.0 ** B, rtol=1e-14)
    assert gradcheck(lambda a, b: a.ldexp(b), (_leaf(A, device), _leaf(B, device)))


def test_frexp(device):
    x = _t([8.0, 0.3, 0.0, -3.0, 1e-300], device)
    mantissa, exponent = x.frexp()
    want_m, want_e = np.frexp(x.numpy())
    np.testing.assert_array_equal(mantissa.numpy(), want_m)
    np.testing.assert_array_equal(exponent.numpy(), want_e)
    assert exponent.dtype == tinygrad_nv.int32
    assert tinygrad_nv.frexp(x).mantissa is not None
    with pytest.raises(RuntimeError, match="frexp: only supports floating-point dtypes"):
        Tensor([1, 2], device=device).frexp()


def test_nextafter_and_heaviside(device):
    x = _t([1.0, -2.0, 0.0], device)
    np.testing.assert_array_equal(x.nextafter(_t([2.0, -3.0, 1.0], device)).numpy(),
                                  np.nextafter([1.0, -2.0, 0.0], [2.0, -3.0, 1.0]))
    with pytest.raises(RuntimeError, match="nextafter: only supports floating-point"):
        Tensor([1], device=device).nextafter(Tensor([2], device=device))
    np.testing.assert_array_equal(x.heaviside(_t(0.5, device)).numpy(), [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(Tensor([-1, 0, 3], device=device)
                                  .heaviside(Tensor([7], device=device)).numpy(), [0, 7, 1])
    with pytest.raises(RuntimeError, match="heaviside: is not yet implemented for tensors with "
                                           "different dtypes"):
        x.heaviside(Tensor([1], device=device))
    with pytest.raises(TypeError, match="heaviside: values must be a Tensor"):
        x.heaviside(0.5)


# ---------------------------------------------------------------------- layout
def test_flips_and_rot90(device):
    x = _t(A, device)
    np.testing.assert_array_equal(x.fliplr().numpy(), np.fliplr(A))
    np.testing.assert_array_equal(x.flipud().numpy(), np.flipud(A))
    c = RNG.standard_normal((2, 3, 4))
    for k in range(-5, 6):
        for dims in ((0, 1), (2, 0), (-1, 1)):
            np.testing.assert_array_equal(_t(c, device).rot90(k, dims).numpy(),
                                          np.rot90(c, k, dims))
    with pytest.raises(ValueError, match="fliplr: input tensor must have at least 2"):
        Tensor([1.0], device=device).fliplr()
    with pytest.raises(ValueError, match="rot90: expected rotation dims to be different"):
        x.rot90(1, (1, -1))
    with pytest.raises(ValueError, match="rot90: expected total rotation dims == 2"):
        x.rot90(1, (0,))
    assert gradgradcheck(lambda t: t.rot90(1, (1, 2)) * t.rot90(3, (1, 2)).flipud(),
                         (_leaf(RNG.standard_normal((2, 3, 3)), device),))


@pytest.mark.parametrize("cut", [1, 2, 3, 5, [1, 3], [0, 2, 2], [-1], [4, 1], (7,)])
def test_tensor_split(device, cut):
    a = np.arange(20.0).reshape(4, 5)
    got = _t(a, device).tensor_split(cut, dim=1)
    want = np.array_split(a, cut, axis=1)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)
    assert len(_t(a, device).tensor_split(Tensor(3, device=device))) == 3
    assert [t.shape[0] for t in _t(a, device).tensor_split(Tensor([1, 2], device=device))] == \
        [1, 1, 2]


def test_tensor_split_bad_inputs_and_gradient(device):
    x = _leaf(A, device)
    with pytest.raises(ValueError, match="tensor_split: number of sections must be larger"):
        x.tensor_split(0)
    with pytest.raises(TypeError, match="tensor_split: indices_or_sections must be"):
        x.tensor_split(1.5)
    with pytest.raises(ValueError, match="tensor_split: expected at least a 1-dimensional"):
        Tensor(1.0, device=device).tensor_split(2)
    assert gradcheck(lambda t: t.tensor_split([1, 3], 1)[1] * 2, (x,))


def test_hsplit_vsplit_dsplit(device):
    c = np.arange(24.0).reshape(2, 4, 3)
    for name, cut in (("hsplit", 2), ("hsplit", [1, 3]), ("vsplit", [1]), ("dsplit", 3),
                      ("dsplit", [2])):
        got = getattr(_t(c, device), name)(cut)
        want = getattr(np, name)(c, cut)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)
    assert [t.shape for t in tinygrad_nv.hsplit(_t(np.arange(4.0), device), 2)] == [(2,), (2,)]
    with pytest.raises(ValueError, match="hsplit: attempted to split along dimension 1, but the "
                                         "size of the dimension 4 is not divisible by the "
                                         "split_size 3"):
        _t(c, device).hsplit(3)
    with pytest.raises(ValueError, match="vsplit: requires a tensor with at least 2 dimension"):
        _t([1.0], device).vsplit(1)
    with pytest.raises(ValueError, match="dsplit: requires a tensor with at least 3 dimension"):
        _t(A, device).dsplit(1)


def test_adjoint_and_msort(device):
    c = RNG.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(_t(c, device).adjoint().numpy(), c.transpose(0, 2, 1))
    with pytest.raises(ValueError, match="adjoint: is only supported on matrices"):
        _t([1.0], device).adjoint()
    np.testing.assert_array_equal(_t(c, device).msort().numpy(), np.sort(c, axis=0))
    np.testing.assert_array_equal(tinygrad_nv.msort(Tensor([3, 1, 2], device=device)).numpy(),
                                  [1, 2, 3])
    assert gradcheck(lambda t: t.msort() * t.adjoint().adjoint(), (_leaf(c, device),))


def test_sgn(device):
    x = _t([-2.0, 0.0, 3.0, -0.0], device)
    np.testing.assert_array_equal(x.sgn().numpy(), np.sign(x.numpy()))
    np.testing.assert_array_equal(tinygrad_nv.sgn(Tensor([-3, 4], device=device)).numpy(), [-1, 1])
    assert x.sgn_() is x


def test_split_with_sizes(device):
    parts = _t(A, device).split_with_sizes([1, 3], dim=1)
    np.testing.assert_array_equal(parts[1].numpy(), A[:, 1:])
    with pytest.raises(ValueError, match="split: sizes"):
        _t(A, device).split_with_sizes([1, 2], dim=1)
    with pytest.raises(TypeError, match="split_with_sizes: split_sizes must be a list"):
        _t(A, device).split_with_sizes(2)


def _diag_embed_ref(a, offset, dim1, dim2):
    n = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (n, n))
    i = np.arange(a.shape[-1])
    out[..., i + max(-offset, 0), i + max(offset, 0)] = a
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


@pytest.mark.parametrize("offset, dim1, dim2", [(0, -2, -1), (1, 0, 2), (-2, 2, 0), (0, 1, 0)])
def test_diag_embed(device, offset, dim1, dim2):
    a = RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(_t(a, device).diag_embed(offset, dim1, dim2).numpy(),
                                  _diag_embed_ref(a, offset, dim1, dim2 % 3))
    assert gradgradcheck(lambda t: t.diag_embed(offset, dim1, dim2) ** 2, (_leaf(a, device),))


def test_diagflat_and_errors(device):
    np.testing.assert_array_equal(_t(A, device).diagflat(-1).numpy(), np.diagflat(A, -1))
    np.testing.assert_array_equal(Tensor(2.0, device=device).diagflat().numpy(), [[2.0]])
    with pytest.raises(ValueError, match="diag_embed: diagonal dimensions cannot be identical"):
        _t(A, device).diag_embed(0, 1, -2)
    with pytest.raises(ValueError, match="diag_embed: expected a tensor of at least 1"):
        Tensor(1.0, device=device).diag_embed()


@given(strategies.broadcastable_shapes(2, min_dims=0, max_dims=3))
def test_sum_to_size(shapes):
    small, big = shapes
    target = np.broadcast_shapes(small, big)
    x = Tensor(RNG.standard_normal(target), requires_grad=True)
    sizes = (1,) * (len(target) - len(small)) + tuple(small)
    got = x.sum_to_size(*small)
    summed = tuple(i for i, (s, n) in enumerate(zip(sizes, target)) if s == 1 and n != 1)
    want = x.numpy().sum(axis=summed, keepdims=True)
    np.testing.assert_allclose(got.numpy(), want.reshape(small), rtol=1e-12)
    assert gradcheck(lambda t: t.sum_to_size(small) * 2, (x,))


def test_sum_to_size_bad_size(device):
    with pytest.raises(RuntimeError, match=r"sum_to_size: size \[2, 4\] is not expandable"):
        _t(A, device).sum_to_size(2, 4)
    x = _t(A, device)
    assert x.sum_to_size(3, 4) is x


# ---------------------------------------------------------------------- quantile
INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (1, False), (0, True),
                                          (-1, True)])
def test_quantile_against_numpy(device, interpolation, dim, keepdim):
    a = RNG.standard_normal((5, 6))
    q = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
    got = _t(a, device).quantile(_t(q, device), dim, keepdim, interpolation=interpolation)
    want = np.quantile(a, q, axis=dim, keepdims=keepdim, method=interpolation)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)
    one = _t(a, device).quantile(0.3, dim, keepdim, interpolation=interpolation)
    np.testing.assert_allclose(one.numpy(), np.quantile(a, 0.3, axis=dim, keepdims=keepdim,
                                                        method=interpolation), rtol=1e-12)


def test_quantile_nan(device):
    a = RNG.standard_normal((4, 5))
    a[1, 2] = a[3, :] = np.nan
    got = _t(a, device).quantile(0.4, dim=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), [False, True, False, True])
    got = _t(a, device).nanquantile(0.4, dim=1).numpy()
    np.testing.assert_allclose(got[:3], np.nanquantile(a[:3], 0.4, axis=1), rtol=1e-12)
    assert math.isnan(got[3])  # a row of NaN only
    np.testing.assert_allclose(_t(a, device).nanquantile(_t([0.1, 0.8], device)).numpy(),
                               np.nanquantile(a, [0.1, 0.8]), rtol=1e-12)


def test_quantile_gradient_and_dtypes(device):
    a = RNG.standard_normal((4, 5))
    assert gradcheck(lambda t: t.quantile(_t([0.3, 0.75], device), dim=1), (_leaf(a, device),))
    assert gradcheck(lambda t: t.nanquantile(0.5, interpolation="midpoint"), (_leaf(a, device),))
    assert _t(a, device, "float32").quantile(0.5).dtype == tinygrad_nv.float32
    assert Tensor(2.0, device=device).quantile(0.5).item() == 2.0


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.long().quantile(0.5), RuntimeError, "input tensor must be either float"),
    (lambda x: x.quantile(1.5), RuntimeError, r"q values must be in the range \[0, 1\]"),
    (lambda x: x.quantile(Tensor([0.5])), RuntimeError, "q tensor must be same dtype"),
    (lambda x: x.quantile(x), RuntimeError, "q must be a scalar or 1D tensor"),
    (lambda x: x.quantile(0.5, interpolation="cubic"), ValueError, "interpolation must be one"),
    (lambda x: x[:0].quantile(0.5), RuntimeError, "input tensor must be non-empty"),
    (lambda x: x.quantile([0.5]), TypeError, "q must be a float or a Tensor"),
    (lambda x: x.nanquantile(0.5, dim=2), IndexError, "nanquantile"),
])
def test_quantile_bad_inputs(device, call, error, match):
    with pytest.raises(error, match=match):
        call(_t(A, device))


def test_nanmedian(device):
    a = RNG.standard_normal((4, 5))
    a[0, 1] = a[2, :] = np.nan
    x = _t(a, device)
    assert math.isclose(x.nanmedian().item(), np.sort(a[~np.isnan(a)])[(np.sum(~np.isnan(a))
                                                                        - 1) // 2])
    values, indices = x.nanmedian(1)
    for row in (0, 1, 3):
        finite = np.sort(a[row][~np.isnan(a[row])])
        assert values[row].item() == finite[(len(finite) - 1) // 2]
        assert a[row, indices[row].item()] == values[row].item()
    assert math.isnan(values[2].item())
    assert x.nanmedian(0, keepdim=True).values.shape == (1, 5)
    assert tinygrad_nv.nanmedian(Tensor([3, 1, 2], device=device)).item() == 2
    assert math.isnan(Tensor.zeros(0, device=device).nanmedian().item())
    assert gradcheck(lambda t: t.nanmedian(1).values, (_leaf(A, device),))


# ---------------------------------------------------------------------- matrix
def test_vdot_and_inner(device):
    v, w = RNG.standard_normal(4), RNG.standard_normal(4)
    np.testing.assert_allclose(_t(v, device).vdot(_t(w, device)).numpy(), np.vdot(v, w))
    with pytest.raises(RuntimeError, match="vdot: expected both vectors to have same dtype"):
        _t(v, device).vdot(_t(w, device, "float32"))
    with pytest.raises(ValueError, match="vdot: 1D tensors expected"):
        _t(A, device).vdot(_t(w, device))
    with pytest.raises(ValueError, match="vdot: inconsistent tensor size"):
        _t(v, device).vdot(_t(w[:3], device))
    c = RNG.standard_normal((2, 5, 4))
    np.testing.assert_allclose(_t(A, device).inner(_t(c, device)).numpy(), np.inner(A, c))
    np.testing.assert_allclose(_t(A, device).inner(_t(2.0, device)).numpy(), 2 * A)
    with pytest.raises(ValueError, match="inner\\(\\) the last dimension must match"):
        _t(A, device).inner(_t(A.T, device))
    assert gradgradcheck(lambda a, b: a.inner(b), (_leaf(A, device), _leaf(B, device)))


def test_addmv_addr_addbmm(device):
    m, v, u = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal(3)
    b1, b2 = RNG.standard_normal((2, 3, 5)), RNG.standard_normal((2, 5, 4))
    np.testing.assert_allclose(_t(u, device).addmv(_t(m, device), _t(v, device), beta=0.5,
                                                   alpha=2).numpy(), 0.5 * u + 2 * m @ v)
    np.testing.assert_allclose(tinygrad_nv.addr(_t(A, device), _t(u, device), _t(v, device))
                               .numpy(), A + np.outer(u, v))
    np.testing.assert_allclose(_t(A, device).addbmm(_t(b1, device), _t(b2, device), beta=0)
                               .numpy(), np.einsum("bij,bjk->ik", b1, b2))
    nan = _t(np.full((3, 4), np.nan), device)
    assert not np.isnan(nan.addbmm(_t(b1, device), _t(b2, device), beta=0).numpy()).any()
    with pytest.raises(ValueError, match="addmv: input of shape"):
        _t(v, device).addmv(_t(m, device), _t(v, device))
    with pytest.raises(ValueError, match="mv: expects a matrix"):
        _t(u, device).addmv(_t(m, device), _t(u, device))
    with pytest.raises(ValueError, match="addr: input of shape"):
        _t(m.T, device).addr(_t(u, device), _t(v, device))
    assert gradcheck(lambda x, a, b: x.addbmm(a, b, alpha=0.5),
                     tuple(_leaf(a, device) for a in (A, b1, b2)))
    assert gradcheck(lambda x, a, b: x.addr(a, b, beta=2), tuple(_leaf(a, device)
                                                                 for a in (A, u, v)))


# ---------------------------------------------------------------------- torch
def test_against_torch(device):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((4, 6))
    a[1, 3] = np.nan
    ours, theirs = _t(a, device), torch.tensor(a)
    q_ours, q_theirs = _t([0.2, 0.7], device), torch.tensor([0.2, 0.7], dtype=torch.float64)
    pairs = [
        (ours.nanquantile(q_ours, 1, True), theirs.nanquantile(q_theirs, 1, True)),
        (ours.quantile(0.3, 0, interpolation="nearest"),
         theirs.quantile(0.3, 0, interpolation="nearest")),
        (ours.nanmedian(1).values, theirs.nanmedian(1).values),
        (ours.nanmedian(1).indices, theirs.nanmedian(1).indices),
        (ours.nanmedian(), theirs.nanmedian()),
        (ours.rot90(3, (1, 0)), theirs.rot90(3, (1, 0))),
        (ours.diag_embed(1, 0, 2), theirs.diag_embed(1, 0, 2)),
        (ours.deg2rad(), theirs.deg2rad()), (ours.float_power(2), theirs.float_power(2)),
        (ours.ldexp(Tensor([2], device=device)), theirs.ldexp(torch.tensor([2]))),
        (ours.sum_to_size(1, 6), theirs.sum_to_size(1, 6)),
        (ours.frexp().exponent, theirs.frexp().exponent),
        (ours.nextafter(_t(0.0, device)), theirs.nextafter(torch.tensor(0.0, dtype=torch.float64))),
        (ours.msort(), theirs.msort()), (ours.adjoint(), theirs.adjoint()),
    ]
    for got, want in pairs:
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    for cut in (3, [1, 4], [5, 2]):
        for g, w in zip(ours.tensor_split(cut, 1), theirs.tensor_split(cut, 1), strict=True):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        for g, w in zip(ours.hsplit(cut), theirs.hsplit(cut), strict=True):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    x, y = torch.tensor(A, requires_grad=True), _leaf(A, device)
    x.quantile(torch.tensor([0.1, 0.6], dtype=torch.float64), 1).sum().backward()
    y.quantile(_t([0.1, 0.6], device), 1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), x.grad.numpy())
