"""Ops whose backward reads their own output (or, as PyTorch's, is defined from it) guard it:
an in-place edit of the output under no_grad before backward raises RuntimeError naming the
op, as PyTorch does, instead of a silent (possibly wrong) gradient."""

import numpy as np
import pytest

from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.ops.attention import attention_softmax

MODIFIED = "modified by an inplace operation"

GUARDED = {  # name: (the op, the Function named in the error)
    "sigmoid": (lambda x: x.sigmoid(), "Sigmoid"),
    "tanh": (lambda x: x.tanh(), "Tanh"),
    "relu": (lambda x: x.relu(), "Relu"),
    "amax": (lambda x: x.amax(1), "Max"),
    "amin keepdim": (lambda x: x.amin(0, keepdim=True), "Max"),
    "max": (lambda x: x.max(), "Max"),
    "min": (lambda x: x.min(), "Max"),  # min(dim) is a gather: it reads indices only
    "exp": (lambda x: x.exp(), "Exp"),
    "exp2": (lambda x: x.exp2(), "Exp2"),
    "expm1": (lambda x: x.expm1(), "Expm1"),
    "sqrt": (lambda x: x.sqrt(), "Sqrt"),
    "rsqrt": (lambda x: x.rsqrt(), "Reciprocal"),
    "reciprocal": (lambda x: x.reciprocal(), "Reciprocal"),
    "tan": (lambda x: x.tan(), "Tan"),
    "softmax": (lambda x: x.softmax(-1), "Softmax"),
    "log_softmax": (lambda x: x.log_softmax(0), "Softmax"),
    "softmin": (lambda x: x.softmin(-1), "Softmax"),
    "norm": (lambda x: x.norm(dim=1), "Norm"),
    "norm inf": (lambda x: x.norm(float("inf")), "Norm"),
    "std": (lambda x: x.std(0), "StdRoot"),
    "logcumsumexp": (lambda x: x.logcumsumexp(1), "LogCumSumExp"),
    "hypot": (lambda x: x.hypot(x * 2), "Hypot"),
    "copysign": (lambda x: x.copysign(-x), "CopySign"),
    "attention_softmax": (lambda x: attention_softmax(x), "AttentionSoftmax"),
}


@pytest.mark.parametrize("name", list(GUARDED))
def test_in_place_edit_of_the_output_before_backward_raises(name, device):
    fn, op = GUARDED[name]
    x = Tensor(np.array([[0.5, 1.0, 2.0], [0.25, 1.5, 0.75]]), device=device,
               requires_grad=True)
    out = fn(x)
    loss = out.sum()  # Sum saves nothing: the output's own op is the one that needs it
    with no_grad():
        out.mul_(2)
    with pytest.raises(RuntimeError, match=f"{op}.backward: .*{MODIFIED}.*output of {op}"):
        loss.backward()


def test_an_edit_through_a_view_of_the_output_raises(device):
    """amax over an axis gives a view of the kept maxima: an edit through it is caught too."""
    x = Tensor(np.array([[1.0, 3.0], [2.0, 0.5]]), device=device, requires_grad=True)
    out = x.amax(1)
    loss = out.sum()
    with no_grad():
        out.reshape(2, 1)[0, 0] = 0.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


@pytest.mark.parametrize("name", list(GUARDED))
def test_without_edits_the_gradient_is_unchanged(name, device):
    """The guard costs nothing when nobody edits: gradients as before (those of torch)."""
    torch = pytest.importorskip("torch")
    fn, _ = GUARDED[name]
    a = np.array([[0.5, 1.0, 2.0], [0.25, 1.5, 0.75]])
    x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    (fn(x) ** 2).sum().backward()
    torch_fn = {"max": lambda t: t.max(), "min": lambda t: t.min(),
                "log_softmax": lambda t: t.log_softmax(0), "softmin": lambda t: (-t).softmax(-1),
                "norm inf": lambda t: t.norm(float("inf")),
                "attention_softmax": lambda t: t.softmax(-1)}.get(name, fn)
    (torch_fn(tx) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
