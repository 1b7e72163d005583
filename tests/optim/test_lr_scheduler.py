"""Learning-rate schedules: the lr of every group at each of 30 steps against the closed
forms (or, for ReduceLROnPlateau, the rule worked by hand); state_dict resumes; bad input."""

import math

import numpy as np
import pytest

from tinygrad_nv import Tensor, load, save
from tinygrad_nv.optim import SGD, Adagrad, Adam
from tinygrad_nv.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearWarmup,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)

STEPS = 30
BASES = (0.1, 1.0)  # the lr of the two parameter groups


def optimizer(cls=SGD, **kwargs):
    return cls([{"params": [Tensor(np.ones(2), requires_grad=True)]},
                {"params": [Tensor(np.ones(2), requires_grad=True)], "lr": BASES[1]}],
               lr=BASES[0], **kwargs)


def lrs(scheduler, steps=STEPS, metrics=None):
    """The lr of both groups before each of `steps` scheduler steps."""
    out = []
    for i in range(steps):
        got = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert got == scheduler.get_last_lr()
        out.append(got)
        scheduler.optimizer.step()
        scheduler.step(*([] if metrics is None else [metrics[i]]))
    return np.array(out)


def one_cycle(epoch, max_lr, total, pct=0.3, div=25.0, final_div=1e4):
    """The 1cycle lr (cosine annealing, two phases) at step `epoch`, in closed form."""
    low, rise = max_lr / div, pct * total - 1
    if epoch <= rise:
        start, end, t = low, max_lr, epoch / rise
    else:
        start, end, t = max_lr, low / final_div, (epoch - rise) / (total - 1 - rise)
    return end + (start - end) * (1 + math.cos(math.pi * t)) / 2


CLOSED_FORMS = [
    (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda base, e: base * 0.5 ** (e // 3)),
    (lambda o: MultiStepLR(o, milestones=[4, 9, 9, 20], gamma=0.3),
     lambda base, e: base * 0.3 ** sum(m <= e for m in [4, 9, 9, 20])),
    (lambda o: ExponentialLR(o, gamma=0.9), lambda base, e: base * 0.9 ** e),
    (lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.01),
     lambda base, e: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * e / 6)) / 2),
    (lambda o: LambdaLR(o, lambda e: 1 / (1 + e)), lambda base, e: base / (1 + e)),
    (lambda o: LinearWarmup(o, warmup_steps=4),
     lambda base, e: base * (1 / 3 + (2 / 3) * min(e, 4) / 4)),
    (lambda o: LinearWarmup(o, warmup_steps=5, start_factor=0.0),
     lambda base, e: base * min(e, 5) / 5),
    (lambda o: OneCycleLR(o, max_lr=[0.5, 2.0], total_steps=STEPS + 1),
     lambda base, e: one_cycle(e, 0.5 if base == BASES[0] else 2.0, STEPS + 1)),
]


@pytest.mark.parametrize("make,formula", CLOSED_FORMS, ids=[
    "step", "multistep", "exponential", "cosine", "lambda", "warmup", "warmup_from_zero",
    "one_cycle"])
def test_schedule_matches_closed_form(make, formula):
    scheduler = make(optimizer())
    expected = [[formula(base, e) for base in BASES] for e in range(STEPS)]
    np.testing.assert_allclose(lrs(scheduler), expected, rtol=1e-12, atol=1e-15)
    assert scheduler.last_epoch == STEPS


def test_lambda_per_group_and_callable_object_state():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    decay = Decay()
    scheduler = LambdaLR(optimizer(), [lambda e: e + 1, decay])
    np.testing.assert_allclose(lrs(scheduler, 4), [[BASES[0] * (e + 1), 0.5 ** e]
                                                   for e in range(4)])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.5}]
    other = Decay()
    other.rate = 0.1
    fresh = LambdaLR(optimizer(), [lambda e: 1.0, other])
    fresh.load_state_dict(state)
    assert other.rate == 0.5 and fresh.last_epoch == 4


