"""nn.init: PyTorch's gains, fans and bounds; sample statistics; in place; reproducible."""

import math

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init


def test_calculate_gain():
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75


def test_fans_count_the_receptive_field():
    assert init.calculate_fan_in_and_fan_out(Tensor.empty(8, 4, 3, 2)) == (24, 48)
    assert init.calculate_fan_in_and_fan_out(Tensor.empty(5, 7)) == (7, 5)


@pytest.mark.parametrize("fn,kwargs,kind,scale", [
    (init.kaiming_uniform_, {}, "uniform", math.sqrt(2) * math.sqrt(3 / 400)),  # a=0
    (init.kaiming_uniform_, {"nonlinearity": "relu", "mode": "fan_out"}, "uniform",
     math.sqrt(2) * math.sqrt(3 / 300)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, "normal", math.sqrt(2) / math.sqrt(400)),
    (init.xavier_uniform_, {"gain": 2.0}, "uniform", 2.0 * math.sqrt(6 / 700)),
    (init.xavier_normal_, {}, "normal", math.sqrt(2 / 700)),
    (init.uniform_, {"a": -0.5, "b": 0.5}, "uniform", 0.5),
    (init.normal_, {"std": 0.3}, "normal", 0.3),
])
def test_distributions(fn, kwargs, kind, scale):
    t = Tensor.empty(300, 400, dtype=dtypes.float64)
    data = t._data
    assert fn(t, **kwargs) is t and t._data is data  # in place
    values = t.numpy()
    if kind == "uniform":  # U(-b, b): max |v| close to b, std b / sqrt(3)
        assert np.abs(values).max() <= scale and np.abs(values).max() > 0.99 * scale
        assert values.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert values.std() == pytest.approx(scale, rel=0.02)
    assert abs(values.mean()) < 0.02 * scale


def test_constants():
    t = Tensor.empty(2, 3)
    assert np.all(init.ones_(t).numpy() == 1) and np.all(init.zeros_(t).numpy() == 0)
    assert np.all(init.constant_(t, 2.5).numpy() == 2.5)


def test_reproducible_with_manual_seed():
    Tensor.manual_seed(7)
    a = init.kaiming_normal_(Tensor.empty(4, 5)).numpy()
    Tensor.manual_seed(7)
    np.testing.assert_array_equal(a, init.kaiming_normal_(Tensor.empty(4, 5)).numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(3,\)"):
        init.xavier_uniform_(Tensor.empty(3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(Tensor.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape,gain", [((6, 4, 3), 2.0), ((3, 8), 1.0), ((5, 5), 0.5)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    t = Tensor.empty(*shape, dtype=dtypes.float64)
    assert init.orthogonal_(t, gain) is t
    m = t.numpy().reshape(shape[0], -1)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, gain**2 * np.eye(min(m.shape)), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(Tensor.empty(3))


def test_trunc_normal_stays_inside_with_the_truncated_moments():
    mean, std, a, b = 0.5, 1.0, -1.0, 1.0
    values = init.trunc_normal_(Tensor.empty(200_000, dtype=dtypes.float64), mean, std, a,
                                b).numpy()
    assert values.min() >= a and values.max() <= b
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    lo, hi = (a - mean) / std, (b - mean) / std
    expected = mean + std * (pdf(lo) - pdf(hi)) / (cdf(hi) - cdf(lo))  # 0.1426...
    assert values.mean() == pytest.approx(expected, abs=5e-3)


def test_eye_and_dirac_pass_the_input_through():
    assert (init.eye_(Tensor.empty(3, 5)).numpy() == np.eye(3, 5)).all()
    w = init.dirac_(Tensor.empty(4, 2, 3, 3, dtype=dtypes.float64), groups=2)
    x = Tensor.randn(1, 4, 5, 5, dtype=dtypes.float64)
    np.testing.assert_array_equal(F.conv2d(x, w, padding=1, groups=2).numpy(), x.numpy())
    with pytest.raises(ValueError, match="3, 4 or 5-dimensional"):
        init.dirac_(Tensor.empty(3, 3))


def test_dirac_and_orthogonal_match_torch():
    torch = pytest.importorskip("torch")
    ours = init.dirac_(Tensor.empty(6, 4, 3), groups=2).numpy()
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(6, 4, 3), 2).numpy())
    w = torch.nn.init.orthogonal_(torch.empty(4, 6), gain=3.0).numpy()
    m = init.orthogonal_(Tensor.empty(4, 6), gain=3.0).numpy()
    np.testing.assert_allclose(m @ m.T, w @ w.T, atol=1e-4)  # both 9 I
