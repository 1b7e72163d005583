"""L-BFGS as PyTorch's `torch.optim.LBFGS` (after minFunc): each `step(closure)` runs up to
max_iter quasi-Newton iterations on all parameters as one flat vector, with a fixed step or
the strong-Wolfe line search. The closure re-evaluates the loss and its gradients.

It reads the loss and dot products on the host at every iteration (as PyTorch does), so on a
GPU each iteration waits for the device.

>>> opt = LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
>>> def closure():
...     opt.zero_grad()
...     loss = loss_fn(model(x), y)
...     loss.backward()
...     return loss
>>> opt.step(closure)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import enable_grad
from tinygrad_nv.optim.optimizer import Optimizer, Params

# the scalar state of the line search is float64 (0-d tensors in PyTorch): a division by zero
# gives inf or nan, not an exception
_SCALAR = np.float64


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped
    to `bounds` (default: between x1 and x2); their middle if the cubic has none."""
    x1, f1, g1, x2, f2, g2 = map(_SCALAR, (x1, f1, g1, x2, f2, g2))
    low, high = bounds if bounds is not None else (x1, x2) if x1 <= x2 else (x2, x1)
    with np.errstate(all="ignore"):
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1**2 - g1 * g2
        if not d2_square >= 0:
            return float((low + high) / 2.0)
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return float(min(max(min_pos, low), high))


def _strong_wolfe(obj_func: Callable, t: float, d: Any, f: float, g: Any, gtd: float,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Any, float, int]:
    """A step t along d that satisfies the strong Wolfe conditions (bracketing, then zooming
    with cubic interpolation), as PyTorch's: (loss, flat gradient, t, evaluations)."""
    d_norm = float(abs(d).max())
    f_new, g_new = obj_func(t, d)
    evals, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        # extrapolate, between 1.01 t and 10 t
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                          bounds=(t + 0.01 * (t - t_prev), t * 10))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = obj_func(t, d)
        evals, gtd_new, ls_iter = evals + 1, float(g_new @ d), ls_iter + 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the conditions
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1],
                               bracket_f[1], bracket_gtd[1])
        # stay at least 10% of the bracket away from its ends, unless the last step was too
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) \
                    else min(bracket) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = obj_func(t, d)
        evals, gtd_new, ls_iter = evals + 1, float(g_new @ d), ls_iter + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's options: lr (the step along the quasi-Newton direction; the very
    first is scaled by min(1, 1 / |g|_1)), max_iter iterations and max_eval closure calls per
    step (default max_iter * 5 // 4), stop when max |g| <= tolerance_grad or the step or the
    loss changes by less than tolerance_change, history_size curvature pairs,
    line_search_fn None or "strong_wolfe". One parameter group only.

    >>> opt = LBFGS([x], lr=1, history_size=10, line_search_fn="strong_wolfe")
    >>> opt.step(closure)
    """

    def __init__(self, params: Params, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        super().__init__(params, dict(
            lr=lr, max_iter=max_iter, max_eval=max_iter * 5 // 4 if max_eval is None else max_eval,
            tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
            history_size=history_size, line_search_fn=line_search_fn))
        self._one_group()

    def _one_group(self) -> None:
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to max_iter iterations; `closure` (zero_grad, loss, backward, return loss)
        is called under enable_grad. Returns the loss of the first evaluation."""
        self._one_group()
        params = [p for p in self.param_groups[0]["params"] if p.requires_grad]
        if not params:  # every parameter frozen
            with enable_grad():
                return closure()
        with params[0].backend.on_device():  # the flat vectors' array work on their device
            return self._step(closure, params)

    def _step(self, closure: Callable[[], Any], params: list[Tensor]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state.setdefault(group["params"][0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        def evaluate() -> Any:
            with enable_grad():
                return closure()

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = _flat_grad(params)
        if float(abs(flat_grad).max()) <= tolerance_grad:
            return orig_loss
        arrays = {k: v._data for k, v in state.items() if isinstance(v, Tensor)}
        d, prev_flat_grad = arrays.get("d"), arrays.get("prev_flat_grad")
        old_dirs = [v._data for v in state.get("old_dirs", [])]
        old_stps = [v._data for v in state.get("old_stps", [])]
        ro, h_diag = list(state.get("ro", [])), state.get("H_diag")
        t, prev_loss = state.get("t"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0
            else:
                y, s = flat_grad - prev_flat_grad, d * t
                ys = float(y @ s)
                if ys > 1e-10:  # a curvature pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        del old_dirs[0], old_stps[0], ro[0]
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, h_diag)
            prev_flat_grad, prev_loss = flat_grad, loss
            t = (min(1.0, 1.0 / float(abs(flat_grad).sum())) if state["n_iter"] == 1 else 1.0) * lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:  # not a descent direction
                break
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                obj_func = partial(_directional_evaluate, params, evaluate,
                                   [p._data.copy() for p in params])
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                _add_grad(params, t, d)
                opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                _add_grad(params, t, d)
                ls_func_evals = 0
                if n_iter != max_iter:  # the last iteration's loss is the next step's first
                    loss = float(evaluate())
                    flat_grad = _flat_grad(params)
                    opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if (n_iter == max_iter or current_evals >= max_eval or opt_cond
                    or float(abs(d * t).max()) <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break
        like = params[0]._like
        state.update(d=like(d), t=float(t), old_dirs=[like(a) for a in old_dirs],
                     old_stps=[like(a) for a in old_stps], ro=ro, H_diag=float(h_diag),
                     prev_flat_grad=like(prev_flat_grad), prev_loss=prev_loss)
        return orig_loss


def _flat_grad(params: list[Tensor]) -> Any:
    """Every parameter's gradient (zeros where it has none) as one flat array."""
    xp = params[0].backend.xp
    return xp.concatenate([xp.zeros(p.numel(), p._data.dtype) if p.grad is None
                           else p.grad._data.reshape(-1) for p in params])


def _add_grad(params: list[Tensor], step: float, direction: Any) -> None:
    """p += step * direction, the flat direction cut into the parameters' shapes."""
    offset = 0
    for p in params:
        n = p.numel()
        p._data += step * direction[offset:offset + n].reshape(p.shape)
        p._bump_version()
        offset += n


def _directional_evaluate(params: list[Tensor], evaluate: Callable[[], Any], x: list[Any],
                          step: float, direction: Any) -> tuple[float, Any]:
    """The loss and flat gradient at x + step * direction; the parameters are reset to x."""
    _add_grad(params, step, direction)
    loss = float(evaluate())
    flat_grad = _flat_grad(params)
    for p, array in zip(params, x, strict=True):
        p._data[...] = array
        p._bump_version()
    return loss, flat_grad


def _two_loop(flat_grad: Any, old_dirs: list, old_stps: list, ro: list, h_diag: float) -> Any:
    """The L-BFGS direction -H g: the two-loop recursion over the curvature pairs (y, s) with
    the initial Hessian approximation h_diag * I."""
    q, al = -flat_grad, [0.0] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = float(old_stps[i] @ q) * ro[i]
        q -= al[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        be_i = float(old_dirs[i] @ r) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r
