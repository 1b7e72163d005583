"""LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR and
ChainedScheduler: the lr of two parameter groups over 50 steps against hand-derived formulas
and against torch.optim.lr_scheduler (where installed), CyclicLR's momentum, state_dict
round trips through files, resuming with last_epoch, bad arguments."""

import math

import numpy as np
import pytest

import tinygrad_nv.optim.lr_scheduler as ours
from tinygrad_nv import Tensor, load, save
from tinygrad_nv.optim import SGD, Adagrad, Adam

STEPS = 50
BASES = (0.1, 1.0)  # the lr of the two parameter groups


def optimizer(cls=SGD, **kwargs):
    return cls([{"params": [Tensor(np.ones(2), requires_grad=True)]},
                {"params": [Tensor(np.ones(2), requires_grad=True)], "lr": BASES[1]}],
               lr=BASES[0], **kwargs)


def lrs(scheduler, steps=STEPS):
    """The lr of both groups before each of `steps` scheduler steps (get_last_lr agrees)."""
    out = []
    for _ in range(steps):
        got = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert got == scheduler.get_last_lr()
        out.append(got)
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(out)


def warm_restarts(e, t_0, t_mult):
    """(1 + cos(pi T_cur / T_i)) / 2 at epoch e: periods t_0, t_0 t_mult, t_0 t_mult^2, ..."""
    period = t_0
    while e >= period:
        e, period = e - period, period * t_mult
    return (1 + math.cos(math.pi * e / period)) / 2


def cyclic(e, base, top, up, down, scale):
    """Up over `up` steps, down over `down`, the amplitude times scale(cycle index, step)."""
    cycle, position = divmod(e, up + down)
    height = position / up if position <= up else (up + down - position) / down
    return base + (top - base) * height * scale(cycle + 1, e)


S = ours  # the schedules are reached as optim.lr_scheduler.<name>
CLOSED_FORMS = {
    "linear": (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
               lambda b, e: b * (0.25 + 0.5 * min(e, 8) / 8)),
    "linear_down": (lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=30),
                    lambda b, e: b * (1 - min(e, 30) / 30)),
    "constant": (lambda o: S.ConstantLR(o, factor=0.5, total_iters=6),
                 lambda b, e: b * (0.5 if e < 6 else 1.0)),
    "polynomial": (lambda o: S.PolynomialLR(o, total_iters=20, power=2.0),
                   lambda b, e: b * (1 - min(e, 20) / 20) ** 2),
    "warm_restarts": (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.01),
                      lambda b, e: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * (e % 7) / 7)) / 2),
    "warm_restarts_mult": (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
                           lambda b, e: b * warm_restarts(e, 3, 2)),
    "cyclic": (lambda o: S.CyclicLR(o, base_lr=[0.01, 0.2], max_lr=[0.1, 1.0], step_size_up=4,
                                    step_size_down=6),
               lambda b, e: cyclic(e, 0.01 if b == 0.1 else 0.2, b, 4, 6, lambda c, i: 1.0)),
    "cyclic2": (lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=BASES, step_size_up=5,
                                     mode="triangular2"),
                lambda b, e: cyclic(e, 0.01, b, 5, 5, lambda c, i: 0.5 ** (c - 1))),
    "cyclic_exp": (lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=BASES, step_size_up=3,
                                        mode="exp_range", gamma=0.97),
                   lambda b, e: cyclic(e, 0.01, b, 3, 3, lambda c, i: 0.97**i)),
    "sequential": (lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5),
                                                S.ExponentialLR(o, 0.9)], milestones=[5]),
                   lambda b, e: b * (0.1 + 0.9 * e / 5) if e < 5 else b * 0.9 ** (e - 5)),
    "chained": (lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=4),
                                              S.ExponentialLR(o, 0.9)]),
                lambda b, e: b * 0.9**e * (0.5 if e < 4 else 1.0)),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_schedule_matches_hand_derived_formula(name):
    make, formula = CLOSED_FORMS[name]
    expected = [[formula(base, e) for base in BASES] for e in range(STEPS)]
    np.testing.assert_allclose(lrs(make(optimizer())), expected, rtol=1e-12, atol=1e-15)


def test_cyclic_momentum_moves_against_the_lr():
    scheduler = S.CyclicLR(optimizer(momentum=0.9), 0.01, 0.1, step_size_up=2,
                           base_momentum=[0.8, 0.7], max_momentum=0.95)
    momenta = []
    for _ in range(8):
        momenta.append([g["momentum"] for g in scheduler.optimizer.param_groups])
        scheduler.step()
    np.testing.assert_allclose(np.array(momenta)[:5, 0], [0.95, 0.875, 0.8, 0.875, 0.95])
    np.testing.assert_allclose(np.array(momenta)[2, 1], 0.7)
    adam = S.CyclicLR(optimizer(Adam), 0.01, 0.1, step_size_up=2)
    adam.step()
    assert adam.optimizer.param_groups[0]["betas"] == (pytest.approx(0.85), 0.999)