def test_one_cycle_momentum_three_phase_and_end():
    scheduler = OneCycleLR(optimizer(momentum=0.9), max_lr=1.0, total_steps=10)
    momenta = []
    for _ in range(10):
        momenta.append(scheduler.optimizer.param_groups[0]["momentum"])
        scheduler.step()
    assert momenta[0] == pytest.approx(0.95) and min(momenta) == pytest.approx(0.85)
    assert momenta[2] == pytest.approx(0.85)  # the lr peaks at step pct * total - 1 = 2
    with pytest.raises(ValueError, match="tried to step 11 times; the specified number of "
                                         "total steps is 10"):
        scheduler.step()
    adam = OneCycleLR(optimizer(Adam), max_lr=1.0, total_steps=10, three_phase=True,
                      anneal_strategy="linear")
    values = lrs(adam, 10)[:, 0]
    assert adam.optimizer.param_groups[0]["betas"][1] == 0.999
    # linear phases: 0.04 -> 1 over steps 0..2, back to 0.04 over 2..4, then to 4e-6 at 9
    np.testing.assert_allclose(values[[0, 2, 4]], [0.04, 1.0, 0.04])
    np.testing.assert_allclose(values[9], 0.04 / 1e4 + (0.04 - 0.04 / 1e4) * (1 - 5 / 5))
    np.testing.assert_allclose(values[5:9], 0.04 + (0.04 / 1e4 - 0.04) * np.arange(1, 5) / 5)


def test_reduce_on_plateau_by_hand():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85] + [0.85] * 20
    scheduler = ReduceLROnPlateau(optimizer(), patience=1, factor=0.5, cooldown=1,
                                  min_lr=[0.0, 0.3])
    got = lrs(scheduler, STEPS, metrics)
    # bad epochs after 0.9: steps 2, 3 -> reduce after step 3 (num_bad 2 > patience 1);
    # step 4 is in cooldown; 0.8 improves; 6, 7 bad -> reduce after 7; cooldown at 8; ...
    expected, lr, best, bad, cooldown = [], list(BASES), math.inf, 0, 0
    for m in metrics:
        expected.append(list(lr))
        best, bad = (m, 0) if m < best * (1 - 1e-4) else (best, bad + 1)
        if cooldown:
            cooldown, bad = cooldown - 1, 0
        if bad > 1:
            lr = [max(v * 0.5, floor) for v, floor in zip(lr, (0.0, 0.3), strict=True)]
            cooldown, bad = 1, 0
    np.testing.assert_allclose(got, expected)
    assert got[4].tolist() == [0.05, 0.5] and got[-1][1] == 0.3  # floor reached
    maximize = ReduceLROnPlateau(optimizer(), mode="max", threshold_mode="abs",
                                 threshold=0.1, patience=0)
    maximize.step(Tensor(1.0))
    maximize.step(1.05)  # not better by more than 0.1: one bad epoch > patience 0
    assert maximize.get_last_lr() == pytest.approx([0.01, 0.1])


def test_schedulers_chain_like_pytorch():
    opt = optimizer()
    warm, decay = LinearWarmup(opt, warmup_steps=2), ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        warm.step()
        decay.step()
    # warmup (closed form) sets base * 1 at epoch 2..3, exponential then halves the group lr
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.5])


RESUMABLE = [lambda o: StepLR(o, 2, gamma=0.5), lambda o: MultiStepLR(o, [3, 5]),
             lambda o: ExponentialLR(o, 0.8), lambda o: CosineAnnealingLR(o, 5),
             lambda o: LambdaLR(o, lambda e: 0.9 ** e), lambda o: LinearWarmup(o, 6),
             lambda o: OneCycleLR(o, 1.0, total_steps=12, cycle_momentum=False),
             lambda o: ReduceLROnPlateau(o, patience=0)]


@pytest.mark.parametrize("make", RESUMABLE, ids=[
    "step", "multistep", "exponential", "cosine", "lambda", "warmup", "one_cycle", "plateau"])
