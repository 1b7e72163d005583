"""What changes between calls is read at replay: learning rates and hyper-parameters set by
the user, `load_state_dict` of the model and of the optimizer, `.data` assignments (a
replaced storage records again), updates made outside the step, the random stream
(`manual_seed`); each checked against eager bit for bit."""

from __future__ import annotations

import numpy as np

import tinygrad_nv as tg
from tests.jit.models import Run, batch, make_run, state_of
from tinygrad_nv import Tensor


def twins(kind: str, opt: str, device: str) -> tuple[Run, Run]:
    return make_run(kind, opt, device), make_run(kind, opt, device)


def both(runs: tuple[Run, Run], step, device: str, i: int, kind: str = "mlp") -> None:
    """One step of each (eager, jitted) on the same batch and dropout masks; the losses must
    agree."""
    data = batch(kind, 4, i, device)
    Tensor.manual_seed(i)
    want = runs[0].step(*data).numpy()
    Tensor.manual_seed(i)
    np.testing.assert_array_equal(step(*data).numpy(), want)


def assert_same_state(a: Run, b: Run) -> None:
    for x, y in zip(state_of(a), state_of(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_hyper_parameters_changed_by_the_user_are_read_at_replay(device):
    runs = twins("mlp", "adamw", device)
    step = tg.jit(runs[1].step)
    for i in range(8):
        for run in runs:
            group = run.opt.param_groups[0]
            group["lr"], group["weight_decay"] = 0.01 / (i + 1), 0.05 * i
            group["betas"] = (0.9 - 0.01 * i, 0.99)
        both(runs, step, device, i)
    assert_same_state(*runs)
    assert step.replays == 6


def test_load_state_dict_between_replays(device):
    runs = twins("mlp", "adam", device)
    step = tg.jit(runs[1].step)
    for i in range(4):
        both(runs, step, device, i)
    saved = make_run("mlp", "adam", device, seed=5)
    for i in range(3):
        saved.step(*batch("mlp", 4, 50 + i, device))
    for run in runs:  # weights copied in place, optimizer state replaced by new tensors
        run.model.load_state_dict(saved.model.state_dict())
        run.opt.load_state_dict(saved.opt.state_dict())
    for i in range(4, 9):
        both(runs, step, device, i)
    assert_same_state(*runs)
    assert step.recordings == 2  # the optimizer's new state: recorded again


def test_data_assignment_records_again(device):
    runs = twins("mlp", "sgd", device)
    step = tg.jit(runs[1].step)
    for i in range(4):
        both(runs, step, device, i)
    new = np.full((10, 16), 0.01, np.float32)
    for run in runs:
        run.model[3].weight.data = Tensor(new, device=device)
    for i in range(4, 8):
        both(runs, step, device, i)
    assert_same_state(*runs)
    assert step.recordings == 2


def test_updates_made_outside_the_step_are_seen(device):
    runs = twins("mlp", "sgd", device)
    step = tg.jit(runs[1].step)
    for i in range(6):
        both(runs, step, device, i)
        for run in runs:  # in place, between calls: the replay reads the arrays as they are
            with tg.no_grad():
                run.model[0].weight.mul_(0.5)
    assert_same_state(*runs)
    assert step.replays == 4


def test_manual_seed_gives_eager_dropout_masks(device):
    runs = twins("gpt", "adam", device)
    step = tg.jit(runs[1].step)
    for i in range(6):
        data = batch("gpt", 3, i, device)
        Tensor.manual_seed(100 + i % 2)
        want = runs[0].step(*data).numpy()
        Tensor.manual_seed(100 + i % 2)
        np.testing.assert_array_equal(step(*data).numpy(), want)
    assert step.replays == 4


def test_gradients_accumulate_without_zero_grad(device):
    """A step without zero_grad: replays add into the gradients the tensors hold."""
    w = Tensor(np.ones(3, np.float32), device=device, requires_grad=True)
    v = Tensor(np.ones(3, np.float32), device=device, requires_grad=True)

    def step(x):
        (w * x).sum().backward()
        return w.grad

    fn = tg.jit(step)
    for i in range(5):
        fn(Tensor(np.float32(i + 1), device=device))
        (v * Tensor(np.float32(i + 1), device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), v.grad.numpy())
    w.grad = None  # cleared outside: the replay's gradient no longer applies
    fn(Tensor(np.float32(1.0), device=device))
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3, np.float32))
    assert fn.recordings == 2


def test_optimizer_state_created_in_the_recorded_call_records_again(device):
    """The first call has no gradient for the head (frozen), the next ones have: Adam's
    state for it appears while recording; that recording is not kept, the next one is."""
    runs = twins("mlp", "adam", device)
    for run in runs:
        run.model[3].weight.requires_grad_(False)
    step = tg.jit(runs[1].step)
    both(runs, step, device, 0)
    for run in runs:
        run.model[3].weight.requires_grad_(True)
    for i in range(1, 7):
        both(runs, step, device, i)
    assert_same_state(*runs)
    assert (step.recordings, step.replays) == (1, 4)


def test_freezing_a_parameter_records_again(device):
    runs = twins("mlp", "sgd", device)
    step = tg.jit(runs[1].step)
    for i in range(8):
        if i == 4:
            for run in runs:
                run.model[0].bias.requires_grad_(False)
        both(runs, step, device, i)
    assert_same_state(*runs)
    assert step.recordings == 2