def test_warm_restarts_fractional_epochs():
    """step(epoch) jumps anywhere in the schedule, fractional epochs included (one step per
    batch); last_epoch is the floor."""
    scheduler = S.CosineAnnealingWarmRestarts(optimizer(), T_0=2, T_mult=3)
    for epoch, (t_cur, t_i) in ((0.5, (0.5, 2)), (3.0, (1.0, 6)), (9.25, (1.25, 18)),
                                (1.0, (1.0, 2))):
        scheduler.step(epoch)
        assert (scheduler.T_cur, scheduler.T_i, scheduler.last_epoch) == \
            (pytest.approx(t_cur), t_i, math.floor(epoch))
        assert scheduler.get_last_lr()[1] == pytest.approx((1 + math.cos(math.pi * t_cur / t_i))
                                                           / 2)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        scheduler.step(-1)


def test_sequential_restarts_each_member_at_its_milestone():
    """The third member starts at its epoch 0 (in closed form: its base lr, not the lr the
    second left); two parameter groups keep their ratio."""
    opt = optimizer()
    scheduler = S.SequentialLR(opt, [S.ConstantLR(opt, 0.1, total_iters=10),
                                     S.CosineAnnealingLR(opt, T_max=4, eta_min=0.0),
                                     S.StepLR(opt, 3, gamma=0.5)], milestones=[2, 6])
    got = lrs(scheduler, 12)
    cosine = [(1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    expected = [0.1, 0.1, *cosine, *(0.5 ** (e // 3) for e in range(6))]
    np.testing.assert_allclose(got[:, 0], BASES[0] * np.array(expected), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], BASES[1] * np.array(expected), rtol=1e-12)
    assert scheduler.last_epoch == 12 and scheduler._schedulers[2].last_epoch == 6


def test_resume_with_last_epoch():
    """A schedule built with last_epoch=k continues from epoch k + 1 (the groups need
    'initial_lr', as PyTorch)."""
    opt = optimizer()
    whole = S.PolynomialLR(opt, total_iters=10, power=1.0)
    for _ in range(4):
        whole.step()
    fresh = optimizer()
    for group, saved in zip(fresh.param_groups, opt.param_groups, strict=True):
        group.update(lr=saved["lr"], initial_lr=saved["initial_lr"])
    resumed = S.PolynomialLR(fresh, total_iters=10, power=1.0, last_epoch=3)
    np.testing.assert_allclose(lrs(resumed, 6), lrs(whole, 6), rtol=1e-12)
    with pytest.raises(KeyError, match="initial_lr"):
        S.LinearLR(optimizer(), last_epoch=2)


class Scale:
    """A callable scale_fn object: its attributes travel in the state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, x):
        return self.rate**x


RESUMABLE = {
    "linear": lambda o: S.LinearLR(o, 0.2, total_iters=6),
    "constant": lambda o: S.ConstantLR(o, 0.3, total_iters=5),
    "polynomial": lambda o: S.PolynomialLR(o, total_iters=9, power=1.5),
    "warm_restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "cyclic": lambda o: S.CyclicLR(o, 0.01, [0.5, 2.0], step_size_up=3, mode="triangular2"),
    "cyclic_scale_fn": lambda o: S.CyclicLR(o, 0.01, 1.0, step_size_up=2, scale_fn=Scale(0.9),
                                            scale_mode="iterations"),
    "sequential": lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.5, total_iters=3),
                                               S.ExponentialLR(o, 0.8)], milestones=[3]),
    "chained": lambda o: S.ChainedScheduler([S.LinearLR(o, 0.5, total_iters=7),
                                             S.CosineAnnealingWarmRestarts(o, T_0=4)]),
}


@pytest.mark.parametrize("name", RESUMABLE)
def test_state_dict_resumes_through_files(name, tmp_path):
    make = RESUMABLE[name]
    whole, first = make(optimizer(momentum=0.9)), make(optimizer(momentum=0.9))
    for _ in range(5):
        whole.step()
        first.step()
    save(first.optimizer.state_dict(), tmp_path / "opt.safetensors")
    save(first.state_dict(), tmp_path / "sched.safetensors")
    opt = optimizer(momentum=0.9)
    second = make(opt)
    if name == "cyclic_scale_fn":
        second._scale_fn_custom.rate = 0.1  # restored from the file
    opt.load_state_dict(load(tmp_path / "opt.safetensors"))
    second.load_state_dict(load(tmp_path / "sched.safetensors"))
    np.testing.assert_array_equal(lrs(second, 10), lrs(whole, 10))
    assert [g.get("momentum") for g in opt.param_groups] == \
        [g.get("momentum") for g in whole.optimizer.param_groups]


def _w():
    return optimizer()


BAD = [
    (lambda o: S.LinearLR(o, start_factor=0.0), ValueError,
     "LinearLR: Starting multiplicative factor expected to be greater than 0"),
    (lambda o: S.LinearLR(o, end_factor=1.5), ValueError,
     "LinearLR: Ending multiplicative factor expected to be between 0 and 1"),
    (lambda o: S.ConstantLR(o, factor=2.0), ValueError,
     "ConstantLR: Constant multiplicative factor expected to be between 0 and 1"),
    (lambda o: S.LinearLR([], 0.5), TypeError, "LinearLR: expected an Optimizer, got list"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "Expected positive integer T_0, but got 0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), ValueError,
     "Expected integer T_mult >= 1"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"), ValueError,
     "Expected float or int eta_min"),
    (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError,
     "mode is invalid and scale_fn is None"),
    (lambda o: S.CyclicLR(o, [0.1], 1.0), ValueError, "expected 2 values for base_lr"),
    (lambda o: S.CyclicLR(Adagrad([Tensor(np.ones(1), requires_grad=True)]), 0.1, 1.0),
     ValueError, "optimizer must support momentum or beta1"),
    (lambda o: S.SequentialLR(o, [], milestones=[]), ValueError,
     "SequentialLR expects at least one scheduler"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(o)], milestones=[3]), ValueError,
     "expects number of schedulers provided to be one more than the number of milestone"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(_w())], milestones=[]), ValueError,
     "SequentialLR expects all schedulers to belong to the same optimizer"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], milestones=[]), ValueError,
     "does not support `ReduceLROnPlateau`"),
    (lambda o: S.ChainedScheduler([]), ValueError, "ChainedScheduler expects at least one"),
    (lambda o: S.ChainedScheduler([S.ConstantLR(o), 3]), TypeError,
     "ChainedScheduler at index 1 should have `optimizer` as its attribute"),
    (lambda o: S.NoSuchLR(o), AttributeError, "has no attribute 'NoSuchLR'"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_arguments_raise_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(optimizer())


# torch: the same constructor call on torch.optim.lr_scheduler (L), with its optimizer
AGAINST_TORCH = [
    lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
    lambda L, o: L.LinearLR(o),
    lambda L, o: L.ConstantLR(o, factor=0.4, total_iters=7),
    lambda L, o: L.PolynomialLR(o, total_iters=20, power=0.7),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.01),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001),
    lambda L, o: L.CyclicLR(o, base_lr=[0.01, 0.2], max_lr=[0.1, 1.0], step_size_up=4,
                            step_size_down=6),
    lambda L, o: L.CyclicLR(o, 0.01, 1.0, step_size_up=5, mode="triangular2",
                            base_momentum=[0.8, 0.7], max_momentum=0.95),
    lambda L, o: L.CyclicLR(o, 0.01, 1.0, step_size_up=3, mode="exp_range", gamma=0.97),
    lambda L, o: L.CyclicLR(o, 0.01, 1.0, step_size_up=4, scale_fn=lambda x: 1 / (1 + x),
                            scale_mode="iterations"),
    lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=5),
                                    L.ExponentialLR(o, 0.9)], milestones=[5]),
    lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.1, total_iters=10),
                                    L.CosineAnnealingLR(o, T_max=9, eta_min=0.01),
                                    L.MultiStepLR(o, [0, 4, 9], gamma=0.5),
                                    L.PolynomialLR(o, total_iters=12)], milestones=[3, 20, 30]),
    lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=4),
                                     L.ExponentialLR(o, 0.95)]),
    lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.2, total_iters=10),
                                     L.CosineAnnealingWarmRestarts(o, T_0=6, T_mult=2),
                                     L.StepLR(o, 7, gamma=0.8)]),
    lambda L, o: L.ChainedScheduler([L.SequentialLR(o, [L.LinearLR(o, 0.3, total_iters=4),
                                                        L.ConstantLR(o, 0.5, total_iters=3)],
                                                    milestones=[4]),
                                     L.ExponentialLR(o, 0.95)]),
]


@pytest.mark.parametrize("make", AGAINST_TORCH, ids=[f"t{i}" for i in range(len(AGAINST_TORCH))])
@pytest.mark.parametrize("adam", [False, True], ids=["sgd", "adam"])
def test_against_torch(make, adam):
    """PyTorch's exact learning rates (and momentum or beta1) over 50 steps, two groups."""
    torch = pytest.importorskip("torch")
    import torch.optim.lr_scheduler as reference

    params = [torch.ones(2, requires_grad=True) for _ in range(2)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": BASES[1]}]
    opt = torch.optim.Adam(groups, lr=BASES[0]) if adam else \
        torch.optim.SGD(groups, lr=BASES[0], momentum=0.9)
    theirs, mine = make(reference, opt), make(ours, optimizer(Adam) if adam else
                                              optimizer(momentum=0.9))
    key = "betas" if adam else "momentum"
    for _ in range(STEPS):
        assert mine.get_last_lr() == theirs.get_last_lr()
        assert [g[key] for g in mine.optimizer.param_groups] == \
            [g[key] for g in opt.param_groups]
        opt.step()
        theirs.step()
        mine.step()
