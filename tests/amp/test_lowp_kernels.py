"""The float16 / bfloat16 kernels (16-bit storage, float32 math: kernels/lowp.cu) on emu
against the NumPy float32 reference rounded to the low dtype: every activation forward and
backward, bias + activation, every optimizer's fused update; the launches are the low-dtype
kernels themselves (no float32 copies), and the conversions are bit-exact."""

import numpy as np
import pytest

from tests.backend.test_kernels import act_input, randn
from tinygrad_nv import dtypes
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import ACTIVATIONS, NumpyKernels
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu
REF = NumpyKernels(np)
LOWS = ["float16", "bfloat16"]
PARAMS = {"leaky_relu": 0.1, "softplus": 1.5, "elu": 0.7}
# one rounding of the low dtype apart (the kernels' float math may differ from NumPy's in the
# last float32 bit, which can move a value across a rounding boundary)
STEP = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def _low(dtype: str):
    return dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)


def _close(got, want, dtype, atol=0.0) -> None:
    assert got.dtype == want.dtype == _low(dtype)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                               rtol=STEP[dtype], atol=max(atol, 2.0**-24))


def _emu():
    return get_backend("emu").kernels


@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_forward_and_backward(act, dtype):
    x = act_input(300, np.float32).astype(_low(dtype))
    g = randn(x.size, seed=1).astype(_low(dtype))
    p = PARAMS.get(act, 0.0)
    want = REF.act_forward(act, x.astype(np.float32), p).astype(_low(dtype))
    # atol: gelu's 1 + erf(x / sqrt 2) cancels in float32 for x < -4 (both sides alike)
    _close(_emu().act_forward(act, x, p), want, dtype, atol=2e-5)
    want = REF.act_backward(act, x.astype(np.float32), g.astype(np.float32), p)
    _close(_emu().act_backward(act, x, g, p), want.astype(_low(dtype)), dtype, atol=1e-3)


@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("act", ["identity", "relu", "gelu", "silu"])
def test_bias_act(act, dtype):
    z = randn(37, 19, seed=2).astype(_low(dtype))
    bias = randn(19, seed=3).astype(_low(dtype))
    pre, out = _emu().bias_act(z.copy(), bias, act)
    want_pre = (z.astype(np.float32) + bias.astype(np.float32)).astype(_low(dtype))
    np.testing.assert_array_equal(pre.view(np.uint16), want_pre.view(np.uint16))
    want = REF.act_forward(act, want_pre.astype(np.float32)).astype(_low(dtype))
    _close(out, want, dtype, atol=2e-5)


OPTIMIZERS = {
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.01, weight_decay=0.01),
    "AdamW": dict(lr=0.01),
    "RMSprop": dict(lr=0.01, momentum=0.9, centered=True),
    "NAdam": dict(lr=0.01),
    "RAdam": dict(lr=0.01),
    "Adamax": dict(lr=0.01),
    "Adadelta": dict(lr=1.0),
    "ASGD": dict(lr=0.01),
}


@pytest.mark.parametrize("dtype", LOWS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_update(name, dtype):
    """Three steps of a group (sizes not multiples of the block, an empty tensor) on emu (the
    16-bit kernels) and on the CPU (the NumPy reference: float32 math, rounded)."""
    from tinygrad_nv import Tensor, optim
    sizes = (1000, 0, 3, 257)
    results = []
    for device in ("cpu", "emu"):
        params = [Tensor(randn(n, seed=k), device=device).cast(_low(dtype)).requires_grad_()
                  for k, n in enumerate(sizes)]
        opt = getattr(optim, name)(params, **OPTIMIZERS[name])
        for step in range(3):
            for k, p in enumerate(params):
                p.grad = Tensor(randn(sizes[k], seed=50 + 10 * step + k),
                                device=device).cast(_low(dtype))
            opt.step()
        results.append([p.numpy() for p in params])
    for want, got in zip(*results, strict=True):
        _close(got, want, dtype, atol=1e-6)
    assert not np.array_equal(results[1][0].view(np.uint16),
                              randn(1000, seed=0).astype(_low(dtype)).view(np.uint16))


@pytest.mark.parametrize("dtype", LOWS)
def test_launches_are_the_low_dtype_kernels(dtype):
    from tinygrad_nv import Tensor, nn
    with instrumented("emu") as probe:
        layer = nn.Linear(8, 4).to("emu").to(dtype=_low(dtype))
        x = Tensor(randn(5, 8).astype(np.float32), device="emu").cast(_low(dtype))
        x.requires_grad_()
        probe.reset()
        out = nn.functional.gelu(layer(x))
        out.sum().backward()
    suffix = "bf16" if dtype == "bfloat16" else "f16"
    assert f"act_forward_{suffix}" in probe.calls and f"act_backward_{suffix}" in probe.calls
    assert x.grad.dtype == _low(dtype)


def test_conversions_are_bit_exact():
    """Every float16 and bfloat16 pattern through an identity activation (load + store), and
    float32 sums on, beside and between bfloat16 rounding ties stored by bias_act (nearest
    even, as ml_dtypes and PyTorch)."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    for dtype in LOWS:
        x = bits.view(_low(dtype))
        got = _emu().act_forward("identity", x)
        nan = np.isnan(x.astype(np.float32))
        np.testing.assert_array_equal(got.view(np.uint16)[~nan], bits[~nan])
        assert np.isnan(got[nan].astype(np.float32)).all()
    rng = np.random.default_rng(4)
    z = (rng.standard_normal(4096) * 2.0 ** rng.integers(-60, 60, 4096)).astype(
        dtypes.bfloat16).reshape(-1, 1)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(z.astype(np.float64)))) - 7)
    for halves in (1, 2, 3):  # half an ulp (a tie), a whole one, one and a half (a tie)
        bias = (ulp * halves / 2).astype(dtypes.bfloat16)
        for b in np.unique(bias.ravel())[:64]:
            rows = np.nonzero(bias.ravel() == b)[0]
            pre, _ = _emu().bias_act(z[rows].copy(), np.array([b]), "identity")
            want = (z[rows].astype(np.float32) + np.float32(b)).astype(dtypes.bfloat16)
            np.testing.assert_array_equal(pre.view(np.uint16), want.view(np.uint16))
