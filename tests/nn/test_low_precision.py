"""float16 norms (layer, group, batch and BatchNorm's running statistics) and losses compute in
float32 and return float16, as PyTorch: against NumPy in float64 on the same float16 values
and against PyTorch's float16 results."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor, dtypes

F16 = np.float16
RTOL = 2**-10  # one float16 rounding of the float64 reference, with room for float32's error


def _values(seed: int, shape: tuple, center: float, spread: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(center + spread * rng.standard_normal(shape), -65504, 65504).astype(F16)


def _check(got: Tensor, expected, atol: float = 2**-24) -> None:
    """got is float16 and is the float64 reference rounded to float16, to a rounding."""
    assert got.dtype == dtypes.float16, got.dtype
    want = np.asarray(expected, dtype=np.float64).astype(F16).astype(np.float64)
    np.testing.assert_allclose(got.numpy().astype(np.float64), want, rtol=RTOL, atol=atol)


def _normalized(a: np.ndarray, axes: tuple, eps: float = 1e-5) -> np.ndarray:
    wide = a.astype(np.float64)
    mean = wide.mean(axes, keepdims=True)
    return (wide - mean) / np.sqrt(((wide - mean) ** 2).mean(axes, keepdims=True) + eps)


def _torch(fn, *arrays):
    torch = pytest.importorskip("torch")
    return fn(torch, *[torch.tensor(a) for a in arrays]).to(torch.float64).numpy()


def test_layer_norm_over_70k_features_is_finite(device):
    """The reported failure: NaN (the float16 sum of 70000 values near 100 overflows)."""
    a = _values(0, (2, 70000), 100.0, 3.0)
    out = F.layer_norm(Tensor(a, device=device), (70000,))
    # float16 outputs near +-3 are 2**-9 apart; the reference is rounded once
    _check(out, _normalized(a, (1,)), atol=2**-9)


def test_layer_norm_as_pytorch():
    a, w, b = _values(1, (3, 70000), 100.0, 3.0), _values(2, (70000,), 1.0, 0.1), \
        _values(3, (70000,), 0.0, 0.1)
    got = F.layer_norm(Tensor(a), (70000,), Tensor(w), Tensor(b))
    want = _torch(lambda torch, x, w, b: torch.nn.functional.layer_norm(x, (70000,), w, b),
                  a, w, b)
    np.testing.assert_allclose(got.numpy().astype(np.float64), want, rtol=RTOL, atol=2**-9)


@given(seed=hst.integers(0, 2**16), center=hst.floats(-6e4, 6e4),
       spread=hst.sampled_from([1.0, 30.0, 1000.0]), groups=hst.sampled_from([1, 2, 4]))
def test_norms_against_float64(seed, center, spread, groups, device):
    a = _values(seed, (3, 4, 50), center, spread)
    x = Tensor(a, device=device)
    if np.ptp(a.astype(np.float64), axis=-1).min() == 0:  # a constant row: 0 / sqrt(eps)
        return
    # outputs are O(1..10): float16 rounds them to 2**-7 at worst
    _check(F.layer_norm(x, (50,)), _normalized(a, (2,)), atol=2**-8)
    _check(F.group_norm(x, groups), _normalized(a.reshape(3, groups, -1), (2,)).reshape(a.shape),
           atol=2**-8)
    _check(F.batch_norm(x, None, None, training=True), _normalized(a, (0, 2)), atol=2**-8)


def test_batch_norm_running_statistics_stay_finite(device):
    """The reported failure: BatchNorm's running statistics of float16 inputs became inf/NaN."""
    bn = nn.BatchNorm1d(3).to(device=device, dtype="float16")
    a = _values(4, (400, 3), 250.0, 2.0)
    out = bn(Tensor(a, device=device))
    wide = a.astype(np.float64)
    _check(out, _normalized(a, (0,)), atol=2**-9)
    _check(bn.running_mean, 0.1 * wide.mean(0))
    _check(bn.running_var, 0.9 + 0.1 * wide.var(0, ddof=1))
    assert bn.running_mean.dtype == bn.running_var.dtype == dtypes.float16
    bn.eval()
    _check(bn(Tensor(a, device=device)),
           (wide - 0.1 * wide.mean(0)) / np.sqrt(0.9 + 0.1 * wide.var(0, ddof=1) + 1e-5),
           atol=2**-2)  # outputs near 240: float16 steps of 2**-3


def test_group_and_batch_norm_as_pytorch():
    # their sums of squares overflow float16; the mean is small (PyTorch rounds it to float16)
    a = _values(5, (30, 10, 2000), 0.5, 5.0)

    def ours(x):
        return F.group_norm(x, 2) + F.batch_norm(x, None, None, training=True)

    def theirs(torch, x):
        return torch.nn.functional.group_norm(x, 2) + torch.nn.functional.batch_norm(
            x, None, None, training=True)

    np.testing.assert_allclose(ours(Tensor(a)).numpy().astype(np.float64), _torch(theirs, a),
                               rtol=2 * RTOL, atol=2**-8)


