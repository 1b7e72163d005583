"""kernels/attention.cu (the scaled, masked row softmax of attention scores, forward and
backward) against its NumPy reference (NumpyKernels.attention_softmax*), launched through
CudaKernels on `emu` and, where a GPU is present, on `cuda`, with both launch shapes (a warp
per row, a block per row) and, on emu, threads in a shuffled order; the reference itself
against an explicit softmax."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_nv.backend import cuda_unavailable_reason, emu, get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing.instrumented import instrumented

REF = NumpyKernels(np)
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}
# (batch, queries, keys): row lengths that are not multiples of a warp or block, one below 32,
# one above the largest block of 512 threads (the grid-stride loop over columns), one above
# the widest row a warp takes (1024); 9 and 21 rows leave a block of 4 warp rows partly used
SHAPES = [(1, 1, 1), (3, 3, 5), (3, 7, 33), (1, 5, 600), (2, 2, 129), (1, 3, 1100)]


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def backend(request):
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return get_backend(request.param)


@pytest.fixture(params=["warp", "block"])
def team(request, backend):
    """Rows up to 1024 keys take a warp each; warp_row_cols = 0 gives every row a block."""
    kernels, saved = backend.kernels, backend.kernels.warp_row_cols
    if request.param == "block":
        kernels.warp_row_cols = 0
    yield request.param
    kernels.warp_row_cols = saved


def scores_and_mask(shape, dtype, kind, seed=0):
    batch, q_len, k_len = shape
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((batch * q_len, k_len)).astype(dtype)
    rows = q_len if seed % 2 else batch * q_len  # a shared (L, S) mask, or one per row
    if kind == "bool":
        return scores, rng.random((rows, k_len)) > 0.3
    if kind == "additive":
        mask = rng.standard_normal((rows, k_len)).astype(dtype)
        mask[rng.random(mask.shape) > 0.8] = -np.inf
        return scores, mask
    return scores, None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", [None, "bool", "additive"])
@pytest.mark.parametrize("causal", [False, True])
def test_kernel_matches_the_reference(backend, team, dtype, shape, kind, causal):
    check_against_the_reference(backend, dtype, shape, kind, causal)


@pytest.mark.parametrize("kind", [None, "bool", "additive"])
@pytest.mark.parametrize("order", ["reverse", "shuffle:1", "shuffle:7"])
def test_kernel_does_not_depend_on_the_thread_order(backend, team, kind, order, monkeypatch):
    """On emu the threads of a block run in another order between barriers: a missing
    __syncthreads (or a shuffle read before its write) would change the result."""
    if not backend.name.startswith("emu"):
        pytest.skip("only emu runs the threads of a block in a chosen order")
    monkeypatch.setenv(emu.ORDER_ENV, order)
    for shape in ((3, 7, 33), (1, 3, 1100)):
        check_against_the_reference(backend, np.float64, shape, kind, True)


@pytest.mark.emu
def test_rows_up_to_1024_keys_take_a_warp_each():
    with instrumented("emu") as probe:
        backend = get_backend("emu")
        for keys in (1024, 1025):
            scores = backend.from_host(np.ones((5, keys), np.float32))
            y = backend.kernels.attention_softmax(scores, 5, 1.0, True)
            backend.kernels.attention_softmax_backward(y, scores, 1.0)
    launched = [call for call in probe.calls if call.startswith("attention")]
    assert launched == ["attention_softmax_forward_warp_f32", "attention_softmax_backward_warp_f32",
                        "attention_softmax_forward_f32", "attention_softmax_backward_f32"]


def check_against_the_reference(backend, dtype, shape, kind, causal):
    """Forward and backward on `backend` against NumpyKernels, scale 0.7."""
    scores, mask = scores_and_mask(shape, dtype, kind, seed=shape[2])
    q_len = shape[1]
    put = backend.from_host
    y = backend.kernels.attention_softmax(put(scores), q_len, 0.7, causal,
                                          None if mask is None else put(mask))
    expected = REF.attention_softmax(scores, q_len, 0.7, causal, mask)
    got = backend.to_host(y)
    assert got.dtype == dtype and got.shape == scores.shape
    np.testing.assert_allclose(got, expected, **TOL[dtype])
    grad = np.random.default_rng(1).standard_normal(scores.shape).astype(dtype)
    ds = backend.kernels.attention_softmax_backward(put(expected), put(grad), 0.7)
    np.testing.assert_allclose(backend.to_host(ds),
                               REF.attention_softmax_backward(expected, grad, 0.7),
                               **TOL[dtype])


def test_fully_masked_rows_are_zero_not_nan(backend, team):
    scores = np.random.default_rng(0).standard_normal((4, 6))
    keep = np.ones((4, 6), dtype=bool)
    keep[1] = False
    additive = np.zeros((4, 6))
    additive[2] = -np.inf
    for mask in (keep, additive):
        y = backend.to_host(backend.kernels.attention_softmax(
            backend.from_host(scores), 4, 1.0, False, backend.from_host(mask)))
        assert np.isfinite(y).all()
        np.testing.assert_array_equal(y[1 if mask.dtype == bool else 2], 0.0)
        np.testing.assert_allclose(y.sum(axis=1)[[0, 3]], 1.0)


def test_reference_is_the_explicit_masked_softmax():
    scores, keep = np.random.default_rng(2).standard_normal((6, 5)), np.ones((3, 5), bool)
    keep[0, 1] = False
    y = REF.attention_softmax(scores, 3, 0.5, True, keep)
    allowed = np.tile(keep, (2, 1)) & np.tile(np.tril(np.ones((3, 5), bool)), (2, 1))
    e = np.where(allowed, np.exp(0.5 * scores), 0.0)
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    g = np.random.default_rng(3).standard_normal((6, 5))
    jacobian_product = np.stack([0.5 * (np.diag(r) - np.outer(r, r)) @ gr for r, gr in zip(y, g)])
    np.testing.assert_allclose(REF.attention_softmax_backward(y, g, 0.5), jacobian_product,
                               rtol=1e-12, atol=1e-15)


def test_reference_drops_nan_where_it_masks_and_keeps_it_where_it_attends():
    scores = np.random.default_rng(4).standard_normal((4, 4))
    scores[0, 3] = scores[2, 1] = np.nan  # row 0: after its query (causal); row 2: kept
    keep = np.ones((4, 4), bool)
    keep[1, 2] = False
    scores[1, 2] = np.nan  # masked out by the boolean mask
    y = REF.attention_softmax(scores, 4, 1.0, True, keep)
    assert np.isnan(y[2]).all() and np.isfinite(y[[0, 1, 3]]).all()
    np.testing.assert_allclose(y[[0, 1, 3]].sum(axis=1), 1.0)
    np.testing.assert_array_equal(y[0, 1:], 0.0)
    additive = np.zeros((4, 4))
    additive[3] = -np.inf  # a row of -inf: zeros, not NaN
    y = REF.attention_softmax(np.nan_to_num(scores), 2, 0.5, False, additive)
    np.testing.assert_array_equal(y[3], 0.0)
