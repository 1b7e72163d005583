"""Construction II: linspace, logspace, meshgrid, normal, randperm, multinomial, *_like,
arange's range checks; values against NumPy or closed forms, sampling against its law."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import gradcheck


@given(start=hst.floats(-50, 50), end=hst.floats(-50, 50), steps=hst.integers(0, 20))
def test_linspace_matches_numpy(start, end, steps, device):
    got = Tensor.linspace(start, end, steps, device=device)
    assert got.dtype == dtypes.float32 and got.shape == (steps,)
    np.testing.assert_allclose(got.numpy(), np.linspace(start, end, steps), rtol=1e-6,
                               atol=1e-5)


def test_linspace_integer_dtype_truncates_as_torch(device):
    assert Tensor.linspace(0, 10, 5, dtype=dtypes.int64, device=device).tolist() == \
        [0, 2, 5, 7, 10]  # 0, 2.5, 5, 7.5, 10 truncated toward zero
    assert Tensor.linspace(-1, 10, 7, dtype="int32", device=device).tolist() == \
        [int(v) for v in np.linspace(-1, 10, 7)]


@pytest.mark.parametrize("base", [10.0, 2.0, 0.5])
def test_logspace_is_base_to_the_linspace(base, device):
    got = Tensor.logspace(-2, 3, 6, base=base, dtype=dtypes.float64, device=device)
    np.testing.assert_allclose(got.numpy(), base ** np.linspace(-2, 3, 6), rtol=1e-12)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_numpy_and_differentiates(indexing, device):
    a = Tensor(np.array([1.0, 2.0, 3.0]), device=device, requires_grad=True)
    b = Tensor(np.array([4.0, 5.0]), device=device, requires_grad=True)
    c = Tensor(np.array([6.0, 7.0, 8.0, 9.0]), device=device)
    got = Tensor.meshgrid(a, b, c, indexing=indexing)
    want = np.meshgrid(a.numpy(), b.numpy(), c.numpy(), indexing=indexing)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)
    gradcheck(lambda x, y: sum((g * g).sum() for g in Tensor.meshgrid(x, y, indexing=indexing)),
              [a, b])


def test_normal_forms_and_moments(device):
    x = Tensor.normal(200, 100, mean=3.0, std=0.5, device=device)
    assert x.shape == (200, 100) and x.dtype == dtypes.float32
    assert abs(x.numpy().mean() - 3.0) < 0.02 and abs(x.numpy().std() - 0.5) < 0.02
    assert Tensor.normal(0.0, 2.0, size=(3, 4), device=device).shape == (3, 4)
    mean = Tensor(np.array([-100.0, 0.0, 100.0]), device=device)
    y = Tensor.normal(mean, 1e-3)
    np.testing.assert_allclose(y.numpy(), mean.numpy(), atol=0.01)
    with pytest.raises(ValueError, match="normal"):
        Tensor.normal(3, mean=0.0, std=-1.0, device=device)


def test_randperm_is_a_seeded_permutation(device):
    tinygrad_nv.manual_seed(7)
    p = Tensor.randperm(50, device=device)
    assert p.dtype == dtypes.int64 and sorted(p.tolist()) == list(range(50))
    tinygrad_nv.manual_seed(7)
    assert Tensor.randperm(50, device=device).tolist() == p.tolist()
    assert Tensor.randperm(0, device=device).shape == (0,)
    with pytest.raises(ValueError, match="randperm"):
        Tensor.randperm(-1)


def test_multinomial_with_replacement_follows_the_weights(device):
    weights = Tensor(np.array([[1.0, 2.0, 7.0], [0.0, 1.0, 0.0]]), device=device)
    draws = weights.multinomial(20000, replacement=True).numpy()
    assert draws.shape == (2, 20000) and draws.dtype == np.int64
    freq = np.bincount(draws[0], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)
    assert (draws[1] == 1).all()  # zero-weight categories are never drawn


def test_multinomial_without_replacement(device):
    weights = Tensor(np.array([1.0, 2.0, 7.0, 0.0]), device=device)
    first = np.bincount(Tensor(np.tile(weights.numpy(), (20000, 1)), device=device)
                        .multinomial(1).numpy()[:, 0], minlength=4) / 20000
    np.testing.assert_allclose(first, [0.1, 0.2, 0.7, 0.0], atol=0.015)
    picks = weights.multinomial(3).tolist()
    assert sorted(picks) == [0, 1, 2]  # distinct, the zero-weight category last of all


@pytest.mark.parametrize("weights, n, replacement", [
    ([-1.0, 1.0], 1, False), ([0.0, 0.0], 1, True), ([1.0, float("nan")], 1, True),
    ([1.0, 1.0], 3, False), ([1.0, 1.0], 0, True)])
def test_multinomial_bad_input(weights, n, replacement, device):
    with pytest.raises(ValueError, match="multinomial"):
        Tensor(weights, device=device).multinomial(n, replacement=replacement)


def test_like_factories_keep_shape_dtype_device(device):
    x = Tensor.zeros(3, 2, dtype=dtypes.float64, device=device)
    for made in (x.rand_like(), x.randn_like(), x.empty_like()):
        assert made.shape == x.shape and made.dtype == x.dtype and made.device == x.device
    r = x.rand_like().numpy()
    assert ((r >= 0) & (r < 1)).all()
    k = Tensor.zeros(100, dtype=dtypes.int32, device=device).randint_like(3, 6)
    assert k.dtype == dtypes.int32 and set(k.tolist()) <= {3, 4, 5}


def test_arange_checks_like_torch():
    assert Tensor.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    np.testing.assert_allclose(Tensor.arange(0, 1, 0.3).numpy(), [0, 0.3, 0.6, 0.9], rtol=1e-6)
    with pytest.raises(ValueError, match="step sign"):
        Tensor.arange(5, 0)
    with pytest.raises(ValueError, match="finite"):
        Tensor.arange(0, float("inf"))
    with pytest.raises(ValueError, match="int32"):  # would overflow the dtype
        Tensor.arange(0, 2**40, dtype=dtypes.int32)
    with pytest.raises(ValueError, match="GiB"):  # would not fit any memory
        Tensor.arange(2**62)
    assert Tensor.arange(-128, 128, dtype=dtypes.int8).tolist() == list(range(-128, 128))
