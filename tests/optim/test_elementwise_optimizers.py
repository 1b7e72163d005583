"""NAdam, RAdam, Adamax, Adadelta and ASGD: parameters after 10 steps against NumPy
transcriptions of PyTorch's documented pseudo-code (always) and against torch.optim (where
installed), with several hyper-parameter sets, two parameter groups with different options,
maximize and weight decay; state_dict round trips through files; bad hyper-parameters."""

import numpy as np
import pytest

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, load, save

STEPS = 10


def nadam_ref(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    (b1, b2), m, v, mu_product = betas, np.zeros_like(p), np.zeros_like(p), 1.0
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p - lr * weight_decay * p
        elif weight_decay:
            g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = mu_next * m / (1 - mu_product * mu_next) + (1 - mu) * g / (1 - mu_product)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def radam_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              decoupled_weight_decay=False, maximize=False):
    (b1, b2), m, v = betas, np.zeros_like(p), np.zeros_like(p)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p - lr * weight_decay * p
        elif weight_decay:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            adaptive = np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                           / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * rect * adaptive
        else:
            p = p - lr * m_hat
    return p


def adamax_ref(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               maximize=False):
    (b1, b2), m, u = betas, np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr * m / ((1 - b1**t) * u)
    return p


def adadelta_ref(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    v, u = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    return p


def asgd_ref(p, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
             maximize=False, average=False):
    """The parameter (or, with average=True, its running average ax) after the steps."""
    eta, mu, ax = lr, 1.0, np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)
        eta, mu = lr / (1 + lambd * lr * t) ** alpha, 1 / max(1, t - t0)
    return ax if average else p


# (class, reference, hyper-parameter sets); the second and third sets also make the two
# parameter groups of test_two_groups_with_different_options
CASES = [
    (optim.NAdam, nadam_ref, [
        {},
        dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, momentum_decay=0.02),
        dict(lr=0.02, weight_decay=0.3, decoupled_weight_decay=True, maximize=True)]),
    (optim.RAdam, radam_ref, [
        {},
        dict(lr=0.01, betas=(0.5, 0.7), eps=1e-6, weight_decay=0.1),  # rectified from step 3
        dict(lr=0.02, betas=(0.9, 0.9), weight_decay=0.2, decoupled_weight_decay=True,
             maximize=True)]),
    (optim.Adamax, adamax_ref, [
        {},
        dict(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.1),
        dict(lr=0.05, maximize=True)]),
    (optim.Adadelta, adadelta_ref, [
        {},
        dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1),
        dict(lr=2.0, rho=0.95, maximize=True)]),
    (optim.ASGD, asgd_ref, [
        {},
        dict(lr=0.05, lambd=0.1, alpha=0.5, t0=3, weight_decay=0.1),  # averages from step 4
        dict(lr=0.02, lambd=0.01, t0=0, maximize=True)]),
]
SINGLE = [(cls, ref, kwargs) for cls, ref, sets in CASES for kwargs in sets]
IDS = [f"{cls.__name__}-{i}" for cls, _, sets in CASES for i in range(len(sets))]


def problem(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 5)), [rng.standard_normal((3, 5)) for _ in range(steps)]


def run(opt, params, grads, device=None):
    """Step `opt` with grads[i] as every parameter's gradient at step i."""
    for g in grads:
        for p in params:
            p.grad = Tensor(g, device=device)
        opt.step()


@pytest.mark.parametrize("cls,ref,kwargs", SINGLE, ids=IDS)
def test_update_rule_matches_documented_formula(cls, ref, kwargs, device):
    p0, grads = problem()
    p = Tensor(p0.copy(), device=device, requires_grad=True)
    opt = cls([p], **kwargs)
    run(opt, [p], grads, device)
    np.testing.assert_allclose(p.numpy(), ref(p0, grads, **kwargs), rtol=1e-10, atol=1e-13)
    assert opt.state[p]["step"] == STEPS
    assert not np.allclose(p.numpy(), p0)


