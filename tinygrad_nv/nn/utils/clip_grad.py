"""Gradient utilities: clip_grad_norm_, clip_grad_value_."""

from __future__ import annotations

from collections.abc import Iterable

from tinygrad_nv._tensor import Tensor


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)), the total norm being the
    norm of the per-parameter norms (PyTorch's clamped coefficient); returns the total norm
    before clipping. All on the device: no host synchronisation. Each gradient becomes a new
    tensor (gradient arrays may be shared).

    >>> loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p for p in params if p.grad is not None]
    norm_type = float(norm_type)
    if norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got "
                         f"{norm_type}")
    if not grads:
        return Tensor(0.0)
    dtype = grads[0].grad.dtype
    norms = Tensor.stack([p.grad.detach().norm(norm_type).cast(dtype) for p in grads])
    total = norms.norm(norm_type)
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for p in grads:
        p.grad = p.grad.detach() * scale.cast(p.grad.dtype)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] (parameters without a
    gradient are skipped).

    >>> loss.backward(); nn.utils.clip_grad_value_(model.parameters(), 0.5); opt.step()
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in params:
        if p.grad is not None:  # a new gradient tensor: gradient arrays may be shared
            p.grad = p.grad.detach().clip(-clip_value, clip_value)
