"""The float16 / bfloat16 row and convolution kernels (softmax / log_softmax, cross-entropy,
layer norm, attention softmax, im2col / col2im in both layouts) on emu against the NumPy
float32 reference computed from the same rounded inputs and rounded to the low dtype, within
two units of its last place: forward and backward, masks, ignore_index, causal, empty and odd
shapes. Every launch is a 16-bit kernel, and the ops hand half tensors to them as they are."""

import numpy as np
import pytest

from tests.backend.test_kernels import CONV_CASES, launches, randn
from tinygrad_nv import dtypes
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu
REF = NumpyKernels(np)
LOWS = ["float16", "bfloat16"]
MANTISSA = {"float16": 10, "bfloat16": 7}  # fraction bits
MIN_EXPONENT = {"float16": -14, "bfloat16": -126}  # of the smallest normal number
SUFFIX = {"float16": "f16", "bfloat16": "bf16"}
F32 = np.float32


def low(name: str) -> np.dtype:
    return dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)


def lows(*arrays, dtype: str) -> list:
    """The arrays rounded to the low dtype (what the kernels get)."""
    return [a.astype(low(dtype)) for a in arrays]


def wide(*arrays) -> list:
    """The rounded arrays as the reference's float32 inputs (exact)."""
    return [a.astype(F32) for a in arrays]


def close(got, want, dtype: str, ulps: float = 2.0, atol: float = 0.0) -> None:
    """got (the kernel's, low dtype) within `ulps` units in the last place of want (the float32
    reference's, rounded to the low dtype) plus atol; NaN and inf where want has them."""
    assert got.dtype == low(dtype) and got.shape == want.shape
    g, w = got.astype(np.float64), want.astype(low(dtype)).astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
    finite = np.isfinite(w)
    np.testing.assert_array_equal(g[~finite & ~np.isnan(w)], w[~finite & ~np.isnan(w)])
    exponent = np.floor(np.log2(np.maximum(np.abs(w[finite]), 2.0 ** MIN_EXPONENT[dtype])))
    limit = ulps * 2.0 ** (exponent - MANTISSA[dtype]) + atol
    err = np.abs(g[finite] - w[finite])
    assert (err <= limit).all(), f"{(err / limit).max():.2f}x the tolerance"


def low_launches(call, dtype: str) -> list:
    """The kernels `call(kernels)` launches on emu; asserts that they are 16-bit ones."""
    names = [name for name, _, _ in launches(call)]
    assert names and all(n.endswith("_" + SUFFIX[dtype]) for n in names), names
    return names


def emu():
    return get_backend("emu").kernels


# ---- softmax / log_softmax
ROW_SHAPES = [(0, 5), (1, 1), (7, 33), (5, 1024), (3, 1025), (2, 3000)]


@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", ROW_SHAPES)
def test_softmax_forward_backward(shape, log, dtype):
    x, g = lows(randn(*shape, scale=4.0), randn(*shape, seed=1), dtype=dtype)
    if x.size:
        x[0, :: 3] = -np.inf  # masked entries: probability 0, log probability -inf
    y = emu().softmax(x, log)
    with np.errstate(invalid="ignore"):  # the all -inf row of (1, 1): NaN
        close(y, REF.softmax(*wide(x), log), dtype)
    close(emu().softmax_backward(y, g, log), REF.softmax_backward(*wide(y, g), log), dtype,
          atol=1e-6)
    if x.size:
        low_launches(lambda k: k.softmax_backward(k.softmax(x, log), g, log), dtype)


# ---- cross-entropy
@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("mean", [False, True])
@pytest.mark.parametrize("shape", [(0, 5), (6, 0), (1, 1), (9, 37), (4, 1500)])
def test_cross_entropy_forward_backward(shape, mean, smoothing, dtype):
    rows, cols = shape
    (x,) = lows(randn(*shape, scale=3.0), dtype=dtype)
    t = np.random.default_rng(2).integers(0, max(cols, 1), rows)
    t[::4] = -100  # ignored rows
    loss, dlogits, scale = emu().cross_entropy(x, t, smoothing, -100, mean)
    want_loss, want_dlogits, want_scale = REF.cross_entropy(*wide(x), t, smoothing, -100, mean)
    close(loss, want_loss, dtype)
    close(dlogits, want_dlogits, dtype, atol=1e-6)
    (g,) = lows(np.asarray(1.7) if mean else randn(rows, seed=3), dtype=dtype)
    got = emu().cross_entropy_backward(dlogits, g, scale)
    if mean:  # the scale stays float32: 1 / count unrounded
        assert scale.dtype == F32
        if rows and cols:
            np.testing.assert_array_equal(scale, want_scale)
    close(got, REF.cross_entropy_backward(*wide(dlogits, g), want_scale), dtype, atol=1e-6)
    if rows and cols:
        low_launches(lambda k: k.cross_entropy_backward(
            *k.cross_entropy(x, t, smoothing, -100, mean)[1:2], g, scale), dtype)


