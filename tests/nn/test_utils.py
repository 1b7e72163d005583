"""nn.utils.clip_grad_norm_ and clip_grad_value_ against their formulas, PyTorch's semantics."""

import math

import numpy as np
import pytest

from tinygrad_nv import Tensor
from tinygrad_nv.nn.utils import clip_grad_norm_, clip_grad_value_


def params_with_grads(*grads):
    out = []
    for g in grads:
        p = Tensor(np.zeros(np.shape(g)), requires_grad=True)
        p.grad = Tensor(np.array(g, dtype=np.float64))
        out.append(p)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(norm_type):
    grads = [[3.0, -4.0], [[1.0, 2.0], [0.5, -2.0]]]
    params = params_with_grads(*grads)
    flat = np.concatenate([np.ravel(g) for g in grads])
    total = np.abs(flat).max() if math.isinf(norm_type) else \
        (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    assert clip_grad_norm_(params, 1.0, norm_type).item() == pytest.approx(total)
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), np.array(g) / (total + 1e-6))


def test_no_clipping_below_max_norm_and_shared_arrays_untouched():
    params = params_with_grads([0.3, 0.4])
    original = params[0].grad
    assert clip_grad_norm_(params, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.3, 0.4])  # scaled by 1: unchanged
    clip_grad_norm_(params, 0.1)
    np.testing.assert_allclose(original.numpy(), [0.3, 0.4])  # a new gradient, not in place
    np.testing.assert_allclose(params[0].grad.numpy(), [0.06, 0.08], rtol=1e-5)


def test_parameters_without_grad_are_skipped():
    p = Tensor(np.zeros(2), requires_grad=True)
    assert clip_grad_norm_(p, 1.0).item() == 0.0
    with pytest.raises(ValueError, match="norm_type must be positive"):
        clip_grad_norm_(params_with_grads([1.0]), 1.0, norm_type=0)


def test_clip_grad_value(device):
    grads = [[3.0, -4.0, 0.25], [[1.0, -0.5], [0.5, -2.0]]]
    params = [Tensor(np.zeros(np.shape(g)), device=device, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = Tensor(np.array(g), device=device)
    original = params[0].grad
    frozen = Tensor(np.zeros(2), device=device, requires_grad=True)  # no grad: skipped
    assert clip_grad_value_([*params, frozen], 0.5) is None
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.5, 0.5))
        assert str(p.grad.device) == device
    np.testing.assert_array_equal(original.numpy(), grads[0])  # a new gradient, not in place
    assert frozen.grad is None
    clip_grad_value_(params[0], 0.1)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.1, -0.1, 0.1])
    with pytest.raises(ValueError, match="clip_value must be >= 0, got -1.0"):
        clip_grad_value_(params, -1)
