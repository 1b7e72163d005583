"""The element-wise optimizers NAdam, RAdam, Adamax, Adadelta, ASGD and Adam's amsgrad variant as
kernel entry points, shared by both kernel objects: each takes its coefficient record
(backend/kernels.py, computed on the host in float64, as PyTorch computes its Python scalars)
and hands it to `_optim_step` (one tensor) or `_optim_multi` (a parameter group). Here those run
the NumPy element rules below, which are the reference of kernels/optim.cu; `CudaKernels`
replaces them by launches of `<opt>_step_<t>` / `<opt>_multi_<t>`.

>>> coef = NadamCoef.of(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, mu=0.9,
...                     mu_next=0.9, mu_product=0.9, step=1, decoupled=False)
>>> kernels.nadam_multi(params, grads, exp_avgs, exp_avg_sqs, coef)
"""

from __future__ import annotations

from tinygrad_nv.backend.kernels import (
    AdadeltaCoef,
    AdamaxCoef,
    AmsgradCoef,
    AsgdCoef,
    Coefficients,
    NadamCoef,
    RadamCoef,
)


class OptimizerKernels:
    """`<opt>_multi(params, grads, *state lists, coef)` for NAdam, RAdam, Adamax, Adadelta,
    ASGD and amsgrad: every tensor of a group updated in place (one launch per storage dtype
    on a GPU). The NumPy `_optim_step` / `_optim_multi` need `self._update` (NumpyKernels)."""

    def nadam_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                    coef: NadamCoef) -> None:
        self._optim_multi("nadam", params, grads, [exp_avgs, exp_avg_sqs], coef)

    def radam_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                    coef: RadamCoef) -> None:
        self._optim_multi("radam", params, grads, [exp_avgs, exp_avg_sqs], coef)

    def adamax_multi(self, params: list, grads: list, exp_avgs: list, exp_infs: list,
                     coef: AdamaxCoef) -> None:
        self._optim_multi("adamax", params, grads, [exp_avgs, exp_infs], coef)

    def adadelta_multi(self, params: list, grads: list, square_avgs: list, acc_deltas: list,
                       coef: AdadeltaCoef) -> None:
        self._optim_multi("adadelta", params, grads, [square_avgs, acc_deltas], coef)

    def asgd_multi(self, params: list, grads: list, axs: list, coef: AsgdCoef) -> None:
        self._optim_multi("asgd", params, grads, [axs], coef)

    def amsgrad_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                      max_exp_avg_sqs: list, coef: AmsgradCoef) -> None:
        self._optim_multi("amsgrad", params, grads, [exp_avgs, exp_avg_sqs, max_exp_avg_sqs],
                          coef)

    def _optim_step(self, opt: str, param, grad, state: list, coef: Coefficients) -> None:
        self._update(RULES[opt], param, grad, state, coef)

    def _optim_multi(self, opt: str, params: list, grads: list, states: list,
                     coef: Coefficients) -> None:
        for k, (param, grad) in enumerate(zip(params, grads, strict=True)):
            self._optim_step(opt, param, grad, [s[k] for s in states], coef)


# The element updates of kernels/optim.cu, operation for operation (each rounds once). Every
# rule returns the new parameter and state values (new arrays: `_update` writes them back).
def _nadam_update(xp, p, g, state, c):
    beta1, beta2, omb1, omb2, eps, weight_decay, decay, bias2, grad_step, avg_step, decoupled = c
    m, v = state
    if decoupled:
        p = p * decay
    elif weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + omb1 * g
    v = beta2 * v + omb2 * g * g
    denom = xp.sqrt(v / bias2) + eps
    p = p - grad_step * (g / denom)
    return p - avg_step * (m / denom), [m, v]


def _radam_update(xp, p, g, state, c):
    (lr, beta1, beta2, omb1, omb2, eps, weight_decay, decay, bias1, sqrt_bias2, rect, rectify,
     decoupled) = c
    m, v = state
    if decoupled:
        p = p * decay
    elif weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + omb1 * g
    v = beta2 * v + omb2 * g * g
    step = m / bias1 * lr
    if rectify:
        step = step * (sqrt_bias2 / (xp.sqrt(v) + eps)) * rect
    return p - step, [m, v]


def _adamax_update(xp, p, g, state, c):
    clr, beta1, omb1, beta2, eps, weight_decay = c
    m, u = state
    if weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + omb1 * g
    u = xp.maximum(beta2 * u, xp.abs(g) + eps)  # NaN propagates, as torch.maximum
    return p - clr * (m / u), [m, u]


def _adadelta_update(xp, p, g, state, c):
    lr, rho, omr, eps, weight_decay = c
    square_avg, acc_delta = state
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = rho * square_avg + omr * g * g
    delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * g
    acc_delta = rho * acc_delta + omr * delta * delta
    return p - lr * delta, [square_avg, acc_delta]


def _asgd_update(xp, p, g, state, c):
    eta, decay, weight_decay, mu, average = c
    (ax,) = state
    if weight_decay != 0:
        g = g + weight_decay * p
    p = p * decay
    p = p - eta * g
    return p, [ax + (p - ax) * mu if average else p]


def _amsgrad_update(xp, p, g, state, c):
    beta1, omb1, beta2, omb2, eps, weight_decay, decay, sqrt_bias2, step_size, decoupled = c
    m, v, v_max = state
    if decoupled:
        p = p * decay
    elif weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + omb1 * g
    v = beta2 * v + omb2 * g * g
    v_max = xp.maximum(v_max, v)  # NaN propagates, as torch.maximum
    return p - step_size * m / (xp.sqrt(v_max) / sqrt_bias2 + eps), [m, v, v_max]


RULES = {"nadam": _nadam_update, "radam": _radam_update, "adamax": _adamax_update,
         "adadelta": _adadelta_update, "asgd": _asgd_update, "amsgrad": _amsgrad_update}