@pytest.mark.parametrize("cls,ref,sets", CASES, ids=[c.__name__ for c, _, _ in CASES])
def test_two_groups_with_different_options(cls, ref, sets, device):
    """Each group follows its own options (the defaults fill the rest); a frozen parameter
    (requires_grad=False) and one without a gradient stay as they are."""
    p0, grads = problem(1)
    a, b = (Tensor(p0.copy(), device=device, requires_grad=True) for _ in range(2))
    frozen, unused = Tensor(p0.copy(), device=device), Tensor(p0.copy(), device=device,
                                                              requires_grad=True)
    opt = cls([{"params": [a, frozen], **sets[1]}, {"params": [b, unused], **sets[2]}])
    assert opt.param_groups[0].keys() == opt.param_groups[1].keys()
    run(opt, [a, b], grads, device)
    np.testing.assert_allclose(a.numpy(), ref(p0, grads, **sets[1]), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b.numpy(), ref(p0, grads, **sets[2]), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(frozen.numpy(), p0)
    np.testing.assert_array_equal(unused.numpy(), p0)
    assert unused not in opt.state and frozen not in opt.state


def test_asgd_average():
    p0, grads = problem(2)
    kwargs = dict(lr=0.05, lambd=0.1, alpha=0.5, t0=3, weight_decay=0.1)
    p = Tensor(p0.copy(), requires_grad=True)
    opt = optim.ASGD([p], **kwargs)
    run(opt, [p], grads)
    np.testing.assert_allclose(opt.state[p]["ax"].numpy(),
                               asgd_ref(p0, grads, average=True, **kwargs), rtol=1e-10)
    assert opt.state[p]["mu"] == 1 / (STEPS - 3)
    assert opt.state[p]["eta"] == pytest.approx(0.05 / (1 + 0.1 * 0.05 * STEPS) ** 0.5)


def test_float32_and_float16_parameters(device):
    """Lower-precision parameters are updated in float32 math (float16 rounded back)."""
    p0, grads = problem(3)
    for dtype, rtol in ((np.float32, 1e-5), (np.float16, 5e-3)):
        p = Tensor(p0.astype(dtype), device=device, requires_grad=True)
        opt = optim.NAdam([p], lr=0.01)
        for g in grads:
            p.grad = Tensor(g.astype(dtype), device=device)
            opt.step()
        assert p.numpy().dtype == dtype and opt.state[p]["exp_avg"].numpy().dtype == dtype
        expected = nadam_ref(p0.astype(dtype).astype(np.float64),
                             [g.astype(dtype).astype(np.float64) for g in grads], lr=0.01)
        np.testing.assert_allclose(p.numpy(), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("cls,ref,sets", CASES, ids=[c.__name__ for c, _, _ in CASES])
def test_state_dict_round_trip_through_a_file(cls, ref, sets, tmp_path):
    """Saved after 4 steps, loaded into a fresh optimizer with other hyper-parameters: the
    next 6 steps continue exactly (step counts and every scalar of the state included)."""
    p0, grads = problem(4)
    a = Tensor(p0.copy(), requires_grad=True)
    opt_a = cls([a], **sets[1])
    run(opt_a, [a], grads[:4])
    save(opt_a.state_dict(), tmp_path / "opt.safetensors")
    b = Tensor(a.numpy().copy(), requires_grad=True)
    opt_b = cls([b], lr=123.0)
    opt_b.load_state_dict(load(tmp_path / "opt.safetensors"))
    assert opt_b.param_groups[0] == {**opt_a.param_groups[0], "params": [b]}
    assert {k: v for k, v in opt_b.state[b].items() if not isinstance(v, Tensor)} == \
        {k: v for k, v in opt_a.state[a].items() if not isinstance(v, Tensor)}
    assert opt_b.state[b]["step"] == 4
    run(opt_a, [a], grads[4:])
    run(opt_b, [b], grads[4:])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(a.numpy(), ref(p0, grads, **sets[1]), rtol=1e-10)


def test_state_layout_as_pytorch():
    p = Tensor(np.ones(2), requires_grad=True)
    keys = {optim.NAdam: ["step", "mu_product", "exp_avg", "exp_avg_sq"],
            optim.RAdam: ["step", "exp_avg", "exp_avg_sq"],
            optim.Adamax: ["step", "exp_avg", "exp_inf"],
            optim.Adadelta: ["step", "square_avg", "acc_delta"],
            optim.ASGD: ["step", "eta", "mu", "ax"]}
    for cls, names in keys.items():
        opt = cls([p])
        p.grad = Tensor(np.ones(2))
        opt.step()
        assert list(opt.state[p]) == names, cls.__name__
    defaults = {optim.NAdam: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                  momentum_decay=4e-3, decoupled_weight_decay=False),
                optim.RAdam: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                  decoupled_weight_decay=False),
                optim.Adamax: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
                optim.Adadelta: dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
                optim.ASGD: dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0)}
    for cls, expected in defaults.items():
        assert cls([p]).defaults == {**expected, "maximize": False}, cls.__name__