@pytest.mark.parametrize("dtype", LOWS)
def test_cross_entropy_bad_target_is_nan(dtype):
    (x,) = lows(randn(5, 40), dtype=dtype)
    t = np.array([1, 40, -100, -1, 39])
    loss, dlogits, _ = emu().cross_entropy(x, t)
    rows = np.isnan(dlogits.astype(F32)).all(axis=1)
    np.testing.assert_array_equal(np.isnan(loss.astype(F32)), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(rows, [0, 1, 0, 1, 0])
    assert np.isnan(float(emu().cross_entropy(x, t, mean=True)[0]))


# ---- layer norm
@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
@pytest.mark.parametrize("shape", [(0, 8), (1, 1), (9, 31), (4, 1024), (3, 1500)])
def test_layer_norm_forward_backward(shape, affine, dtype):
    """weight and bias come in float32 (the math dtype, as the op passes them); mean, rstd and
    the weight and bias gradients stay float32."""
    x, g = lows(randn(*shape, scale=2.0) + 1.5, randn(*shape, seed=1), dtype=dtype)
    w = randn(shape[1], seed=2).astype(F32) if affine != "none" else None
    b = randn(shape[1], seed=3).astype(F32) if affine == "both" else None
    y, mean, rstd = emu().layer_norm(x, w, b, 1e-5)
    want_y, want_mean, want_rstd = REF.layer_norm(*wide(x), w, b, 1e-5)
    close(y, want_y, dtype, atol=1e-5)
    assert mean.dtype == rstd.dtype == F32
    np.testing.assert_allclose(mean, want_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, want_rstd, rtol=1e-5)
    gx, gw, gb = emu().layer_norm_backward(x, g, w, mean, rstd)
    want_gx, want_gw, want_gb = REF.layer_norm_backward(*wide(x, g), w, mean, rstd)
    close(gx, want_gx, dtype, atol=1e-5)
    for got, want in ((gw, want_gw), (gb, want_gb)):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.dtype == F32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if x.size:
        names = [n for n, _, _ in launches(lambda k: k.layer_norm_backward(
            x, g, w, *k.layer_norm(x, w, b, 1e-5)[1:]))]
        assert [n for n in names if n.startswith("layer_norm")] == [
            f"layer_norm_{d}{'_warp' if shape[1] <= 1024 else ''}_{SUFFIX[dtype]}"
            for d in ("forward", "backward")]


# ---- attention softmax
@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "float"])
@pytest.mark.parametrize("shape", [(0, 4, 6), (1, 1, 1), (3, 5, 7), (2, 3, 1030)])
def test_attention_softmax_forward_backward(shape, mask, dtype):
    """(batch, q_len, k_len) scores; the masks are (q_len, k_len), shared by every batch entry,
    with a first query that keeps nothing (a row of zeros)."""
    batch, q_len, k_len = shape
    s, g = lows(randn(batch * q_len, k_len, scale=3.0), randn(batch * q_len, k_len, seed=1),
                dtype=dtype)
    rng = np.random.default_rng(5)
    keep = rng.random((q_len, k_len)) > 0.3
    keep[0] = False
    m = {"bool": keep, "float": np.where(keep, rng.standard_normal(keep.shape), -np.inf)}.get(mask)
    if mask == "float":
        (m,) = lows(m, dtype=dtype)
    causal = mask == "causal"
    y = emu().attention_softmax(s, q_len, 0.7, causal, m)
    ref_mask = m if m is None or m.dtype == bool else m.astype(F32)
    close(y, REF.attention_softmax(*wide(s), q_len, 0.7, causal, ref_mask), dtype)
    close(emu().attention_softmax_backward(y, g, 0.7),
          REF.attention_softmax_backward(*wide(y, g), 0.7), dtype, atol=1e-6)
    if s.size:
        low_launches(lambda k: k.attention_softmax_backward(
            k.attention_softmax(s, q_len, 0.7, causal, m), g, 0.7), dtype)


# ---- convolution columns: im2col / col2im, both layouts, 32- and 64-bit index kernels
@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("index32", [True, False], ids=["idx32", "idx64"])
@pytest.mark.parametrize("layout", ["", "_cn"])
@pytest.mark.parametrize("case", [((0, 2, 5, 5), (3, 3), (1, 1), (1, 1), (1, 1)), *CONV_CASES],
                         ids=str)
def test_im2col_col2im(case, layout, index32, dtype, monkeypatch):
    """im2col copies the 16-bit patterns (bit for bit, -0 and NaN included); col2im adds up in
    float32 and rounds each pixel once (many taps: stride 1, a 3x3 or 5x5 window)."""
    kernels = emu()
    monkeypatch.setattr(kernels, "index32", index32)
    shape, *conv = case
    (x,) = lows(randn(*shape), dtype=dtype)
    specials = np.array([-0.0, np.nan])[:x.size]
    x.reshape(-1)[:specials.size] = specials
    im2col, col2im = getattr(kernels, "im2col" + layout), getattr(kernels, "col2im" + layout)
    cols = im2col(x, *conv)
    want = getattr(REF, "im2col" + layout)(x, *conv)
    assert cols.dtype == low(dtype)
    np.testing.assert_array_equal(cols.view(np.uint16), want.view(np.uint16))
    (c,) = lows(randn(*cols.shape, seed=1), dtype=dtype)
    back = col2im(c, shape, *conv)
    close(back, np.ascontiguousarray(getattr(REF, "col2im" + layout)(*wide(c), shape, *conv)),
          dtype, atol=1e-6)
    if x.size:
        names = [n for n, _, _ in launches(lambda k: (
            setattr(k, "index32", index32), getattr(k, "im2col" + layout)(x, *conv),
            getattr(k, "col2im" + layout)(c, shape, *conv)))]
        idx = "_idx32" if index32 else ""
        assert names == [f"{k}{layout}{idx}_{SUFFIX[dtype]}" for k in ("im2col", "col2im")]