def test_norm_gradients_are_float16_and_finite(device):
    a = _values(6, (4, 3, 5000), 250.0, 2.0)
    for fn in (lambda x: F.layer_norm(x, (5000,)), lambda x: F.group_norm(x, 3),
               lambda x: F.batch_norm(x, None, None, training=True)):
        x = Tensor(a, device=device, requires_grad=True)
        (fn(x) * Tensor(np.linspace(-1, 1, 5000).astype(F16), device=device)).sum().backward()
        assert x.grad.dtype == dtypes.float16
        assert np.isfinite(x.grad.numpy()).all()


# ---------------------------------------------------------------------- losses
def _log_softmax(a):
    wide = a.astype(np.float64)
    shifted = wide - wide.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


LOSS_CASES = {  # (the loss of a functional module, a NumPy float64 reference or None)
    "cross_entropy": (lambda f, x, y, p, t: f.cross_entropy(x, t),
                      lambda x, y, p, t: -_log_softmax(x)[np.arange(len(t)), t].mean()),
    "cross_entropy_probs": (lambda f, x, y, p, t: f.cross_entropy(x, p),
                            lambda x, y, p, t: -(p * _log_softmax(x)).sum(1).mean()),
    "nll_loss": (lambda f, x, y, p, t: f.nll_loss(x, t),
                 lambda x, y, p, t: -x[np.arange(len(t)), t].astype(np.float64).mean()),
    "binary_cross_entropy": (lambda f, x, y, p, t: f.binary_cross_entropy(p, y), None),
    "binary_cross_entropy_with_logits": (
        lambda f, x, y, p, t: f.binary_cross_entropy_with_logits(x, y), None),
    "mse_loss": (lambda f, x, y, p, t: f.mse_loss(x, y),
                 lambda x, y, p, t: ((x.astype(np.float64) - y) ** 2).mean()),
    "l1_loss": (lambda f, x, y, p, t: f.l1_loss(x, y),
                lambda x, y, p, t: np.abs(x.astype(np.float64) - y).mean()),
    "smooth_l1_loss": (lambda f, x, y, p, t: f.smooth_l1_loss(x, y), None),
    "huber_loss": (lambda f, x, y, p, t: f.huber_loss(x, y), None),
    "kl_div": (lambda f, x, y, p, t: f.kl_div(x, p, reduction="batchmean"), None),
}


def _loss_inputs(seed: int, scale: float):
    """logits x of size `scale` (sums of their squares overflow float16), targets y near 0,
    probabilities p (rows sum to 1) and class targets t."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((600, 5))).astype(F16)
    y = (0.1 * rng.standard_normal((600, 5))).astype(F16)
    p = rng.random((600, 5))
    p = (p / p.sum(1, keepdims=True)).astype(F16)
    return x, y, p, rng.integers(0, 5, 600)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_losses_as_pytorch(name):
    torch = pytest.importorskip("torch")
    ours, _ = LOSS_CASES[name]
    x, y, p, t = _loss_inputs(7, 40.0)
    if name in ("binary_cross_entropy",):
        p = np.clip(p, 0.01, 0.99).astype(F16)
        y = np.clip(np.abs(y), 0, 1).astype(F16)
    got = ours(F, *(Tensor(a) for a in (x, y, p)), Tensor(t))
    want = ours(torch.nn.functional, *(torch.tensor(a) for a in (x, y, p)), torch.tensor(t))
    assert got.dtype == dtypes.float16
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.double().numpy(),
                               rtol=2 * RTOL)


@pytest.mark.parametrize("name", [n for n, case in LOSS_CASES.items() if case[1] is not None])
@given(seed=hst.integers(0, 2**16), scale=hst.sampled_from([0.1, 10.0, 100.0, 250.0]))
def test_losses_against_float64(name, seed, scale, device):
    ours, reference = LOSS_CASES[name]
    x, y, p, t = _loss_inputs(seed, scale)
    got = ours(F, *(Tensor(a, device=device) for a in (x, y, p)), Tensor(t, device=device))
    _check(got, reference(x, y, p, t), atol=1e-3)


def test_loss_gradients_are_float16_and_finite(device):
    x, y, p, t = _loss_inputs(8, 100.0)
    for name, (ours, _) in LOSS_CASES.items():
        if name == "binary_cross_entropy":
            continue  # needs probabilities: p is one, and gets no gradient here
        xt = Tensor(x, device=device, requires_grad=True)
        ours(F, xt, Tensor(y, device=device), Tensor(p, device=device),
             Tensor(t, device=device)).backward()
        assert xt.grad.dtype == dtypes.float16, name
        assert np.isfinite(xt.grad.numpy()).all(), name