def _w():
    return [Tensor(np.ones(2), requires_grad=True)]


BAD = [
    (lambda: optim.NAdam(_w(), lr=-0.1), r"NAdam: invalid lr=-0.1 \(must be >= 0"),
    (lambda: optim.NAdam(_w(), momentum_decay=-1e-3), "NAdam: invalid momentum_decay=-0.001"),
    (lambda: optim.NAdam(_w(), betas=(1.0, 0.9)), r"NAdam: invalid betas=\(1.0, 0.9\)"),
    (lambda: optim.RAdam(_w(), betas=(0.9, -0.1)), r"RAdam: invalid betas=\(0.9, -0.1\)"),
    (lambda: optim.RAdam(_w(), eps=-1.0), "RAdam: invalid eps=-1.0"),
    (lambda: optim.Adamax(_w(), weight_decay=-1), "Adamax: invalid weight_decay=-1"),
    (lambda: optim.Adamax(_w(), lr=-2e-3), "Adamax: invalid lr"),
    (lambda: optim.Adadelta(_w(), rho=1.5), r"Adadelta: invalid rho=1.5 \(must be in \[0, 1\]"),
    (lambda: optim.Adadelta(_w(), eps=-1e-6), "Adadelta: invalid eps"),
    (lambda: optim.ASGD(_w(), lr=-1.0), "ASGD: invalid lr=-1.0"),
    (lambda: optim.ASGD(_w(), weight_decay=-0.1), "ASGD: invalid weight_decay"),
    (lambda: optim.NAdam([{"params": _w()}, {"params": _w(), "lr": -1.0}]),
     "NAdam: invalid lr=-1.0"),
]


@pytest.mark.parametrize("fn,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_hyper_parameters_raise_value_error(fn, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn()


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype: its optimizers keep scalar state (NAdam's
    mu_product, ASGD's eta and mu) in the default dtype, we keep Python floats."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("cls,ref,sets", CASES, ids=[c.__name__ for c, _, _ in CASES])
def test_against_torch(cls, ref, sets, torch64):
    """Every hyper-parameter set alone, then two groups, 10 steps: torch's numbers."""
    torch, p0, grads = torch64, *problem(5)
    layouts = [[kwargs] for kwargs in sets] + [sets[1:]]
    for groups in layouts:
        ours = [Tensor(p0.copy(), requires_grad=True) for _ in groups]
        theirs = [torch.tensor(p0.copy(), requires_grad=True) for _ in groups]
        opt = cls([{"params": [p], **kw} for p, kw in zip(ours, groups, strict=True)])
        ref_opt = getattr(torch.optim, cls.__name__)(
            [{"params": [p], **kw} for p, kw in zip(theirs, groups, strict=True)],
            foreach=False)
        for g in grads:
            for p, q in zip(ours, theirs, strict=True):
                p.grad, q.grad = Tensor(g), torch.tensor(g)
            opt.step()
            ref_opt.step()
        for p, q in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-15)
            state = ref_opt.state[q]
            assert opt.state[p]["step"] == int(state["step"])
            for name, value in opt.state[p].items():
                expected = state[name].detach().numpy() if torch.is_tensor(state[name]) \
                    else state[name]
                actual = value.numpy() if isinstance(value, Tensor) else value
                np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15,
                                           err_msg=name)
