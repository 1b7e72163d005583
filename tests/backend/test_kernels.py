"""Every kernel of kernels/*.cu against its NumPy reference (NumpyKernels), launched through
CudaKernels on `emu` and, where a GPU is present, on `cuda`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_nv.backend import cuda_unavailable_reason, emu, get_backend
from tinygrad_nv.backend.kernels import ACTIVATIONS, AdamCoef, RmspropCoef, SgdCoef
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REF = NumpyKernels(np)
DTYPES = (np.float32, np.float64)
# float32 atol: gelu_tanh's derivative cancels (1 + tanh) for negative x, in both implementations
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}
PARAM = {"leaky_relu": 0.1, "softplus": 2.0, "elu": 0.7}  # slope, beta, alpha


class Device:
    """A backend plus host <-> device transfers for the comparisons."""

    def __init__(self, name: str):
        self.backend = get_backend(name)
        self.kernels = self.backend.kernels

    def put(self, array: np.ndarray):
        """A device copy (never the array itself: on emu the kernel must not update the
        reference's arrays)."""
        return self.backend.from_host(array.copy(order="K"))

    def get(self, array) -> np.ndarray:
        return self.backend.to_host(array)

    def check(self, actual, expected: np.ndarray, dtype=None) -> None:
        actual = self.get(actual)
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        tol = TOL[dtype or expected.dtype.type]
        np.testing.assert_allclose(actual, expected, **tol)


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def dev(request) -> Device:
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return Device(request.param)


def randn(*shape, dtype=np.float64, scale=1.0, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def act_input(n: int, dtype) -> np.ndarray:
    """Normal values plus the places where activations switch branch or saturate."""
    special = np.array([0.0, -0.0, 1e-3, -1e-3, 9.99, 10.01, 25.0, -25.0, 80.0, -80.0])
    return np.concatenate([special, randn(n, scale=3.0)])[:n].astype(dtype)


# ---- activations
@pytest.mark.parametrize("n", [0, 1, 1000])  # 1000: not a multiple of the block size
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_act_forward_backward(dev, act, dtype, n):
    x, grad, p = act_input(n, dtype), randn(n, dtype=dtype, seed=1), PARAM.get(act, 0.0)
    dev.check(dev.kernels.act_forward(act, dev.put(x), p), REF.act_forward(act, x, p))
    dev.check(dev.kernels.act_backward(act, dev.put(x), dev.put(grad), p),
              REF.act_backward(act, x, grad, p))


def test_act_shapes_non_contiguous_and_float16(dev):
    x = randn(6, 5, 7, scale=2.0)
    t, d_t = x.transpose(2, 0, 1)[:, ::2], dev.put(x).transpose(2, 0, 1)[:, ::2]
    assert not d_t.flags.c_contiguous
    dev.check(dev.kernels.act_forward("gelu", d_t), REF.act_forward("gelu", t))
    dev.check(dev.kernels.act_forward("silu", dev.put(np.float64(1.5).reshape(()))),
              REF.act_forward("silu", np.float64(1.5).reshape(())))
    h = x.astype(np.float16)
    out = dev.get(dev.kernels.act_backward("tanh", dev.put(h), dev.put(h)))
    assert out.dtype == np.float16
    expected = REF.act_backward("tanh", x.astype(np.float32), h.astype(np.float32))
    np.testing.assert_allclose(out, expected, rtol=2e-3, atol=2e-3)


def test_act_rejects_bad_input(dev):
    with pytest.raises(ValueError, match="unknown activation"):
        dev.kernels.act_forward("swish", dev.put(randn(3)))
    with pytest.raises(TypeError, match="floating-point"):
        dev.kernels.act_forward("relu", dev.put(np.arange(3)))


# ---- linear epilogue
@pytest.mark.parametrize("shape", [(1, 1), (7, 300), (0, 5)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["identity", "relu", "gelu_tanh", "elu"])
def test_bias_act(dev, act, dtype, shape):
    z, bias = randn(*shape, dtype=dtype), randn(shape[1], dtype=dtype, seed=1)
    p = PARAM.get(act, 0.0)
    pre, out = dev.kernels.bias_act(dev.put(z), dev.put(bias), act, p)
    ref_pre, ref_out = REF.bias_act(z.copy(), bias, act, p)
    dev.check(pre, ref_pre)
    dev.check(out, ref_out)


# (3000, 37): several row chunks, summed by a second launch
@pytest.mark.parametrize("shape", [(1, 1), (0, 5), (1000, 37), (3, 70), (3000, 37), (4, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_grad(dev, dtype, shape):
    g = randn(*shape, dtype=dtype)
    expected = g.astype(np.float64).sum(axis=0).astype(dtype)  # the exact sum, rounded once
    # float32 sums in another order: rounding errors grow like sqrt(rows)
    tol = TOL[dtype] if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5 * shape[0]**0.5}
    for array in (g, np.asfortranarray(g)):
        actual = dev.get(dev.kernels.bias_grad(dev.put(array)))
        assert actual.dtype == dtype and actual.shape == (shape[1],)
        np.testing.assert_allclose(actual, expected, **tol)


# ---- softmax
# warp per row up to 1024 columns (9 rows: a partly used block), a block per row beyond
@pytest.mark.parametrize("shape", [(1, 1), (5, 10), (9, 700), (3, 1500), (2, 2049)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax(dev, log, dtype, shape):
    x, grad = randn(*shape, dtype=dtype, scale=4.0), randn(*shape, dtype=dtype, seed=1)
    y = REF.softmax(x, log)
    dev.check(dev.kernels.softmax(dev.put(x), log), y)
    dev.check(dev.kernels.softmax_backward(dev.put(y), dev.put(grad), log),
              REF.softmax_backward(y, grad, log))


def launches(kernels_call) -> list:
    """(kernel, grid, block) of every launch `kernels_call(kernels)` makes on emu."""
    from tinygrad_nv.backend.launch import CudaKernels

    seen = []
    kernels_call(CudaKernels(np, emu.emu_load_module, lambda *launch: seen.append(launch)))
    return seen


@pytest.mark.emu
@pytest.mark.parametrize("cols, width", [(1, 1), (3, 4), (10, 16), (20, 32), (700, 32)])
def test_narrow_rows_take_as_many_lanes_as_they_have_columns(cols, width):
    """Lane teams of the row length rounded up to a power of two (at most a warp): 128 / width
    rows a block of 128 threads; results as with a whole warp per row."""
    x = randn(300, cols)
    expected = [(f"{k}_warp_f64", (-(-300 * width // 128),), (128,))
                for k in ("softmax_forward", "softmax_backward", "cross_entropy")]
    assert launches(lambda k: (k.softmax_backward(k.softmax(x), x),
                               k.cross_entropy(x, np.zeros(300, np.int64)))) == expected
    kernels = get_backend("emu").kernels
    kernels.sub_warp_rows = False
    try:
        whole_warp = kernels.softmax(x, True)
    finally:
        kernels.sub_warp_rows = True
    np.testing.assert_array_equal(kernels.softmax(x, True), whole_warp)


@pytest.mark.emu
def test_bias_grad_sums_a_small_batch_in_one_launch():
    for rows, count in ((1, 1), (128, 1), (256, 1), (257, 2), (3000, 2)):
        g = randn(rows, 300)
        assert len(launches(lambda k, g=g: k.bias_grad(g))) == count


def test_softmax_non_contiguous_and_large_values(dev):
    whole = randn(9, 40, scale=50.0)
    x, d_x = whole[::2, 3:30], dev.put(whole)[::2, 3:30]
    dev.check(dev.kernels.softmax(d_x, False), REF.softmax(x))
    dev.check(dev.kernels.softmax(d_x, True), REF.softmax(x, log=True))


# ---- cross-entropy
# lane teams of 1, 4, 16 and 32 lanes (the 200 and 130 rows span many blocks, whose partial
# sums the mean adds up), a block per row beyond 1024 columns
@pytest.mark.parametrize("shape", [(5, 1), (70, 3), (200, 10), (130, 37), (7, 300), (3, 1500)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("mean", [False, True], ids=["rows", "mean"])
def test_cross_entropy(dev, mean, ignore_index, smoothing, dtype, shape):
    rows, cols = shape
    logits = randn(rows, cols, dtype=dtype, scale=3.0)
    targets = np.random.default_rng(2).integers(0, cols, rows)
    targets[1::3] = ignore_index  # some ignored rows
    loss, dlogits, scale = dev.kernels.cross_entropy(dev.put(logits), dev.put(targets),
                                                     smoothing, ignore_index, mean)
    ref_loss, ref_dlogits, ref_scale = REF.cross_entropy(logits, targets, smoothing,
                                                         ignore_index, mean)
    dev.check(loss, ref_loss)
    dev.check(dlogits, ref_dlogits)
    assert (scale is None) == (ref_scale is None) == (not mean)
    g = randn(*ref_loss.shape, dtype=dtype, seed=3)
    dev.check(dev.kernels.cross_entropy_backward(dlogits, dev.put(g), scale),
              REF.cross_entropy_backward(ref_dlogits, g, ref_scale))


def test_cross_entropy_mean_without_counted_rows_is_nan_with_zero_gradient(dev):
    """As PyTorch: every target ignored gives a NaN mean and a zero gradient."""
    logits, targets = randn(300, 10), np.full(300, -100)
    loss, dlogits, scale = dev.kernels.cross_entropy(dev.put(logits), dev.put(targets),
                                                     mean=True)
    assert np.isnan(dev.get(loss)) and dev.get(scale).tolist() == [0.0]
    grad = dev.get(dev.kernels.cross_entropy_backward(dlogits, dev.put(np.float64(1.0)), scale))
    np.testing.assert_array_equal(grad, np.zeros((300, 10)))
    with pytest.raises(ValueError, match=r"the gradient of the mean of 300 rows must have "
                                         r"shape \(\), got \(300,\)"):
        dev.kernels.cross_entropy_backward(dlogits, dev.put(np.ones(300)), scale)


def test_cross_entropy_mean_is_one_launch_and_deterministic(monkeypatch):
    """The mean comes from the same launch (the last block adds the blocks' partial sums in
    block order): identical whatever order the blocks run in."""
    from tinygrad_nv.testing.instrumented import instrumented

    logits, targets = randn(1000, 10, dtype=np.float32), np.arange(1000) % 10
    means = []
    for order in ("forward", "reverse", "shuffle:3"):
        monkeypatch.setenv(emu.ORDER_ENV, order)
        with instrumented("emu") as probe:
            backend = get_backend("emu")
            x, t = backend.from_host(logits), backend.from_host(targets)
            backend.kernels.cross_entropy(x, t, mean=True)  # allocates the block counter
            probe.reset()
            loss, _, _ = backend.kernels.cross_entropy(x, t, mean=True)
            assert probe.launches == 1 and probe.calls[-1] == "cross_entropy_warp_f32"
            means.append(backend.to_host(loss))
    assert means[0] == means[1] == means[2]
    np.testing.assert_allclose(means[0], REF.cross_entropy(logits, targets, mean=True)[0],
                               rtol=1e-6)


def test_cross_entropy_int32_targets_and_bad_target(dev):
    logits = randn(3, 5)
    targets = np.array([4, 0, 7], dtype=np.int32)  # 7 is out of range: NaN, never a silent value
    loss, dlogits, _ = dev.kernels.cross_entropy(dev.put(logits), dev.put(targets))
    loss, dlogits = dev.get(loss), dev.get(dlogits)
    ref_loss, ref_dlogits, _ = REF.cross_entropy(logits[:2], targets[:2].astype(np.int64))
    np.testing.assert_allclose(loss[:2], ref_loss, **TOL[np.float64])
    np.testing.assert_allclose(dlogits[:2], ref_dlogits, **TOL[np.float64])
    assert np.isnan(loss[2]) and np.isnan(dlogits[2]).all()
    mean, _, _ = dev.kernels.cross_entropy(dev.put(logits), dev.put(targets), mean=True)
    assert np.isnan(dev.get(mean))


@pytest.mark.parametrize("mean", [False, True])
def test_cross_entropy_without_classes_is_never_uninitialised(dev, mean):
    """0 columns: no target can be valid, so the loss is NaN except on ignored rows."""
    logits, targets = np.empty((3, 0), np.float32), np.array([0, -100, 2])
    loss, dlogits, _ = dev.kernels.cross_entropy(dev.put(logits), dev.put(targets), mean=mean)
    ref_loss, _, _ = REF.cross_entropy(logits, targets, mean=mean)
    for result in (dev.get(loss), ref_loss):
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result, np.nan if mean else [np.nan, 0.0, np.nan])
    assert dev.get(dlogits).shape == (3, 0)


# ---- optimizers, several steps in place
SGD_VARIANTS = [
    {"momentum": 0.0},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.9, "weight_decay": 0.01},
    {"momentum": 0.0, "weight_decay": 0.1},
]


@pytest.mark.parametrize("variant", SGD_VARIANTS, ids=lambda v: ",".join(map(str, v.items())))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 1000])
def test_sgd_step(dev, n, dtype, variant):
    args = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
            "weight_decay": 0.0, **variant}
    param, buf = randn(n, dtype=dtype), np.zeros(n, dtype)
    d_param, d_buf = dev.put(param), dev.put(buf)
    for step in range(3):
        grad = randn(n, dtype=dtype, seed=step + 1)
        coef = SgdCoef.of(**args, first=step == 0)
        REF.sgd_step(param, grad, buf, coef)
        dev.kernels.sgd_step(d_param, dev.put(grad), d_buf, coef)
    dev.check(d_param, param)
    dev.check(d_buf, buf)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_step(dev, decoupled, weight_decay, dtype):
    n = 1000
    param, m, v = randn(n, dtype=dtype), np.zeros(n, dtype), np.zeros(n, dtype)
    d_param, d_m, d_v = dev.put(param), dev.put(m), dev.put(v)
    args = {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8,
            "weight_decay": weight_decay, "decoupled": decoupled}
    for step in range(1, 5):
        grad = randn(n, dtype=dtype, seed=step)
        coef = AdamCoef.of(**args, step=step)
        REF.adam_step(param, grad, m, v, coef)
        dev.kernels.adam_step(d_param, dev.put(grad), d_m, d_v, coef)
    dev.check(d_param, param)
    dev.check(d_m, m)
    dev.check(d_v, v)


# Fused multi-tensor updates: every optimizer variant, float16 / float32 / float64 storage
MULTI_VARIANTS = [
    ("sgd", 1, {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                "weight_decay": 0.0}),
    ("sgd", 1, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "nesterov": False,
                "weight_decay": 0.01}),
    ("sgd", 1, {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": True,
                "weight_decay": 0.0}),
    ("adam", 2, {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.05,
                 "decoupled": False}),
    ("adam", 2, {"lr": 0.01, "beta1": 0.8, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.1,
                 "decoupled": True}),
    ("rmsprop", 3, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, "weight_decay": 0.0,
                    "momentum": 0.0, "centered": False}),
    ("rmsprop", 3, {"lr": 0.01, "alpha": 0.99, "eps": 1e-6, "weight_decay": 0.02,
                    "momentum": 0.5, "centered": True}),
]
SIZES = (1000, 0, 3, 257)  # an empty tensor and sizes that are not multiples of the block
# Three steps of an update against NumPy, which rounds every product (the kernels fuse some)
UPDATE_TOL = {np.float16: {"rtol": 2e-3, "atol": 1e-3}, np.float32: {"rtol": 1e-5, "atol": 1e-6},
              np.float64: {"rtol": 1e-12, "atol": 1e-14}}


def _optimizer_call(kernels, opt: str, multi: bool, params, grads, states, args, step):
    """One step of `opt` over the tensors, fused (`*_multi`) or one tensor at a time."""
    extra = {"sgd": {"first": step == 1}, "adam": {"step": step}, "rmsprop": {}}[opt]
    coef = {"sgd": SgdCoef, "adam": AdamCoef, "rmsprop": RmspropCoef}[opt].of(**args, **extra)
    if multi:
        getattr(kernels, f"{opt}_multi")(params, grads, *states, coef)
        return
    for k in range(len(params)):
        getattr(kernels, f"{opt}_step")(params[k], grads[k], *(s[k] for s in states), coef)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("opt, n_states, args", MULTI_VARIANTS,
                         ids=[f"{o}{i}" for i, (o, _, _) in enumerate(MULTI_VARIANTS)])
def test_fused_group_update_is_bit_identical(dev, opt, n_states, args, dtype):
    """One launch over a whole group equals the one-tensor kernels bit for bit, and the NumPy
    reference to rounding (float16 stored, float32 math)."""
    host = {"ref": [], "step": [], "multi": []}
    for way in host:
        params = [randn(n, dtype=dtype, seed=k) for k, n in enumerate(SIZES)]
        # non-negative states, the first larger (RMSprop: square_avg > grad_avg ** 2)
        states = [[(np.abs(randn(n, seed=10 * r + k)) * (0.1 if r else 1.0) + (r == 0))
                   .astype(dtype) for k, n in enumerate(SIZES)] for r in range(n_states)]
        host[way] = (params, states)
    device = {way: ([dev.put(a) for a in host[way][0]],
                    [[dev.put(a) for a in state] for state in host[way][1]])
              for way in ("step", "multi")}
    for step in (1, 2, 3):
        grads = [randn(n, dtype=dtype, seed=100 * step + k) for k, n in enumerate(SIZES)]
        _optimizer_call(REF, opt, True, *host["ref"][:1], grads, host["ref"][1], args, step)
        for way, multi in (("step", False), ("multi", True)):
            params, states = device[way]
            _optimizer_call(dev.kernels, opt, multi, params, [dev.put(g) for g in grads],
                            states, args, step)
    ref = [*host["ref"][0], *(a for state in host["ref"][1] for a in state)]
    got = {way: [dev.get(a) for a in (*params, *(a for state in states for a in state))]
           for way, (params, states) in device.items()}
    for actual, fused, expected in zip(got["step"], got["multi"], ref):
        assert actual.dtype == fused.dtype == expected.dtype
        np.testing.assert_array_equal(fused, actual)
        # a GPU (and emu) contracts multiply-adds into FMAs: close to NumPy, not equal
        np.testing.assert_allclose(actual, expected, **UPDATE_TOL[dtype])


@pytest.mark.emu
@given(sizes=st.lists(st.integers(0, 600), min_size=1, max_size=6), seed=st.integers(0, 99))
def test_fused_adam_over_any_group_layout(sizes, seed):
    """The multi-tensor launch finds every element's tensor (empty tensors included): it
    gives what the one-tensor kernel gives for each."""
    kernels = get_backend("emu").kernels
    rng = np.random.default_rng(seed)
    arrays = [[np.abs(rng.standard_normal(n)).astype(np.float32) for n in sizes]
              for _ in range(4)]  # param, grad, m, v (v >= 0)
    copies = [[a.copy() for a in row] for row in arrays]
    coef = AdamCoef.of(0.01, 0.9, 0.99, 1e-8, 0.01, 2, True)
    kernels.adam_multi(*arrays, coef)
    for p, g, m, v in zip(*copies):
        kernels.adam_step(p, g, m, v, coef)
    for row, expected_row in zip(arrays, copies):
        for actual, expected in zip(row, expected_row):
            np.testing.assert_array_equal(actual, expected)


def test_fused_update_launches_once_per_group():
    from tinygrad_nv.testing.instrumented import NO_LAUNCH, instrumented

    with instrumented("emu") as probe:
        kernels = get_backend("emu").kernels
        params = [kernels.xp.ones(n, dtype=np.float32) for n in (5, 7, 9)]
        params.append(kernels.xp.ones(4, dtype=np.float16))
        ms = [kernels.xp.zeros_like(p) for p in params]
        vs = [kernels.xp.zeros_like(p) for p in params]
        grads = [kernels.xp.ones_like(p) for p in params]
        calls = []
        for gs in (grads, grads, [g.copy() for g in grads]):
            probe.reset()
            kernels.adam_multi(params, gs, ms, vs, AdamCoef.of(0.1, 0.9, 0.99, 1e-8, 0.0, 1, False))
            calls.append([c for c in probe.calls if c not in NO_LAUNCH])
    # one launch per storage dtype; each address table is uploaded once, again only when an
    # address changed (here the gradients')
    assert calls[0] == calls[2] == ["asarray", "adam_multi_f32", "asarray", "adam_multi_f16"]
    assert calls[1] == ["adam_multi_f32", "adam_multi_f16"]
    assert probe.syncs == []


def test_optimizer_kernels_reject_integer_parameters(dev):
    with pytest.raises(TypeError, match="adam_multi: the CUDA optimizer kernels take float16"):
        x = dev.put(np.ones(3, np.int32))
        dev.kernels.adam_multi([x], [x], [x], [x],
                               AdamCoef.of(0.1, 0.9, 0.99, 1e-8, 0.0, 1, False))


def test_optimizer_non_contiguous_and_float16_state(dev):
    whole = randn(8, 6)
    param, grad = whole[:, ::2], randn(8, 3, seed=1)  # the kernel must write through the view
    d_whole = dev.put(whole.copy())
    d_param = d_whole[:, ::2]
    coef = SgdCoef.of(0.1, 0.0, 0.0, False, 0.0, True)
    REF.sgd_step(param, grad, None, coef)
    dev.kernels.sgd_step(d_param, dev.put(grad), None, coef)
    dev.check(d_whole, whole)
    h = randn(50, dtype=np.float16)
    m, v, d_h = np.zeros(50, np.float16), np.zeros(50, np.float16), dev.put(h)
    d_m, d_v = dev.put(m), dev.put(v)
    coef = AdamCoef.of(0.01, 0.9, 0.999, 1e-8, 0.0, 1, False)
    dev.kernels.adam_step(d_h, dev.put(h), d_m, d_v, coef)
    REF.adam_step(h, h.copy(), m, v, coef)
    np.testing.assert_allclose(dev.get(d_h), h, rtol=2e-3, atol=2e-3)
    assert dev.get(d_v).dtype == np.float16


# ---- convolution
CONV_CASES = [  # x shape, kernel, stride, padding, dilation
    ((2, 3, 7, 6), (3, 3), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 8, 9), (3, 2), (2, 3), (1, 2), (1, 1)),
    ((2, 1, 9, 9), (3, 3), (2, 2), (2, 1), (2, 3)),
    ((3, 2, 10, 4), (2, 2), (3, 1), (0, 1), (2, 1)),  # stride > kernel: pixels nobody reads
    ((1, 3, 5, 5), (5, 5), (1, 1), (2, 2), (1, 1)),
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1)),
]


@pytest.mark.parametrize("index32", [True, False], ids=["idx32", "idx64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_col2im(dev, dtype, case, index32, monkeypatch):
    monkeypatch.setattr(dev.kernels, "index32", index32)  # both kernel variants
    shape, *conv = case
    x = randn(*shape, dtype=dtype)
    cols = REF.im2col(x, *conv)
    dev.check(dev.kernels.im2col(dev.put(x), *conv), cols)
    c = randn(*cols.shape, dtype=dtype, seed=1)
    back = dev.kernels.col2im(dev.put(c), shape, *conv)
    dev.check(back, np.ascontiguousarray(REF.col2im(c, shape, *conv)))
    # col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, dev.get(back)), rtol=1e-4)


def test_im2col_non_contiguous(dev):
    whole = randn(5, 2, 6, 3)
    x, d_x = whole.transpose(3, 1, 0, 2), dev.put(whole).transpose(3, 1, 0, 2)  # (3, 2, 5, 6)
    conv = ((2, 3), (1, 2), (1, 0), (2, 1))
    dev.check(dev.kernels.im2col(d_x, *conv), REF.im2col(x, *conv))
    with pytest.raises(ValueError, match="does not fit"):
        dev.kernels.im2col(dev.put(x), (9, 9), (1, 1), (0, 0), (1, 1))
