"""Comparing our layers with PyTorch's: their state_dict loaded into ours, then outputs,
input gradients and parameter gradients compared in float64. Callers skip without torch."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_nv import Tensor


def load_from_torch(ours: Any, theirs: Any) -> None:
    """Load PyTorch's state_dict into ours: the same keys and shapes, values copied."""
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in state.items()}
    ours.load_state_dict({k: Tensor(v) for k, v in state.items()})


def compare_with_torch(ours: Any, theirs: Any, *inputs: Any, rtol: float = 1e-9,
                       atol: float = 1e-10, **kwargs: Any) -> None:
    """Call both (float arrays become float64 tensors that require grad; other arrays plain
    tensors; anything else as is); compare the first outputs, then the gradients of a random
    projection of them with respect to the float inputs and the parameters."""
    import torch

    def wrap(make, a):
        if not isinstance(a, np.ndarray):
            return a
        return make(a, requires_grad=True) if a.dtype.kind == "f" else make(a)

    mine, ref = [wrap(Tensor, a) for a in inputs], [wrap(torch.tensor, a) for a in inputs]
    out, expected = ours(*mine, **kwargs), theirs(*ref, **kwargs)
    out, expected = (out[0], expected[0]) if isinstance(out, tuple) else (out, expected)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    if not expected.requires_grad:
        return
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(mine, ref, strict=True):
        if isinstance(b, torch.Tensor) and b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol * 10,
                                       atol=atol * 10)
    theirs_params = dict(theirs.named_parameters()) if hasattr(theirs, "named_parameters") \
        else {}
    for name, p in (ours.named_parameters() if hasattr(ours, "named_parameters") else []):
        expected_grad = theirs_params[name].grad
        if expected_grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), expected_grad.numpy(), rtol=rtol * 10,
                                       atol=atol * 10, err_msg=name)