def test_state_dict_resumes(make, tmp_path):
    """Optimizer and scheduler state saved to files mid-schedule, loaded into fresh ones,
    continue exactly as the uninterrupted run."""
    metrics = [1.0, 2.0, 0.5, 3.0, 3.0, 0.1, 4.0, 4.0, 4.0, 4.0]
    whole, first = make(optimizer()), make(optimizer())
    plateau = isinstance(whole, ReduceLROnPlateau)
    for i in range(4):
        for s in (whole, first):
            s.step(metrics[i]) if plateau else s.step()
    opt_state, state = first.optimizer.state_dict(), first.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == whole.last_epoch
    save(opt_state, tmp_path / "opt.safetensors")
    save(state, tmp_path / "sched.safetensors")
    opt = optimizer()
    second = make(opt)
    opt.load_state_dict(load(tmp_path / "opt.safetensors"))
    second.load_state_dict(load(tmp_path / "sched.safetensors"))
    for i in range(4, 10):
        for s in (whole, second):
            s.step(metrics[i]) if plateau else s.step()
        assert second.get_last_lr() == whole.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == whole.get_last_lr()


BAD = [
    (lambda o: StepLR(o, step_size=0), ValueError, "StepLR: step_size must be a positive int"),
    (lambda o: CosineAnnealingLR(o, T_max=-1), ValueError,
     "CosineAnnealingLR: T_max must be a positive int"),
    (lambda o: LinearWarmup(o, 10, start_factor=2.0), ValueError,
     r"LinearWarmup: start_factor must be in \[0, 1\]"),
    (lambda o: StepLR([], step_size=1), TypeError, "StepLR: expected an Optimizer, got list"),
    (lambda o: StepLR(o, step_size=1, last_epoch=4), KeyError,
     r"needs 'initial_lr' in param_groups\[0\]"),
    (lambda o: MultiStepLR(o, [2.5]), ValueError, "milestones must be ints"),
    (lambda o: LambdaLR(o, [lambda e: 1.0]), ValueError,
     r"expected 2 values for lr_lambda \(one per parameter group\), got 1"),
    (lambda o: LambdaLR(o, 0.5), TypeError, "lr_lambda must be a function"),
    (lambda o: OneCycleLR(o, 1.0), ValueError, "either total_steps OR"),
    (lambda o: OneCycleLR(o, 1.0, total_steps=0), ValueError, "total_steps must be a positive"),
    (lambda o: OneCycleLR(o, 1.0, total_steps=5, pct_start=1), ValueError, "pct_start"),
    (lambda o: OneCycleLR(o, 1.0, total_steps=5, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda o: OneCycleLR(Adagrad([Tensor(np.ones(1), requires_grad=True)]), 1.0,
                          total_steps=5), ValueError, "Adagrad has neither"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError, "factor should be < 1.0"),
    (lambda o: ReduceLROnPlateau(o, mode="up"), ValueError, "mode must be 'min' or 'max'"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 values for min_lr"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_arguments_raise_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(optimizer())


def test_torch_agreement_when_available():
    """Identical lrs to PyTorch's schedulers over 30 steps (skipped where torch is absent)."""
    torch = pytest.importorskip("torch")
    import torch.optim.lr_scheduler as reference

    import tinygrad_nv.optim.lr_scheduler as ours

    makers = [lambda L, o: L.StepLR(o, 4, gamma=0.5),
              lambda L, o: L.MultiStepLR(o, [3, 7, 7], gamma=0.3),
              lambda L, o: L.ExponentialLR(o, 0.9),
              lambda L, o: L.CosineAnnealingLR(o, 7, eta_min=0.01),
              lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=31)]
    for make in makers:
        params = [torch.ones(2, requires_grad=True) for _ in range(2)]
        opt = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": BASES[1]}],
                              lr=BASES[0], momentum=0.9)
        theirs = make(reference, opt)
        expected = []
        for _ in range(STEPS):
            expected.append([g["lr"] for g in opt.param_groups])
            opt.step()
            theirs.step()
        np.testing.assert_array_equal(lrs(make(ours, optimizer(momentum=0.9))), expected)
