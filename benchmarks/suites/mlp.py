"""mlp: one training step of an MLP 784-256-128-10 (ReLU, cross-entropy, float32) with SGD and
with Adam at batch 128 and 1024, eager and jitted (tinygrad_nv.jit), against the same step
written by hand in NumPy (CuPy on a GPU) and PyTorch on the same device."""

from __future__ import annotations

import numpy as np

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    Target,
    call_all,
    fault_rows,
    jit_rows,
    time_round_robin,
    torch_or_reason,
    torch_sync,
    training_step,
    with_jit,
)
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend

NAME = "mlp"
LR, BETAS, EPS = 1e-4, (0.9, 0.999), 1e-8  # small steps: no collapse to denormals


def widths(settings: Settings) -> tuple[int, ...]:
    return settings.size((784, 256, 128, 10), (784, 256, 128, 10), (12, 8, 6, 4))


class HandWrittenMLP:
    """The same network, loss and update rules written out on raw arrays (`xp`), in place
    wherever NumPy allows: the baseline with no framework in the way."""

    def __init__(self, params: list, xp, optimizer: str):
        self.xp, self.params, self.optimizer, self.t = xp, params, optimizer, 0
        self.m = [xp.zeros_like(p) for p in params]
        self.v = [xp.zeros_like(p) for p in params]

    def loss_and_grads(self, x, y) -> tuple[float, list]:
        xp = self.xp
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = x @ w1.T
        h1 += b1
        xp.maximum(h1, 0, out=h1)
        h2 = h1 @ w2.T
        h2 += b2
        xp.maximum(h2, 0, out=h2)
        logits = h2 @ w3.T
        logits += b3
        logits -= logits.max(axis=1, keepdims=True)
        probs = xp.exp(logits)
        sums = probs.sum(axis=1, keepdims=True)
        rows = xp.arange(len(y))
        loss = (xp.log(sums[:, 0]) - logits[rows, y]).mean()
        probs /= sums
        probs[rows, y] -= 1
        probs /= len(y)  # d loss / d logits
        d2 = probs @ w3
        d2 *= h2 > 0
        d1 = d2 @ w2
        d1 *= h1 > 0
        grads = [d1.T @ x, d1.sum(axis=0), d2.T @ h1, d2.sum(axis=0), probs.T @ h2,
                 probs.sum(axis=0)]
        return loss, grads

    def step(self, x, y):
        loss, grads = self.loss_and_grads(x, y)
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                g *= LR
                p -= g
            return loss
        self.t += 1
        b1, b2 = BETAS
        correction1, correction2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):  # PyTorch's formula
            m *= b1
            m += (1 - b1) * g
            v *= b2
            g *= g
            g *= 1 - b2
            v += g
            denom = self.xp.sqrt(v)
            denom /= correction2 ** 0.5
            denom += EPS
            p -= (LR / correction1) * m / denom
        return loss


def build(settings: Settings, optimizer: str, batch: int, seed: int = 0):
    """(our step, the hand-written step, (x, y) on the host, our model) from one set of
    weights; raises AssertionError unless the two give the same gradients and update."""
    sizes = widths(settings)
    Tensor.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    model = nn.Sequential(*layers).to(settings.device)
    opt = (optim.SGD(model.parameters(), lr=LR) if optimizer == "sgd"
           else optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS))
    rng = np.random.default_rng(seed)
    x_host = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y_host = rng.integers(0, sizes[-1], batch)
    backend = get_backend(settings.device)
    x, y = Tensor(x_host, device=settings.device), Tensor(y_host, device=settings.device)
    x_raw, y_raw = backend.from_host(x_host), backend.from_host(y_host)
    hand = HandWrittenMLP([backend.from_host(p.numpy().copy()) for p in model.parameters()],
                          backend.xp, optimizer)  # copies: the two must not share weights

    ours = training_step(model, opt, x, y)

    check_equal(model, ours, hand, x_raw, y_raw, backend)
    return ours, lambda: hand.step(x_raw, y_raw), (x_host, y_host), model


def check_equal(model, ours, hand: HandWrittenMLP, x, y, backend) -> None:
    """The hand-written step computes what ours computes: same loss, gradients and update."""
    loss, grads = hand.loss_and_grads(x, y)
    ours_loss = float(ours().item())
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_allclose(p.grad.numpy(), backend.to_host(g), rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(ours_loss, float(loss), rtol=1e-5)
    hand.step(x, y)
    for p, q in zip(model.parameters(), hand.params):
        np.testing.assert_allclose(p.numpy(), backend.to_host(q), rtol=1e-4, atol=1e-6)


def torch_step(torch, torch_device: str, model, optimizer: str, data):
    """PyTorch's step for the same network with our model's current weights."""
    tnn = torch.nn
    layers = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            t_layer = tnn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            with torch.no_grad():
                t_layer.weight.copy_(torch.tensor(layer.weight.numpy()))
                t_layer.bias.copy_(torch.tensor(layer.bias.numpy()))
            layers.append(t_layer)
        else:
            layers.append(tnn.ReLU())
    t_model = tnn.Sequential(*layers).to(torch_device)
    t_opt = (torch.optim.SGD(t_model.parameters(), lr=LR) if optimizer == "sgd"
             else torch.optim.Adam(t_model.parameters(), lr=LR, betas=BETAS, eps=EPS))
    x, y = (torch.tensor(a, device=torch_device) for a in data)

    def step():
        t_opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(t_model(x), y)
        loss.backward()
        t_opt.step()
        return loss
    return step


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    raw = f"hand-written {'cupy' if settings.gpu else 'numpy'}"
    torch, torch_device = torch_or_reason(settings.device)
    syncs = [backend.synchronize]
    if torch is None:
        suite.notes.append(torch_device)
    else:
        syncs.append(torch_sync(torch, torch_device))

    sync = call_all(syncs)

    samples = settings.samples(50, 8)
    for optimizer in ("sgd", "adam"):
        for batch in settings.size((128, 1024), (128, 1024), (8,)):
            settings.progress(f"mlp: {optimizer} batch {batch}")
            ours, hand, data, model = build(settings, optimizer, batch)
            fns = {OURS: ours, raw: hand}
            if torch is not None:
                fns["torch"] = torch_step(torch, torch_device, model, optimizer, data)
            fns = with_jit(fns)
            stats = time_round_robin(fns, settings, samples, sync, warmup=3)
            case = f"{'SGD' if optimizer == 'sgd' else 'Adam'} batch {batch}"
            eager, jitted = jit_rows(case, stats, fns, [Target(raw, 1.0), Target("torch", 0.75)])
            suite.rows.append(Row(case, "ms", eager, [Target(raw, 1.10), Target("torch", 0.8)]))
            suite.rows += jitted
            suite.rows += fault_rows(fns, settings, f"step, {case}", sync)
    suite.notes.append(f"{raw} step checked against {OURS}'s at start-up: same loss, "
                       "gradients and update (allclose)")
    return suite
