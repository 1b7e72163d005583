"""NaN in, NaN out, as PyTorch: every reduction kernel (softmax, cross-entropy and its fused
mean, attention softmax) gives a NaN row for a row that holds a NaN and leaves the other rows
alone, with either launch shape (lane teams, a block per row); the composed reductions (max,
layer norm) do too. On emu (and cuda where there is one) against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REF = NumpyKernels(np)
BAD_ROW = 2


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def backend(request):
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return get_backend(request.param)


@pytest.fixture(params=["team", "block"])
def shape_of_launch(request, backend):
    """Rows up to 1024 columns take a lane team each; warp_row_cols = 0 gives every row a
    block."""
    kernels, saved = backend.kernels, backend.kernels.warp_row_cols
    if request.param == "block":
        kernels.warp_row_cols = 0
    yield request.param
    kernels.warp_row_cols = saved


def with_nan(cols: int, where: str, dtype=np.float64) -> np.ndarray:
    x = np.random.default_rng(cols).standard_normal((5, cols)).astype(dtype)
    x[BAD_ROW, {"first": 0, "middle": cols // 2, "last": cols - 1}[where]] = np.nan
    return x


def check_rows(got: np.ndarray, expected: np.ndarray) -> None:
    """Row BAD_ROW all NaN in both; the other rows equal and finite."""
    assert np.isnan(got[BAD_ROW]).all() and np.isnan(expected[BAD_ROW]).all()
    good = np.arange(len(got)) != BAD_ROW
    assert np.isfinite(got[good]).all()
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("cols", [1, 3, 10, 40, 1100])
def test_softmax(backend, shape_of_launch, cols, where):
    x, k = with_nan(cols, where), backend.kernels
    for log in (False, True):
        check_rows(backend.to_host(k.softmax(backend.from_host(x), log)), REF.softmax(x, log))
    y = REF.softmax(np.nan_to_num(x), True)
    got = k.softmax_backward(backend.from_host(y), backend.from_host(x), True)
    check_rows(backend.to_host(got), REF.softmax_backward(y, x, True))


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("cols", [1, 10, 40, 1100])
def test_cross_entropy_and_its_mean(backend, shape_of_launch, cols, where):
    x, k = with_nan(cols, where), backend.kernels
    targets = np.arange(5) % cols
    loss, dlogits, _ = k.cross_entropy(backend.from_host(x), backend.from_host(targets))
    ref_loss, ref_dlogits, _ = REF.cross_entropy(x, targets)
    check_rows(backend.to_host(loss)[:, None], ref_loss[:, None])
    check_rows(backend.to_host(dlogits), ref_dlogits)
    mean, _, _ = k.cross_entropy(backend.from_host(x), backend.from_host(targets), mean=True)
    assert np.isnan(backend.to_host(mean))
    targets[BAD_ROW] = -100  # an ignored row's NaN does not reach the mean (as PyTorch)
    mean, _, _ = k.cross_entropy(backend.from_host(x), backend.from_host(targets), mean=True)
    np.testing.assert_allclose(backend.to_host(mean), REF.cross_entropy(x, targets, mean=True)[0])
    assert np.isfinite(backend.to_host(mean))


@pytest.mark.parametrize("keys", [5, 40, 1100])
@pytest.mark.parametrize("mask", [None, "bool", "additive"])
def test_attention_softmax(backend, shape_of_launch, keys, mask):
    """A NaN among a row's kept scores makes the row NaN (it was all zeros); a NaN where the
    causal mask drops the entry changes nothing."""
    scores = with_nan(keys, "first")
    scores[BAD_ROW + 1, -1] = np.nan  # dropped: query 3 does not see the last key
    m = None if mask is None else np.ones((5, keys), bool) if mask == "bool" else np.zeros(
        (5, keys))
    got = backend.kernels.attention_softmax(backend.from_host(scores), 5, 0.5, True,
                                            None if m is None else backend.from_host(m))
    check_rows(backend.to_host(got), REF.attention_softmax(scores, 5, 0.5, True, m))


@pytest.mark.emu
def test_composed_reductions_max_and_layer_norm():
    x = with_nan(7, "middle", np.float32)
    t = Tensor(x, device="emu")
    check_rows(t.amax(1).numpy()[:, None], np.max(x, axis=1)[:, None])
    assert np.isnan(t.max().item()) and np.isnan(t.amin().item())
    centered = x - x.mean(axis=1, keepdims=True)
    expected = centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + 1e-5)
    got = F.layer_norm(t, 7).numpy()
    assert np.isnan(got[BAD_ROW]).all()
    good = np.arange(5) != BAD_ROW
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cols", [1, 3, 40, 1100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minus_inf_entries_give_zero_probability(backend, shape_of_launch, cols, dtype):
    """-inf logits (masked_fill(mask, -inf), top-k sampling) get probability 0 and log
    probability -inf wherever the row has a finite value, whichever thread meets them first;
    an all -inf row is NaN (as PyTorch). Was NaN for the whole row when a thread met -inf
    first (exp(-inf - -inf))."""
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((6, cols)).astype(dtype)
    x[rng.random((6, cols)) < 0.7] = -np.inf
    x[0, 0], x[1, -1] = -np.inf, 3.0  # -inf at the start of a row; a finite last entry
    x[2] = -np.inf  # all -inf
    x[3, 1:] = -np.inf
    x[3, 0] = 0.5
    k = backend.kernels
    with np.errstate(invalid="ignore"):
        for log in (False, True):
            got = backend.to_host(k.softmax(backend.from_host(x), log))
            np.testing.assert_allclose(got, REF.softmax(x, log), rtol=1e-5, atol=0)
        targets = np.argmax(x, axis=1)
        loss = backend.to_host(k.cross_entropy(backend.from_host(x), backend.from_host(
            targets))[0])
        np.testing.assert_allclose(loss, REF.cross_entropy(x, targets)[0], rtol=1e-5)
    probabilities = backend.to_host(k.softmax(backend.from_host(x), False))
    finite_rows = np.isfinite(x).any(axis=1)
    assert np.isfinite(probabilities[finite_rows]).all() and np.isnan(probabilities[2]).all()
    assert probabilities[3].tolist() == [1.0] + [0.0] * (cols - 1)