# ---- the ops hand float16 / bfloat16 tensors to the kernels as they are
def _softmax_op(Tensor, F, device, dtype):
    x = Tensor(randn(6, 11, 5, scale=3.0).astype(low(dtype)), device=device, requires_grad=True)
    return [x.softmax(1), F.log_softmax(x, -1)], [x]


def _cross_entropy_op(Tensor, F, device, dtype):
    x = Tensor(randn(6, 11, 5, scale=3.0).astype(low(dtype)), device=device, requires_grad=True)
    t = Tensor(np.random.default_rng(4).integers(0, 11, (6, 5)), device=device)
    return [F.cross_entropy(x, t), F.cross_entropy(x, t, reduction="none")], [x]


def _layer_norm_op(Tensor, F, device, dtype):
    x = Tensor(randn(6, 3, 40, scale=2.0).astype(low(dtype)), device=device, requires_grad=True)
    w, b = (Tensor(randn(40, seed=k).astype(F32), device=device, requires_grad=True)
            for k in (1, 2))
    return [F.layer_norm(x, (40,), w, b), F.layer_norm(x, (40,))], [x, w, b]


def _attention_op(Tensor, F, device, dtype):
    q, k, v = (Tensor(randn(2, 3, 7, 8, seed=n).astype(low(dtype)), device=device,
                      requires_grad=True) for n in range(3))
    keep = Tensor(np.tril(np.ones((7, 7), bool)), device=device)
    return [F.scaled_dot_product_attention(q, k, v, is_causal=True),
            F.scaled_dot_product_attention(q, k, v, attn_mask=keep)], [q, k, v]


# op: (build, its kernels, ulps: a unit of difference in a kernel's output (float32 math is not
# NumPy's to the last bit) is carried through attention's products into q, k and v's gradients)
def _conv_op(Tensor, F, device, dtype):
    x = Tensor(randn(2, 3, 9, 8).astype(low(dtype)), device=device, requires_grad=True)
    w = Tensor(randn(4, 3, 3, 3, seed=1).astype(low(dtype)), device=device, requires_grad=True)
    wt = Tensor(randn(3, 2, 3, 3, seed=2).astype(low(dtype)), device=device,
                requires_grad=True)
    return [F.conv2d(x, w, stride=2, padding=1), F.conv_transpose2d(x, wt, padding=1)], \
        [x, w, wt]


OPS = {"conv": (_conv_op, ("im2col_cn", "col2im_cn"), 2),
       "attention": (_attention_op, ("attention_softmax_forward", "attention_softmax_backward"),
                     8),
       "softmax": (_softmax_op, ("softmax_forward", "softmax_backward"), 2),
       "cross_entropy": (_cross_entropy_op, ("cross_entropy", "cross_entropy_backward"), 2),
       "layer_norm": (_layer_norm_op, ("layer_norm_forward", "layer_norm_backward"), 2)}


def _family_name(kernel: str) -> str:
    """A kernel's name without its dtype and launch-shape or index-width variant."""
    return kernel.rsplit("_", 1)[0].removesuffix("_warp").removesuffix("_idx32")


@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("op", sorted(OPS))
def test_ops_launch_the_low_kernels_and_match_the_cpu(op, dtype):
    """The op and its gradients on emu launch the family's 16-bit kernels (no float32 copies)
    and give the CPU's numbers (the NumPy reference) to rounding; outputs and the input's
    gradient in the low dtype, as PyTorch gives them (float32 parameters keep float32)."""
    from tinygrad_nv import Tensor
    from tinygrad_nv.nn import functional as F
    build, names, ulps = OPS[op]

    def run(device):
        outs, leaves = build(Tensor, F, device, dtype)
        sum(o.float().sum() * k for k, o in enumerate(outs, 1)).backward()
        return [o.numpy() for o in outs] + [t.grad.numpy() for t in leaves]

    with instrumented("emu") as probe:
        got = run("emu")
    launched = [c for c in probe.calls if c.rsplit("_", 1)[-1] in SUFFIX.values()
                or c.rsplit("_", 1)[-1] in ("f32", "f64")]
    ours = [c for c in launched if _family_name(c) in names]
    assert {_family_name(c) for c in ours} == set(names), launched
    assert all(c.endswith("_" + SUFFIX[dtype]) for c in ours), launched
    for g, w in zip(got, run("cpu"), strict=True):
        assert g.dtype == w.dtype
        if g.dtype == F32:
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
        else:
            close(g, w, dtype, ulps, atol=1e-5)
