"""nn.init: PyTorch's gains, fans and bounds; sample statistics; in place; reproducible."""

import math

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes
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
