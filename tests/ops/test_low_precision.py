"""float16 reductions, scans and softmax accumulate in float32 and return float16, as PyTorch:
each is checked against NumPy in float64 on the same float16 values (rounded to float16 once,
at the end) and against PyTorch's float16 result, for drawn shapes and magnitudes up to
float16's range."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.dtype import accumulation_dtype
from tinygrad_nv.testing import strategies as st

F16 = np.float16
# float16 results within one rounding of the float64 reference (2**-11 relative), plus the
# float32 accumulation's own error, far below that
RTOL = 2**-10


def _values(seed: int, shape: tuple, center: float, spread: float) -> np.ndarray:
    """float16 values around `center` with a relative spread, clipped to float16's range."""
    rng = np.random.default_rng(seed)
    a = center + spread * max(abs(center), 1.0) * rng.standard_normal(shape)
    return np.clip(a, -65504, 65504).astype(F16)


magnitudes = hst.builds(_values, hst.integers(0, 2**16), st.shapes(min_dims=1, max_dims=3,
                                                                   max_side=24),
                        hst.floats(-6e4, 6e4), hst.sampled_from([0.0, 1e-3, 0.05, 1.0]))


def _check(got: Tensor, expected, atol: float = 0.0) -> None:
    """got is float16 and equals the float64 reference rounded to float16 (infinities where
    that overflows), to a rounding (2**-24 apart among the subnormals)."""
    assert got.dtype == dtypes.float16, got.dtype
    want = np.asarray(expected, dtype=np.float64).astype(F16).astype(np.float64)
    np.testing.assert_allclose(got.numpy().astype(np.float64), want, rtol=RTOL,
                               atol=max(atol, 2**-24))


def _torch_half(fn, a: np.ndarray):
    torch = pytest.importorskip("torch")
    return fn(torch.tensor(a)).to(torch.float64).numpy()


def test_accumulation_dtype():
    assert accumulation_dtype(dtypes.float16) == dtypes.float32
    for dt in (dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int64, dtypes.bool):
        assert accumulation_dtype(dt) == dt


def test_the_reported_failures_are_finite(device):
    """300 values near 250: mean/var/std were inf (the sum 75000 overflows float16)."""
    a = (250 + np.random.default_rng(0).standard_normal(300)).astype(F16)
    x, wide = Tensor(a, device=device), a.astype(np.float64)
    _check(x.mean(), wide.mean())
    _check(x.var(), wide.var(ddof=1))
    _check(x.std(), wide.std(ddof=1))
    _check(x.norm(), np.sqrt((wide * wide).sum()))
    s, m = x.std_mean()
    _check(s, wide.std(ddof=1))
    _check(m, wide.mean())
    assert float(x.sum().item()) == np.inf  # 75000 does not fit: the sum itself overflows


def test_sum_over_strided_axis_accumulates_in_float32(device):
    """10000 x 0.1 summed down a column: float16 accumulation stops at 256."""
    a = np.full((10000, 3), 0.1, F16)
    _check(Tensor(a, device=device).sum(0), a.astype(np.float64).sum(0))
    _check(Tensor(a, device=device).cumsum(0)[-1], a.astype(np.float64).sum(0))


REDUCTIONS = {
    "sum": (lambda t, ax: t.sum(ax), lambda a, ax: a.sum(ax)),
    "mean": (lambda t, ax: t.mean(ax), lambda a, ax: a.mean(ax)),
    "var": (lambda t, ax: t.var(ax), lambda a, ax: a.var(ax, ddof=1)),
    "std": (lambda t, ax: t.std(ax), lambda a, ax: a.std(ax, ddof=1)),
    "var_mean": (lambda t, ax: t.var_mean(ax)[1], lambda a, ax: a.mean(ax)),
    "std_mean": (lambda t, ax: t.std_mean(ax)[0], lambda a, ax: a.std(ax, ddof=1)),
    "norm": (lambda t, ax: t.norm(dim=ax), lambda a, ax: np.sqrt((a * a).sum(ax))),
    "norm3": (lambda t, ax: t.norm(3, dim=ax), lambda a, ax: (np.abs(a)**3).sum(ax)**(1 / 3)),
    "logsumexp": (lambda t, ax: t.logsumexp(ax),
                  lambda a, ax: np.log(np.exp(a - a.max(ax, keepdims=True)).sum(ax))
                  + a.max(ax)),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(a=magnitudes, last=hst.booleans())
def test_reductions_against_float64(name, a, last, device):
    fn, ref = REDUCTIONS[name]
    axis = -1 if last else 0
    if name in ("var", "std", "var_mean", "std_mean") and a.shape[axis] < 2:
        a = np.concatenate([a, a[..., :1] if last else a[:1]], axis)
    wide = a.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = ref(wide, axis)
    # float32 sums of n terms: an error of about n * 2**-24 of the largest term
    atol = a.shape[axis] * 2**-23 * float(np.abs(wide).max())
    _check(fn(Tensor(a, device=device), axis), expected,
           atol=0 if name.startswith(("var", "std")) else atol)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "norm", "logsumexp"])
