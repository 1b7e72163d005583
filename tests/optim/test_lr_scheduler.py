"""Learning-rate schedules: the lr at every step against the closed forms."""

import math

import numpy as np
import pytest

from tinygrad_nv import Tensor
from tinygrad_nv.optim import SGD, Adam
from tinygrad_nv.optim.lr_scheduler import CosineAnnealingLR, LinearWarmup, StepLR


def optimizer(lr=0.1):
    return SGD([{"params": [Tensor(np.ones(2), requires_grad=True)]},
                {"params": [Tensor(np.ones(2), requires_grad=True)], "lr": lr * 10}], lr=lr)


def lrs(scheduler, steps):
    """The lr of both groups before each of `steps` scheduler steps."""
    out = []
    for _ in range(steps):
        got = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert got == scheduler.get_last_lr()
        out.append(got)
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(out)


@pytest.mark.parametrize("make,formula", [
    (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda base, e: base * 0.5 ** (e // 3)),
    (lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.01),
     lambda base, e: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * e / 6)) / 2),
    (lambda o: LinearWarmup(o, warmup_steps=4),
     lambda base, e: base * (1 / 3 + (2 / 3) * min(e, 4) / 4)),
    (lambda o: LinearWarmup(o, warmup_steps=5, start_factor=0.0),
     lambda base, e: base * min(e, 5) / 5),
], ids=["step", "cosine", "warmup", "warmup_from_zero"])
def test_schedule_matches_closed_form(make, formula):
    scheduler = make(optimizer())
    expected = [[formula(0.1, e), formula(1.0, e)] for e in range(14)]
    np.testing.assert_allclose(lrs(scheduler, 14), expected, rtol=1e-12, atol=1e-15)
    assert scheduler.last_epoch == 14


def test_cosine_reaches_eta_min_at_t_max():
    scheduler = CosineAnnealingLR(optimizer(), T_max=5, eta_min=0.001)
    for _ in range(5):
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(0.001)


def test_state_dict_resumes():
    a = StepLR(optimizer(), step_size=2, gamma=0.1)
    for _ in range(3):
        a.step()
    state = a.state_dict()
    assert state["last_epoch"] == 3 and "optimizer" not in state
    opt = optimizer()
    b = StepLR(opt, step_size=5, gamma=0.5)
    b.load_state_dict(state)
    b.step()
    a.step()
    assert b.get_last_lr() == a.get_last_lr() and opt.lr == a.get_last_lr()[0]


def test_resuming_needs_initial_lr_and_bad_arguments():
    opt = Adam([Tensor(np.ones(1), requires_grad=True)])
    with pytest.raises(ValueError, match="needs 'initial_lr'"):
        StepLR(opt, step_size=1, last_epoch=4)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive int"):
        CosineAnnealingLR(opt, T_max=-1)
    with pytest.raises(ValueError, match=r"LinearWarmup: start_factor must be in \[0, 1\]"):
        LinearWarmup(opt, 10, start_factor=2.0)
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        StepLR([], step_size=1)
