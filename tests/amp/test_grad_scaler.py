"""GradScaler: the scale sequence and the skipped steps of a run with planted infs and NaNs
equal PyTorch's (its CPU GradScaler where torch is installed, the rule written out
otherwise), the fused unscale (one launch per dtype, no host read but the skip decision),
errors, state_dict, and the unscale kernel in every storage dtype on emu against NumPy."""

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.amp import GradScaler
from tinygrad_nv.backend import get_backend
from tinygrad_nv.testing.instrumented import instrumented

PLANTED = {2: "inf", 7: "nan", 8: "inf", 15: "inf"}  # step -> what the loss is multiplied by
STEPS = 20


def _model(lib, device=None):
    """Two parameter groups of float32 weights, same values in both libraries."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(
        np.float32)
    if lib == "torch":
        import torch
        w1, w2 = torch.nn.Parameter(torch.tensor(a)), torch.nn.Parameter(torch.tensor(b))
        opt = torch.optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.05}], lr=0.1,
                              momentum=0.9)
    else:
        w1 = Tensor(a, device=device, requires_grad=True)
        w2 = Tensor(b, device=device, requires_grad=True)
        opt = tg.optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.05}], lr=0.1,
                           momentum=0.9)
    return w1, w2, opt


def _run(lib, device=None):
    """(scale after each update, state_dict after each, weights after each step)."""
    if lib == "torch":
        import torch
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    else:
        scaler = GradScaler(device, init_scale=2.0**10, growth_interval=3)
    w1, w2, opt = _model(lib, device)
    x = np.linspace(-1, 1, 3, dtype=np.float32)
    scales, states, weights = [], [], []
    for step in range(STEPS):
        opt.zero_grad()
        loss = ((w1 * w1).sum() * float(x[step % 3]) + (w2 * w2).sum())
        if step in PLANTED:
            loss = loss * float(PLANTED[step])
        scaler.scale(loss).backward()
        if step % 4 == 1:  # the clip-gradients pattern: unscale_ first, then step
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        states.append(scaler.state_dict())
        weights.append(np.concatenate([w1.detach().numpy().ravel(),
                                       w2.detach().numpy().ravel()]))
    return scales, states, np.array(weights)


def test_scale_sequence_and_skips_as_pytorch(device):
    torch = pytest.importorskip("torch")  # noqa: F841
    theirs, ours = _run("torch"), _run("ours", device)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)


def test_scale_sequence_by_the_rule(device):
    """Backoff by half at each planted step, doubling after 3 clean steps in a row."""
    scales, states, weights = _run("ours", device)
    expected, scale, clean = [], 2.0**10, 0
    for step in range(STEPS):
        if step in PLANTED:
            scale, clean = scale / 2, 0
        else:
            clean += 1
            if clean == 3:
                scale, clean = scale * 2, 0
        expected.append(scale)
    assert scales == expected
    skipped = [s for s in range(1, STEPS) if np.array_equal(weights[s], weights[s - 1])]
    assert skipped == sorted(PLANTED)
    assert states[-1]["_growth_tracker"] == clean


def test_unscale_divides_exactly_and_errors(device):
    w = Tensor(np.ones(4, np.float32), device=device, requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    scaler = GradScaler(device, init_scale=8.0)
    with pytest.raises(RuntimeError, match="_scale is None"):
        scaler.unscale_(opt)
    scaler.scale((w * 3.0).sum()).backward()
    assert np.array_equal(w.grad.numpy(), np.full(4, 24.0, np.float32))
    scaler.unscale_(opt)
    assert np.array_equal(w.grad.numpy(), np.full(4, 3.0, np.float32))
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called since the last update"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="Closure"):
        scaler.step(opt, closure=lambda: 0)
    scaler.update()
    half = Tensor(np.ones(2, np.float16), device=device, requires_grad=True)
    opt16 = tg.optim.SGD([half], lr=0.1)
    scaler.scale(half.sum()).backward()
    with pytest.raises(ValueError, match="FP16 gradients"):
        scaler.unscale_(opt16)


def test_state_dict_and_disabled(device):
    scaler = GradScaler(device, init_scale=4.0, growth_factor=3.0, growth_interval=5)
    w = Tensor(np.ones(2, np.float32), device=device, requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    scaler.scale(w.sum()).backward()
    scaler.step(opt)
    scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 4.0, "growth_factor": 3.0, "backoff_factor": 0.5,
                     "growth_interval": 5, "_growth_tracker": 1}
    other = GradScaler(device)
    other.load_state_dict(state)
    assert other.state_dict() == state
    off = GradScaler(device, enabled=False)
    loss = w.sum()
    assert off.scale(loss) is loss and off.state_dict() == {} and off.get_scale() == 1.0
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})


def test_cuda_spelling_without_a_gpu():
    if get_backend("cpu") and tg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not GradScaler("cuda").is_enabled()


def test_one_fused_pass_per_dtype_and_no_host_read():
    """unscale_ of 3 float32 and 2 bfloat16 gradients: one launch per dtype (plus the flag
    and the reciprocal), and only step's skip decision reads the device."""
    with instrumented("emu") as probe:
        params = [Tensor(np.ones(n, np.float32), device="emu", requires_grad=True)
                  for n in (3, 5, 7)]
        params += [Tensor(np.ones(n, np.float32), device="emu").bfloat16().requires_grad_()
                   for n in (2, 4)]
        opt = tg.optim.SGD(params, lr=0.1)
        scaler = GradScaler("emu", init_scale=4.0)
        scaler.scale(sum(p.float().sum() for p in params)).backward()
        probe.reset()
        scaler.unscale_(opt)
        kernels = [c for c in probe.calls if c.startswith("amp_unscale")]
        assert sorted(kernels) == ["amp_unscale_multi_bf16", "amp_unscale_multi_f32"]
        assert probe.syncs == []
        scaler.update()
        assert probe.syncs == []
    assert all(p.grad.float().numpy().max() == 1.0 for p in params)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_unscale_kernel_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    grads = [(rng.standard_normal(n) * 100).astype(dtype) for n in (1, 300, 1000)]
    grads[1][17] = np.inf if dtype != "float16" else np.nan
    inv = np.array([1 / 64], np.float32)
    results = []
    for name in ("cpu", "emu"):
        kernels = get_backend(name).kernels
        work, flag = [g.copy() for g in grads], np.zeros(1, np.float32)
        kernels.amp_unscale_multi(work, flag, inv)
        results.append((work, flag))
        clean, clean_flag = [grads[0].copy()], np.zeros(1, np.float32)
        kernels.amp_unscale_multi(clean, clean_flag, inv)
        assert clean_flag[0] == 0.0
    (ref, ref_flag), (emu, emu_flag) = results
    assert ref_flag[0] == emu_flag[0] == 1.0
    for a, b in zip(ref, emu, strict=True):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert ref[2].dtype == np.dtype(dtypes.bfloat16 if dtype == "bfloat16" else dtype)
