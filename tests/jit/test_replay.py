"""A jitted training step replays eager's step bit for bit: the examples' MLP, CNN (batch norm,
dropout), transformer (dropout, GELU, causal attention) and LSTM, with SGD + momentum, Adam
with gradient clipping and a OneCycle schedule, and AdamW, over 20 steps; batch norm in
training and eval; on the `device` fixture's device (cpu, and emu in the emu run)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tinygrad_nv as tg
import tinygrad_nv.nn.functional as F
from tests.jit.models import MODELS, Run, batch, make_run, state_of
from tinygrad_nv import Tensor, no_grad

STEPS = 20
CONFIGS = {"sgd_momentum": dict(opt="sgd"),
           "adam_clip_onecycle": dict(opt="adam", clip=1.0, schedule=True),
           "adamw": dict(opt="adamw")}


def train(run: Run, step, kind: str, device: str, steps: int = STEPS) -> list[np.ndarray]:
    """The losses of `steps` calls of `step` (the schedule stepped after each)."""
    Tensor.manual_seed(7)  # the dropout masks: one stream for both runs
    losses = []
    for i in range(steps):
        losses.append(step(*batch(kind, 4, i, device)).numpy())
        if run.schedule is not None:
            run.schedule.step()
    return losses


def assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(MODELS))
def test_replay_equals_eager_bit_for_bit(device, kind, config):
    eager = make_run(kind, device=device, **CONFIGS[config])
    jitted = make_run(kind, device=device, **CONFIGS[config])
    step = tg.jit(jitted.step)
    assert_same(train(eager, eager.step, kind, device), train(jitted, step, kind, device))
    assert_same(state_of(eager), state_of(jitted))
    assert (step.recordings, step.replays) == (1, STEPS - 2)  # eager, record, then replays
    if config == "adam_clip_onecycle":  # the schedule's values reached every replay
        assert eager.opt.param_groups[0]["lr"] == jitted.opt.param_groups[0]["lr"]
        assert all(s["step"] == STEPS for s in jitted.opt.state.values())


def test_batch_norm_train_and_eval_alternate(device):
    """Training steps and evaluations of the CNN (batch norm, dropout) interleaved: each
    mode has its recording; eval reads the running statistics the training replays wrote."""
    runs = [make_run("cnn", "adam", device) for _ in range(2)]

    def evaluate(run: Run, x: Tensor) -> Tensor:
        run.model.eval()
        with no_grad():
            logits = run.model(x)
        run.model.train()
        return logits

    eval_step = tg.jit(lambda x: evaluate(runs[1], x))
    train_step = tg.jit(runs[1].step)
    Tensor.manual_seed(3)
    expected = [(runs[0].step(*batch("cnn", 4, i, device)).numpy(),
                 evaluate(runs[0], batch("cnn", 5, 100 + i, device)[0]).numpy())
                for i in range(6)]
    Tensor.manual_seed(3)
    got = [(train_step(*batch("cnn", 4, i, device)).numpy(),
            eval_step(batch("cnn", 5, 100 + i, device)[0]).numpy()) for i in range(6)]
    assert_same([a for pair in expected for a in pair], [a for pair in got for a in pair])
    assert_same(state_of(runs[0]), state_of(runs[1]))
    assert train_step.replays == eval_step.replays == 4


def test_model_eval_inside_the_signature(device):
    """Switching the model to eval between calls is a new signature (dropout off): the
    replay of training mode is not reused."""
    run = make_run("mlp", "sgd", device)
    step = tg.jit(run.step)
    x, y = batch("mlp", 4, 0, device)
    for _ in range(3):
        step(x, y)
    run.model.eval()
    eager = make_run("mlp", "sgd", device)
    eager.model.load_state_dict(run.model.state_dict())
    eager.opt.load_state_dict(run.opt.state_dict())
    eager.model.eval()
    for _ in range(3):
        np.testing.assert_array_equal(step(x, y).numpy(), eager.step(x, y).numpy())
    assert step.recordings == 2


def test_new_batch_size_records_again(device):
    run, eager = make_run("mlp", "adam", device), make_run("mlp", "adam", device)
    step = tg.jit(run.step)
    sizes = [4, 4, 4, 6, 6, 6, 4, 6]
    Tensor.manual_seed(1)
    got = [step(*batch("mlp", n, i, device)).numpy() for i, n in enumerate(sizes)]
    Tensor.manual_seed(1)
    want = [eager.step(*batch("mlp", n, i, device)).numpy() for i, n in enumerate(sizes)]
    assert_same(got, want)
    assert step.recordings == 2 and step.replays == 4


def test_results_are_new_tensors_without_graph(device):
    run = make_run("mlp", "sgd", device)
    step = tg.jit(run.step)
    x, y = batch("mlp", 4, 0, device)
    losses = [step(x, y) for _ in range(4)]
    assert len({id(loss) for loss in losses}) == 4
    assert all(loss.shape == () and not loss.requires_grad for loss in losses[2:])
    assert len({float(loss.item()) for loss in losses}) == 4  # each its own values


def test_structured_results_and_arguments(device):
    """Results keep fn's structure (tuples, dicts, numbers); tensors in nested arguments are
    inputs."""
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)

    @tg.jit
    def fn(batch: dict, scale: float):
        x, extra = batch["x"], batch["pair"]
        out = (x @ w) * scale + extra[0] - extra[1]
        return {"out": out, "sum": out.sum(), "scale": scale}, [x.mean()]

    def args(i):
        rng = np.random.default_rng(i)
        return {"x": Tensor(rng.standard_normal((3, 2)).astype(np.float32), device=device),
                "pair": (Tensor(np.float32(i), device=device), Tensor(2.0, device=device))}

    for i in range(5):
        (got, [mean]), scale = fn(args(i), 0.5), 0.5
        a = args(i)
        want = (a["x"] @ w) * scale + a["pair"][0] - a["pair"][1]
        np.testing.assert_array_equal(got["out"].numpy(), want.numpy())
        np.testing.assert_array_equal(got["sum"].numpy(), want.sum().numpy())
        np.testing.assert_array_equal(mean.numpy(), a["x"].mean().numpy())
        assert got["scale"] == 0.5
    assert fn.replays == 3
    fn(args(0), 0.25)  # another number: another signature
    assert fn.recordings == 1 and fn.replays == 3


def test_numpy_arguments_are_read_at_every_replay(device):
    w = Tensor(np.eye(3, dtype=np.float32), device=device, requires_grad=True)

    @tg.jit
    def fn(x: np.ndarray):
        return F.relu(Tensor(x, device=device) @ w).sum()

    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((2, 3)).astype(np.float32)
        np.testing.assert_array_equal(fn(x).numpy(), np.maximum(x, 0).sum())
    assert fn.replays == 3


def test_replays_free_intermediates_as_eager_does():
    """A replay drops each array after its last use (as eager's engine frees them), so a chain
    of eight 4 MiB intermediates peaks at a few of them, not at all eight."""
    x = Tensor(np.ones(1 << 20, np.float32), device="cpu")

    def chain(x):
        for i in range(8):
            x = x * 1.5 + i
        return x.sum()

    fn = tg.jit(chain)
    for _ in range(3):
        fn(x)
    assert fn.replays == 1
    tracemalloc.start()
    try:
        fn(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fn.replays == 2 and peak < 4 * 4 * 2**20
