"""LBFGS on an extended Rosenbrock function split over two parameters: against a NumPy
transcription of the algorithm (fixed step), convergence with the strong-Wolfe line search,
PyTorch's numbers for both (where torch is installed), state_dict round trips, bad input."""

import numpy as np
import pytest

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, load, no_grad, save

X0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.5, -0.3])


def rosenbrock(x):
    """sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, for NumPy arrays, Tensors and torch."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def lbfgs_ref(x, steps, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
              tolerance_change=1e-9, history_size=100):
    """L-BFGS with a fixed step (line_search_fn=None), as PyTorch documents and runs it: the
    two-loop recursion over the last history_size pairs with positive curvature, the first
    step scaled by min(1, 1 / |g|_1), and its stopping rules."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    total, dirs, stps, ro, d, t, prev_g, h = 0, [], [], [], None, None, None, 1.0
    for _ in range(steps):
        loss, g, evals = rosenbrock(x), rosenbrock_grad(x), 1
        if abs(g).max() <= tolerance_grad:
            continue
        for n_iter in range(1, max_iter + 1):
            total += 1
            if total == 1:
                d = -g
            else:
                y, s = g - prev_g, d * t
                if y @ s > 1e-10:
                    if len(dirs) == history_size:
                        del dirs[0], stps[0], ro[0]
                    dirs, stps, ro, h = dirs + [y], stps + [s], ro + [1 / (y @ s)], \
                        (y @ s) / (y @ y)
                q, al = -g, [0.0] * len(dirs)
                for i in reversed(range(len(dirs))):
                    al[i] = (stps[i] @ q) * ro[i]
                    q = q - al[i] * dirs[i]
                d = q * h
                for i in range(len(dirs)):
                    d = d + (al[i] - (dirs[i] @ d) * ro[i]) * stps[i]
            prev_g, prev_loss = g, loss
            t = min(1.0, 1.0 / abs(g).sum()) * lr if total == 1 else lr
            if g @ d > -tolerance_change:
                break
            x = x + t * d
            if n_iter == max_iter:
                break
            loss, g, evals = rosenbrock(x), rosenbrock_grad(x), evals + 1
            if (evals >= max_eval or abs(g).max() <= tolerance_grad
                    or abs(d * t).max() <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break
    return x


def setup(device=None, **kwargs):
    """Two parameters holding the six coordinates, the optimizer and its closure."""
    params = [Tensor(X0[:2].copy(), device=device, requires_grad=True),
              Tensor(X0[2:].copy(), device=device, requires_grad=True)]
    opt = optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(Tensor.cat(*params))
        loss.backward()
        return loss

    return params, opt, closure


def coordinates(params):
    return np.concatenate([p.numpy() for p in params])


# the fixed step amplifies rounding differences about 1000-fold every 20 iterations here
FIXED_STEP = [(2, {}), (4, dict(history_size=2, max_iter=6)),
              (3, dict(lr=0.5, max_eval=7, tolerance_change=1e-4)), (2, dict(max_iter=1))]


@pytest.mark.parametrize("steps,kwargs", FIXED_STEP, ids=[f"fixed{i}" for i in range(4)])
def test_fixed_step_matches_transcription(steps, kwargs, device):
    params, opt, closure = setup(device, **kwargs)
    for _ in range(steps):
        opt.step(closure)
    np.testing.assert_allclose(coordinates(params), lbfgs_ref(X0, steps, **kwargs),
                               rtol=1e-9, atol=1e-12)


def test_strong_wolfe_converges_within_budget():
    params, opt, closure = setup(line_search_fn="strong_wolfe", history_size=5)
    losses, evals = [], 0
    for _ in range(4):
        losses.append(opt.step(closure).item())
        state = opt.state[params[0]]
        assert state["func_evals"] - evals <= 25  # max_eval = 20 * 5 // 4
        evals = state["func_evals"]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 1e-9
    np.testing.assert_allclose(coordinates(params), np.ones(6), atol=1e-5)


def test_closure_runs_with_grad_inside_no_grad_and_loss_is_returned():
    params, opt, closure = setup(max_iter=3)
    calls = []

    def counted():
        calls.append(1)
        return closure()

    with no_grad():
        loss = opt.step(counted)
    assert loss.item() == pytest.approx(rosenbrock(X0))
    assert len(calls) == opt.state[params[0]]["func_evals"] == 3  # max_iter: no last eval


def test_stops_at_a_stationary_point_and_skips_frozen_parameters():
    x = Tensor(np.ones(6), requires_grad=True)
    frozen = Tensor(np.full(2, 5.0))
    opt = optim.LBFGS([x, frozen])

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x) + (frozen * frozen).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 50.0
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}  # max |g| <= tolerance_grad
    np.testing.assert_array_equal(x.numpy(), 1.0)
    np.testing.assert_array_equal(frozen.numpy(), 5.0)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip_through_a_file(line_search_fn, tmp_path):
    kwargs = dict(line_search_fn=line_search_fn, history_size=3, max_iter=4)
    whole, opt_whole, closure_whole = setup(**kwargs)
    part, opt_part, closure_part = setup(**kwargs)
    for _ in range(2):
        opt_whole.step(closure_whole)
        opt_part.step(closure_part)
    state = opt_part.state_dict()
    assert len(state["state"][0]["old_dirs"]) == 3 and state["param_groups"][0]["max_eval"] == 5
    save(state, tmp_path / "lbfgs.safetensors")
    resumed, opt_resumed, closure_resumed = setup(lr=0.1)
    for p, q in zip(resumed, part, strict=True):
        p.data = q.detach().clone()
    opt_resumed.load_state_dict(load(tmp_path / "lbfgs.safetensors"))
    assert opt_resumed.param_groups[0]["line_search_fn"] == line_search_fn
    for _ in range(2):
        opt_whole.step(closure_whole)
        opt_resumed.step(closure_resumed)
    np.testing.assert_array_equal(coordinates(resumed), coordinates(whole))
    assert opt_resumed.state[resumed[0]]["n_iter"] == opt_whole.state[whole[0]]["n_iter"]


