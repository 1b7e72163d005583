"""Optimizers against their documented update rules, computed here step by step in NumPy;
state_dict round trips; parameter groups; hyper-parameter validation."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, load, save

STEPS = 4


def sgd_ref(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    buf = None
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_ref(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False,
             amsgrad=False, maximize=False):
    m = v = v_max = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_max = np.maximum(v_max, v) if amsgrad else v
        m_hat, v_hat = m / (1 - betas[0] ** t), v_max / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def rmsprop_ref(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    sq = g_avg = buf = np.zeros_like(p)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            avg = np.sqrt(sq - g_avg * g_avg) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def adagrad_ref(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    total = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        total = total + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return p


CASES = [
    (optim.SGD, sgd_ref, dict(lr=0.1)),
    (optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.5, maximize=True)),
    (optim.Adam, adam_ref, dict(lr=0.01)),
    (optim.Adam, adam_ref, dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    (optim.Adam, adam_ref, dict(lr=0.02, amsgrad=True, weight_decay=0.1, maximize=True)),
    (optim.AdamW, lambda *a, **k: adam_ref(*a, decoupled=True, weight_decay=1e-2, **k),
     dict(lr=0.01)),
    (optim.AdamW, lambda *a, **k: adam_ref(*a, decoupled=True, **k),
     dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.3)),
    (optim.AdamW, lambda *a, **k: adam_ref(*a, decoupled=True, **k),
     dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01)),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01, momentum=0.7)),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01, centered=True, momentum=0.5, eps=1e-4)),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01, maximize=True)),
    (optim.Adagrad, adagrad_ref, dict(lr=0.1)),
    (optim.Adagrad, adagrad_ref, dict(lr=0.1, lr_decay=0.1, weight_decay=0.2,
                                      initial_accumulator_value=0.5, eps=1e-3, maximize=True)),
]
OPTIMIZERS = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]


def problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(STEPS)]


@pytest.mark.parametrize("cls,ref,kwargs", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_update_rule(cls, ref, kwargs, device):
    p0, grads = problem()
    p = Tensor(p0.copy(), device=device, requires_grad=True)  # shares memory on cpu
    opt = cls([p], **kwargs)
    for g in grads:
        p.grad = Tensor(g, device=device)
        opt.step()
    np.testing.assert_allclose(p.numpy(), ref(p0, grads, **kwargs), rtol=1e-12, atol=1e-14)
    assert p.is_leaf and p.requires_grad


@pytest.mark.parametrize("cls,ref,kwargs", CASES[1::2],
                         ids=[c.__name__ for c, _, _ in CASES[1::2]])
def test_state_dict_round_trip_continues_identically(cls, ref, kwargs, tmp_path):
    p0, grads = problem(1)
    a = Tensor(p0.copy(), requires_grad=True)
    opt_a = cls([a], **kwargs)
    for g in grads[:2]:
        a.grad = Tensor(g)
        opt_a.step()
    save(opt_a.state_dict(), tmp_path / "opt.safetensors")
    b = Tensor(a.numpy().copy(), requires_grad=True)
    opt_b = cls([b], lr=123.0)  # hyper-parameters come back from the state dict
    opt_b.load_state_dict(load(tmp_path / "opt.safetensors"))
    assert opt_b.param_groups[0]["lr"] == kwargs["lr"]
    for g in grads[2:]:
        for p, opt in ((a, opt_a), (b, opt_b)):
            p.grad = Tensor(g)
            opt.step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(a.numpy(), ref(p0, grads, **kwargs), rtol=1e-12)


def test_state_dict_layout():
    w, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}])
    w.grad = Tensor(np.ones(2))
    opt.step()
    state = opt.state_dict()
    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                "maximize": False}
    assert state["param_groups"] == [{"lr": 1e-3, **defaults, "params": [0]},
                                     {"lr": 0.5, **defaults, "params": [1]}]
    assert list(state["state"]) == [0] and state["state"][0]["step"] == 1
    assert sorted(state["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert isinstance(state["state"][0]["exp_avg"], Tensor)


def test_param_groups_and_lr_property():
    w, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 1.0}], lr=0.1)
    w.grad, b.grad = Tensor(np.ones(2)), Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(w.numpy(), 0.9)
    np.testing.assert_allclose(b.numpy(), 0.0)
    assert opt.lr == 0.1
    opt.lr = 0.5
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]
    opt.param_groups[1]["lr"] = 0.25
    opt.step()
    np.testing.assert_allclose(b.numpy(), -0.25)


def test_params_without_grad_are_skipped_and_zero_grad():
    w, unused = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w, unused], lr=0.1, momentum=0.9)
    (w * 3).sum().backward()
    opt.step()
    np.testing.assert_allclose(unused.numpy(), 1.0)
    assert unused not in opt.state
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), 0.0)
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_frozen_parameters_and_per_group_options(cls, device):
    """A frozen parameter (requires_grad=False) is accepted and never moves; each group uses
    its own lr: the result equals two separate optimizers with those options."""
    p0, grads = problem(2)
    body, head, frozen = (Tensor(p0.copy(), device=device, requires_grad=True),
                          Tensor(p0.copy(), device=device, requires_grad=True),
                          Tensor(p0.copy(), device=device))
    opt = cls([{"params": [body, frozen]}, {"params": [head], "lr": 0.05}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.05]
    assert opt.param_groups[1].keys() == opt.param_groups[0].keys()  # defaults filled in
    alone = [Tensor(p0.copy(), device=device, requires_grad=True) for _ in range(2)]
    separate = [cls([alone[0]], lr=0.01), cls([alone[1]], lr=0.05)]
    for g in grads:
        for p in (body, head, *alone):
            p.grad = Tensor(g, device=device)
        opt.step()
        for o in separate:
            o.step()
    np.testing.assert_array_equal(frozen.numpy(), p0)
    assert frozen not in opt.state
    np.testing.assert_allclose(body.numpy(), alone[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(head.numpy(), alone[1].numpy(), rtol=1e-12)
    assert not np.allclose(body.numpy(), head.numpy())


def test_fine_tuning_with_a_frozen_layer_weight():
    """The issue's case: `m.weight.requires_grad = False`, then an optimizer over all of
    m.parameters() trains the bias only."""
    layer = nn.Linear(3, 2)
    layer.weight.requires_grad = False
    opt = optim.SGD(layer.parameters(), lr=0.1)
    weight, bias = layer.weight.numpy().copy(), layer.bias.numpy().copy()
    layer(Tensor(np.ones((4, 3), dtype=np.float32))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(layer.weight.numpy(), weight)
    np.testing.assert_allclose(layer.bias.numpy(), bias - 0.1 * 4, rtol=1e-6)


def test_add_param_group_and_writable_param_groups():
    w, b = _w()[0], _w()[0]
    opt = optim.Adam([w], lr=0.1, betas=(0.5, 0.6))
    opt.add_param_group({"params": b, "lr": 0.2, "note": "head"})
    assert opt.param_groups[1] == {"params": [b], "lr": 0.2, "betas": (0.5, 0.6), "eps": 1e-8,
                                   "weight_decay": 0.0, "amsgrad": False, "maximize": False,
                                   "note": "head"}
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [w]})
    assert len(opt.param_groups) == 2
    opt.param_groups[0]["lr"] = 0.0  # a frozen group: schedulers write here the same way
    w.grad, b.grad = Tensor(np.ones(2)), Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(w.numpy(), 1.0)
    assert (b.numpy() < 1.0).all()


def test_repr_lists_groups_as_pytorch():
    opt = optim.SGD([{"params": _w()}, {"params": _w(), "lr": 0.5}], lr=0.1)
    group = "    dampening: 0.0\n    lr: {}\n    maximize: False\n    momentum: 0.0\n" \
            "    nesterov: False\n    weight_decay: 0.0\n"
    assert repr(opt) == ("SGD (\nParameter Group 0\n" + group.format(0.1)
                         + "\nParameter Group 1\n" + group.format(0.5) + ")")


def test_state_dict_round_trip_with_groups(tmp_path):
    p0, grads = problem(3)
    make = [lambda: [Tensor(p0.copy(), requires_grad=True) for _ in range(3)] for _ in range(2)]
    a, b = make[0](), make[1]()
    opt_a = optim.SGD([{"params": a[:2], "momentum": 0.9}, {"params": a[2:], "lr": 0.5}],
                      lr=0.1)
    opt_b = optim.SGD([{"params": b[:2]}, {"params": b[2:]}], lr=0.3)
    for g in grads[:2]:
        for p in a:
            p.grad = Tensor(g)
        opt_a.step()
    state = opt_a.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2]]
    assert sorted(state["state"]) == [0, 1]  # no momentum in group 2: no state
    save(state, tmp_path / "opt.safetensors")
    for p, q in zip(a, b, strict=True):
        q.data = p.detach().clone()
    opt_b.load_state_dict(load(tmp_path / "opt.safetensors"))
    assert [(g["lr"], g["momentum"]) for g in opt_b.param_groups] == [(0.1, 0.9), (0.5, 0.0)]
    for g in grads[2:]:
        for p in (*a, *b):
            p.grad = Tensor(g)
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_step_with_closure_and_generator_params():
    w = Tensor(np.array([2.0]), requires_grad=True)
    opt = optim.SGD((p for p in [w]), lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    np.testing.assert_allclose(w.numpy(), [1.0])  # 2 - 0.25 * 4


def test_training_reduces_loss(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    for cls in OPTIMIZERS:
        w = Tensor(np.zeros((3, 1)), device=device, requires_grad=True)
        opt = cls([w], lr=0.05)
        losses = []
        for _ in range(30):
            opt.zero_grad()
            loss = ((Tensor(x, device=device) @ w - Tensor(y, device=device)) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0], cls.__name__


def _w():
    return [Tensor(np.ones(2), requires_grad=True)]


BAD = [
    (lambda: optim.SGD(_w(), lr=-0.1), ValueError, r"SGD: invalid lr=-0.1 \(must be >= 0"),
    (lambda: optim.SGD(_w(), momentum=-1), ValueError, "SGD: invalid momentum=-1"),
    (lambda: optim.SGD(_w(), nesterov=True), ValueError,
     "nesterov momentum requires momentum > 0 and dampening = 0"),
    (lambda: optim.SGD(_w(), momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening=0.1"),
    (lambda: optim.Adam(_w(), betas=(0.9, 1.0)), ValueError,
     r"Adam: invalid betas=\(0.9, 1.0\) \(each must be in \[0, 1\)\)"),
    (lambda: optim.AdamW(_w(), eps=-1e-8), ValueError, "AdamW: invalid eps"),
    (lambda: optim.Adam(_w(), weight_decay=-0.1), ValueError, "Adam: invalid weight_decay"),
    (lambda: optim.RMSprop(_w(), alpha=-0.5), ValueError, "RMSprop: invalid alpha"),
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: got an empty parameter list"),
    (lambda: optim.SGD(_w()[0], lr=0.1), TypeError, "params must be an iterable"),
    (lambda: optim.SGD([_w()[0] * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda: optim.SGD([1.0], lr=0.1), TypeError, "SGD: can only optimize Tensors, got float"),
    (lambda: optim.SGD(set(_w()), lr=0.1), TypeError, "not a set"),
    (lambda: optim.SGD(_w() * 2, lr=0.1), ValueError, "same parameter more than once"),
    (lambda: optim.SGD([{"params": _w() * 2}], lr=0.1), ValueError, "same parameter"),
    (lambda: optim.SGD([{"lr": 0.1}], lr=0.1), ValueError, "the group has no 'params' key"),
    (lambda: optim.SGD([{"params": _w(), "lr": -1.0}]), ValueError, "SGD: invalid lr=-1.0"),
    (lambda: optim.Adagrad(_w(), lr_decay=-0.1), ValueError, "Adagrad: invalid lr_decay"),
    (lambda: optim.Adagrad(_w(), initial_accumulator_value=-1), ValueError,
     "Adagrad: invalid initial_accumulator_value"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_hyper_parameters_raise_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_load_state_dict_of_another_shape():
    opt = optim.SGD(_w(), lr=0.1)
    other = optim.SGD(_w() + _w(), lr=0.1)
    with pytest.raises(ValueError, match=r"sizes \[2\], this optimizer's \[1\]"):
        opt.load_state_dict(other.state_dict())