def test_reductions_as_pytorch(name):
    torch_fns = {"sum": lambda t: t.sum(0), "mean": lambda t: t.mean(0),
                 "var": lambda t: t.var(0), "std": lambda t: t.std(0),
                 "norm": lambda t: t.norm(dim=0), "logsumexp": lambda t: t.logsumexp(0)}
    a = _values(1, (300, 4), 250.0, 0.01)
    expected = _torch_half(torch_fns[name], a)
    got = REDUCTIONS[name][0](Tensor(a), 0)
    np.testing.assert_allclose(got.numpy().astype(np.float64), expected, rtol=RTOL)


def test_prod_accumulates_in_float32(device):
    a = np.array([300, 300, 1e-3, 1e-3], F16)  # 300 * 300 overflows float16
    _check(Tensor(a, device=device).prod(), a.astype(np.float64).prod())
    b = np.full(1000, 1.001, F16)  # rounding in float16 at every product drifts
    _check(Tensor(b, device=device).prod(), b.astype(np.float64).prod())
    _check(Tensor(b, device=device).cumprod(0), np.cumprod(b.astype(np.float64)))


@given(a=magnitudes)
def test_scans_against_float64(a, device):
    wide = a.astype(np.float64)
    x = Tensor(a, device=device)
    with np.errstate(over="ignore"):
        _check(x.cumsum(0), np.cumsum(wide, 0),
               atol=a.shape[0] * 2**-23 * float(np.abs(wide).max()))
        _check(x.logcumsumexp(0), np.logaddexp.accumulate(wide, 0), atol=1e-3)


@given(a=magnitudes, log=hst.booleans())
def test_softmax_against_float64(a, log, device):
    wide = a.astype(np.float64)
    shifted = wide - wide.max(-1, keepdims=True)
    total = np.exp(shifted).sum(-1, keepdims=True)
    x = Tensor(a, device=device)
    if log:
        _check(x.log_softmax(-1), shifted - np.log(total), atol=2**-14)
    else:
        _check(x.softmax(-1), np.exp(shifted) / total)


def test_softmax_over_many_columns_as_pytorch():
    a = _values(2, (3, 70000), 100.0, 0.03)
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1)):
        np.testing.assert_allclose(fn(Tensor(a)).numpy().astype(np.float64),
                                   _torch_half(fn, a), rtol=RTOL, atol=2**-24)


def test_float16_gradients_are_float16_and_finite(device):
    a = (250 + np.random.default_rng(3).standard_normal((300, 2))).astype(F16)
    for fn in (lambda t: t.mean(), lambda t: t.var(0).sum(), lambda t: t.std(0).sum(),
               lambda t: t.norm(), lambda t: t.logsumexp(0).sum(),
               lambda t: (t.softmax(0) * t).sum(), lambda t: t.cumsum(0)[100].mean()):
        x = Tensor(a, device=device, requires_grad=True)
        fn(x).backward()
        assert x.grad.dtype == dtypes.float16
        assert np.isfinite(x.grad.numpy()).all()


def test_float32_and_float64_are_not_cast(device):
    """Only narrow floats are widened: no Cast node appears for float32 or float64."""
    for dt in (dtypes.float32, dtypes.float64):
        x = Tensor(np.ones((3, 4), dt), device=device, requires_grad=True)
        for out in (x.mean(), x.var(), x.std(), x.norm(), x.logsumexp(0), x.softmax(-1),
                    x.prod(), x.cumsum(0)):
            assert out.dtype == dt
            assert "Cast" not in _op_names(out)


def _op_names(t: Tensor) -> set:
    names, stack = set(), [t]
    while stack:
        node = stack.pop()._ctx
        if node is not None and node.name not in names:
            names.add(node.name)
            stack.extend(node.parents)
    return names


@pytest.mark.parametrize("rows", [3000, 10000])
def test_float16_broadcast_and_bias_gradients_add_up_in_float32(device, rows):
    """The gradient of a broadcast bias (x + b, and linear's fused bias) is a column sum of
    `rows` ones: float16 accumulation would stop at 2048."""
    import tinygrad_nv.nn.functional as F
    b = Tensor(np.zeros(3, F16), device=device, requires_grad=True)
    (Tensor(np.ones((rows, 3), F16), device=device) + b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.float16(rows))
    w = Tensor(np.ones((3, 3), F16), device=device, requires_grad=True)
    bias = Tensor(np.zeros(3, F16), device=device, requires_grad=True)
    F.linear(Tensor(np.ones((rows, 3), F16), device=device), w, bias).sum().backward()
    assert bias.grad.dtype == dtypes.float16
    np.testing.assert_array_equal(bias.grad.numpy(), np.float16(rows))
