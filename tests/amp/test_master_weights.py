"""Optimizers and low-precision parameters: by default the state stays in the parameter's
dtype (as PyTorch's); with master_weights=True a float32 copy takes the updates, so steps
smaller than a bfloat16 rounding still add up, and the state saves and loads in float32."""

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, dtypes

BF16 = dtypes.bfloat16


def _param(device, values=(1.0, 2.0, -0.5)):
    return Tensor(np.array(values, np.float32), device=device).bfloat16().requires_grad_()


def _steps(opt, p, n, grad=1.0):
    for _ in range(n):
        p.grad = Tensor(np.full(p.shape, grad, np.float32), device=p.device).bfloat16()
        opt.step()


def test_default_state_in_the_parameter_dtype_as_pytorch(device):
    torch = pytest.importorskip("torch")
    p = _param(device)
    opt = tg.optim.Adam([p], lr=0.01)
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0, -0.5]).bfloat16())
    topt = torch.optim.Adam([tp], lr=0.01)
    for step in range(5):
        g = np.array([0.3, -1.0, 2.0], np.float32) * (step + 1)
        p.grad = Tensor(g, device=device).bfloat16()
        tp.grad = torch.tensor(g).bfloat16()
        opt.step()
        topt.step()
    assert p.dtype == BF16 and opt.state[p]["exp_avg"].dtype == BF16
    assert topt.state[tp]["exp_avg"].dtype == torch.bfloat16
    np.testing.assert_allclose(p.float().numpy(), tp.float().detach().numpy(), rtol=2**-7)


def test_small_steps_add_up_only_with_master_weights(device):
    """lr * grad = 1e-3 is below half a bfloat16 step at 1.0 (2**-8): without a master copy
    the parameter never moves; with one it follows the float32 sum, rounded."""
    plain, master = _param(device, (1.0,)), _param(device, (1.0,))
    opt_plain = tg.optim.SGD([plain], lr=1e-3)
    opt_master = tg.optim.SGD([{"params": [master], "master_weights": True}], lr=1e-3)
    _steps(opt_plain, plain, 20)
    _steps(opt_master, master, 20)
    assert plain.float().item() == 1.0
    expected = np.float32(1.0)
    for _ in range(20):
        expected = np.float32(expected - np.float32(1e-3))
    assert master.dtype == BF16
    assert master.numpy()[0] == np.array([expected]).astype(BF16)[0]
    assert opt_master.state[master]["master_param"].dtype == dtypes.float32
    assert opt_master.state[master]["master_param"].numpy()[0] == expected


def test_master_state_is_float32_and_saves(device, tmp_path):
    p = _param(device)
    opt = tg.optim.AdamW([{"params": [p], "master_weights": True}], lr=0.01)
    _steps(opt, p, 3, grad=0.5)
    state = opt.state[p]
    assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == dtypes.float32
    assert p.grad.dtype == BF16  # the gradient is the parameter's own again after the step
    tg.save(opt.state_dict(), tmp_path / "opt.safetensors")
    q = _param(device)
    restored = tg.optim.AdamW([{"params": [q], "master_weights": True}], lr=0.01)
    restored.load_state_dict(tg.load(tmp_path / "opt.safetensors", device=device))
    for key in ("master_param", "exp_avg", "exp_avg_sq"):
        assert restored.state[q][key].dtype == dtypes.float32
        np.testing.assert_array_equal(restored.state[q][key].numpy(), state[key].numpy())


def test_float32_parameters_are_untouched_by_the_option(device):
    a = Tensor(np.ones(3, np.float32), device=device, requires_grad=True)
    b = Tensor(np.ones(3, np.float32), device=device, requires_grad=True)
    opt_a = tg.optim.SGD([a], lr=0.1, momentum=0.9)
    opt_b = tg.optim.SGD([{"params": [b], "master_weights": True}], lr=0.1, momentum=0.9)
    for opt, t in ((opt_a, a), (opt_b, b)):
        for _ in range(3):
            t.grad = Tensor(np.full(3, 0.5, np.float32), device=device)
            opt.step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert "master_param" not in opt_b.state[b]