def test_bad_input():
    w = [Tensor(np.ones(2), requires_grad=True)]
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": w}, {"params": [Tensor(np.ones(2), requires_grad=True)]}])
    with pytest.raises(ValueError, match="LBFGS: invalid lr=-1"):
        optim.LBFGS(w, lr=-1)
    opt = optim.LBFGS(w, line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = (w[0] * w[0]).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    with pytest.raises(TypeError):
        opt.step()


LBFGS_SETTINGS = [dict(), dict(history_size=2, max_iter=6), dict(lr=0.5, tolerance_change=1e-4),
                  dict(line_search_fn="strong_wolfe"),
                  dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7, max_eval=9),
                  dict(line_search_fn="strong_wolfe", lr=0.5, tolerance_grad=1e-3)]


@pytest.mark.parametrize("kwargs", LBFGS_SETTINGS, ids=[f"s{i}" for i in range(6)])
def test_against_torch(kwargs):
    """Parameters, losses, evaluation and iteration counts as torch.optim.LBFGS."""
    torch = pytest.importorskip("torch")
    params, opt, closure = setup(**kwargs)
    theirs = [torch.tensor(X0[:2].copy(), requires_grad=True),
              torch.tensor(X0[2:].copy(), requires_grad=True)]
    ref_opt = torch.optim.LBFGS(theirs, **kwargs)

    def ref_closure():
        ref_opt.zero_grad()
        loss = rosenbrock(torch.cat(theirs))
        loss.backward()
        return loss

    for _ in range(2):  # more fixed steps amplify rounding differences past the tolerance
        loss, ref_loss = opt.step(closure), ref_opt.step(ref_closure)
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    np.testing.assert_allclose(coordinates(params), torch.cat(theirs).detach().numpy(),
                               rtol=1e-9, atol=1e-10)
    ours, state = opt.state[params[0]], ref_opt.state[theirs[0]]
    assert (ours["func_evals"], ours["n_iter"]) == (state["func_evals"], state["n_iter"])
    assert len(ours["old_dirs"]) == len(state["old_dirs"])
