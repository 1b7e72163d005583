"""erf and erfc without SciPy: the NumPy reference (W. J. Cody's rational approximations,
tinygrad_nv/backend/erf.py) against math.erf / math.erfc over the whole range in float64 and
float32, the CUDA kernels (CUDA's erff / erf, on emu and cuda) against math, and the Tensor ops
with their gradients on every device."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend
from tinygrad_nv.backend import erf as cody
from tinygrad_nv.testing import gradcheck

MATH = {"erf": math.erf, "erfc": math.erfc}
# the three ranges of the approximation and their seams, the tails to underflow, tiny values
POINTS = np.concatenate([np.linspace(-7.0, 7.0, 14001), np.logspace(-300, 1.5, 3000),
                         -np.logspace(-300, 1.5, 3000), [0.46875, 4.0, 10.05, 26.5, 27.3, 1e300]])
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])


def points(dtype) -> np.ndarray:
    with np.errstate(over="ignore"):  # 1e300 is inf in float32
        return POINTS.astype(dtype)


def ulps(got: np.ndarray, x: np.ndarray, name: str, flushes: bool = False) -> float:
    """The largest error of `got` in units of the last place of math's value in got's dtype;
    `flushes`: float32 on a GPU (and emu) flushes denormal inputs and results to zero, so
    those places are left out."""
    dtype = got.dtype
    expected = np.array([MATH[name](float(v)) for v in x]).astype(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    spacing = np.maximum(np.spacing(np.abs(expected)), tiny).astype(np.float64)
    error = np.abs(got.astype(np.float64) - expected) / spacing
    if flushes and dtype == np.float32:
        def kept(a):
            return (np.abs(a) >= np.finfo(dtype).tiny) | (a == 0)
        error = error[kept(x) & kept(expected)]
    return float(np.max(error))


@pytest.mark.parametrize("name", ["erf", "erfc"])
@pytest.mark.parametrize("dtype, bound", [(np.float64, 8), (np.float32, 10)])
def test_reference_is_within_a_few_ulps_of_math(name, dtype, bound):
    x = points(dtype)
    got = getattr(cody, name)(np, x)
    assert got.dtype == dtype  # float32 is evaluated in float32, not through float64
    assert ulps(got, x, name) <= bound
    special = getattr(cody, name)(np, SPECIAL.astype(dtype))
    expected = [MATH[name](v) for v in SPECIAL]
    np.testing.assert_array_equal(special, np.array(expected, dtype))
    assert np.signbit(special[1]) == (name == "erf")  # erf(-0) = -0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_cdf_is_half_of_one_plus_erf(dtype):
    """GELU's Phi(x) = (1 + erf(x / sqrt 2)) / 2 within two units of 1.0's last place of
    math's value (float32 through chunks of the rational function, their seams included)."""
    x = np.concatenate([points(dtype), np.linspace(-9, 9, 40000, dtype=dtype)])
    got = cody.normal_cdf(np, x)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, [(1 + math.erf(v / math.sqrt(2))) / 2 for v in x.tolist()],
                               rtol=0, atol=2 * np.finfo(dtype).eps)
    special = cody.normal_cdf(np, SPECIAL.astype(dtype))
    np.testing.assert_array_equal(special, np.array([0.5, 0.5, 1.0, 0.0, np.nan], dtype))


def test_reference_evaluates_float32_in_float32():
    """Not float64 rounded at the end: the float32 result differs from that in some places."""
    x = points(np.float32)
    assert not np.array_equal(cody.erf(np, x), cody.erf(np, x.astype(np.float64)).astype(
        np.float32))
    assert cody.erf(np, x.astype(np.float16)).dtype == np.float16


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def backend(request):
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return get_backend(request.param)


@pytest.mark.parametrize("name", ["erf", "erfc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_are_cudas_own(backend, name, dtype):
    """kernels.erf / kernels.erfc launch activation.cu's erf / erfc kernels (CUDA's erff,
    erf, erfcf, erfc): within a few ulps of math (glibc's on emu)."""
    x = points(dtype)
    got = backend.to_host(getattr(backend.kernels, name)(backend.from_host(x)))
    assert got.dtype == dtype and ulps(got, x, name, flushes=True) <= 4
    nan = backend.to_host(getattr(backend.kernels, name)(backend.from_host(SPECIAL.astype(dtype))))
    np.testing.assert_array_equal(nan, np.array([MATH[name](v) for v in SPECIAL], dtype))


@pytest.mark.parametrize("dtype", [dtypes.float32, dtypes.float64])
def test_tensor_erf_and_erfc_over_the_whole_range(device, dtype):
    x = points(dtype)
    t = Tensor(x, device=device)
    bound = 8 if dtype == dtypes.float64 else 10
    for name in ("erf", "erfc"):
        got = getattr(t, name)()
        assert got.dtype == dtype
        assert ulps(got.numpy(), x, name, flushes=device != "cpu") <= bound
    assert Tensor([1, 2], device=device).erf().dtype == dtypes.float32  # integers promote


def test_gradients(device):
    x = Tensor(np.linspace(-3, 3, 13), dtype=dtypes.float64, device=device, requires_grad=True)
    gradcheck(lambda t: t.erf(), [x])
    gradcheck(lambda t: t.erfc(), [x])
    gradcheck(lambda t: t.gelu(), [x])


def test_no_scipy_on_the_path(device, monkeypatch):
    """erf, erfc and the exact gelu, forward and backward, with SciPy made unimportable."""
    for module in ("scipy", "scipy.special"):
        monkeypatch.setitem(sys.modules, module, None)
    x = Tensor([-2.0, 0.5, 3.0], device=device, requires_grad=True)
    (x.erf() + x.erfc() + x.gelu()).sum().backward()
    expected = [math.erf(v) + math.erfc(v) + 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
                for v in (-2.0, 0.5, 3.0)]
    np.testing.assert_allclose((x.erf() + x.erfc() + x.gelu()).numpy(), expected, rtol=1e-6)
    assert x.grad is not None
