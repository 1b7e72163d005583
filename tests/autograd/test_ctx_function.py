"""Custom Functions in PyTorch's static-method form: forward(ctx, ...), backward(ctx, ...),
saved tensors with version checks, several outputs, non-differentiable and dirty outputs,
double backward, PyTorch's errors; and our instance-method form beside it."""

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv as tg
from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.function import once_differentiable
from tinygrad_nv.testing import GradcheckError, gradcheck, gradgradcheck


class Exp(Function):
    """exp, saving its output; backward in Tensor ops, so twice differentiable."""

    @staticmethod
    def forward(ctx, x):
        out = x.exp()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class ScaledPower(Function):
    """scale * x ** p with a non-Tensor exponent, a keyword, and a ctx attribute."""

    @staticmethod
    def forward(ctx, x, p, *, scale=1.0):
        ctx.save_for_backward(x)
        ctx.p, ctx.scale = p, scale
        return x ** p * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.scale * ctx.p * x ** (ctx.p - 1), None


class SumAndProduct(Function):
    """Two differentiable outputs from two inputs, and a Python number passed through."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b, 7

    @staticmethod
    def backward(ctx, g_sum, g_product, g_number):
        assert g_number is None
        a, b = ctx.saved_tensors
        return g_sum + g_product * b, g_sum + g_product * a


def test_forward_backward_and_ctx_attributes(device):
    x = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = ScaledPower.apply(x, 3, scale=2.0)
    np.testing.assert_allclose(y.numpy(), 2 * np.array([1.0, 8.0, 27.0]))
    assert y.requires_grad and not y.is_leaf and y._ctx.name == "ScaledPowerBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 4.0, 9.0]))


def test_needs_input_grad_and_grad_modes():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["forward"] = tg.is_grad_enabled()
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            seen["needs"], seen["backward"] = ctx.needs_input_grad, tg.is_grad_enabled()
            return g, None, None

    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0])
    Probe.apply(a, b, 3).sum().backward()
    assert seen == {"forward": False, "needs": (True, False, False), "backward": False}
    assert not Probe.apply(b, b, 1).requires_grad  # no input requires grad: no graph
    with no_grad():
        assert not Probe.apply(a, b, 1).requires_grad
    out = Probe.apply(a, b, 1)
    (ga,) = tg.grad(out.sum(), [a], create_graph=True)
    assert seen["backward"] is True  # recording under create_graph


@given(st.lists(st.floats(-2, 2), min_size=1, max_size=5))
def test_gradcheck_and_gradgradcheck(values):
    x = Tensor(np.array(values), requires_grad=True)
    assert gradcheck(Exp.apply, [x]) and gradgradcheck(Exp.apply, [x])
    assert gradcheck(lambda t: ScaledPower.apply(t, 3, scale=0.5), [x])
    assert gradgradcheck(lambda t: ScaledPower.apply(t, 3, scale=0.5), [x])


def test_several_outputs_get_one_backward_call_with_all_gradients(device):
    rng = np.random.default_rng(0)
    a, b = (Tensor(rng.standard_normal(4), device=device, requires_grad=True)
            for _ in range(2))
    total, product, number = SumAndProduct.apply(a, b)
    assert number == 7 and total.requires_grad and product.requires_grad
    (3 * total + product * product).sum().backward()
    g_product = 2 * (a.numpy() * b.numpy())
    np.testing.assert_allclose(a.grad.numpy(), 3 + g_product * b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), 3 + g_product * a.numpy(), rtol=1e-6)
    assert gradcheck(lambda x, y: SumAndProduct.apply(x, y)[:2], [a, b])
    assert gradgradcheck(lambda x, y: SumAndProduct.apply(x, y)[:2], [a, b])


class SinCos(Function):
    """Two outputs, both saved: an output dropped by the caller is rebuilt for backward."""

    @staticmethod
    def forward(ctx, x):
        s, c = x.sin(), x.cos()
        ctx.save_for_backward(s, c)
        return s, c

    @staticmethod
    def backward(ctx, gs, gc):
        s, c = ctx.saved_tensors
        return gs * c - gc * s


def test_saved_outputs_survive_their_tensors(device):
    x = Tensor([0.3, -1.2, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    cos = SinCos.apply(x)[1]  # the sine output is gone; backward rebuilds it
    (g,) = tg.grad(cos.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), -np.sin(x.numpy()))
    (gg,) = tg.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), -np.cos(x.numpy()))
    assert gradgradcheck(lambda t: SinCos.apply(t)[1], [x])


def test_unused_outputs_get_zeros_or_none():
    calls = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            calls.append((g2, g3))
            return (g2 if g2 is not None else 0) * 2, None

    x = Tensor([1.0, 2.0], requires_grad=True)
    Pair.apply(x, True)[0].sum().backward()
    Pair.apply(x, False)[0].sum().backward()
    assert calls[0][1].tolist() == [0.0, 0.0] and calls[1][1] is None
    assert x.grad.tolist() == [4.0, 4.0]


def test_non_differentiable_and_integer_outputs():
    grads = []

    class MaxWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            index = x.argmax()
            scaled = x * 2
            ctx.mark_non_differentiable(scaled)
            ctx.save_for_backward(index)
            ctx.size = x.shape[0]
            return x.max(), index, scaled

        @staticmethod
        def backward(ctx, g, g_index, g_scaled):
            grads.append((g_index, g_scaled))
            (index,) = ctx.saved_tensors
            return Tensor.zeros(ctx.size, dtype=g.dtype).scatter(0, index.reshape(1),
                                                                 g.reshape(1))

    x = Tensor([1.0, 5.0, 2.0], requires_grad=True)
    top, index, scaled = MaxWithIndex.apply(x)
    assert not index.requires_grad and not scaled.requires_grad and index.item() == 1
    top.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    assert grads[0][0].tolist() == 0 and grads[0][1].tolist() == [0.0, 0.0, 0.0]


def test_saved_tensors_are_version_checked():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    out = ScaledPower.apply(y, 2)
    with no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"ScaledPowerBackward.*saved tensor 0.*version 1; "
                                           r"expected version 0"):
        out.sum().backward()
    out = Exp.apply(x)
    with no_grad():
        out.mul_(2.0)  # the saved output changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_a_dropped_graph_is_freed_without_the_garbage_collector():
    gc.disable()
    try:
        x = Tensor([1.0, 2.0], requires_grad=True)
        single, pair = Exp.apply(x), SinCos.apply(x)
        nodes = [weakref.ref(single._ctx), weakref.ref(pair[0]._ctx.node)]
        del single, pair
        assert [node() for node in nodes] == [None, None]
    finally:
        gc.enable()


def test_saved_tensors_are_freed_by_backward_unless_retained():
    x = Tensor([1.0], requires_grad=True)
    out = Exp.apply(x)
    out.backward(retain_graph=True)
    out.backward()
    assert x.grad.tolist() == pytest.approx([2 * np.e])
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


class AddOneInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1.0)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 1


def test_mark_dirty_rebases_the_input():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a * 3
    version = b._version
    out = AddOneInPlace.apply(b)
    assert out is b and b._version == version + 2  # add_, then mark_dirty
    assert b.tolist() == [4.0, 7.0] and b._ctx.name == "AddOneInPlaceBackward"
    (b * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 3 * 2 * np.array([4.0, 7.0]))


def test_mark_dirty_refusals():
    leaf = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        AddOneInPlace.apply(leaf)
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a * 3
    used_before = b.sum()  # b's old value reached this op before the in-place change
    AddOneInPlace.apply(b)
    with pytest.raises(RuntimeError, match="modified in place by AddOneInPlaceBackward"):
        (used_before + b.sum()).backward()

    class NotReturned(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 2

    with pytest.raises(RuntimeError, match="only inputs of forward that it also returns"):
        NotReturned.apply(a * 1)


def test_returning_an_input_gives_a_new_tensor_sharing_storage():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y._data is x._data
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("returned,error,match", [
    (lambda g: (g, None, g), RuntimeError, r"ExpectOneBackward returned an incorrect number "
                                           r"of gradients \(expected 2, got 3\)"),
    (lambda g: g, RuntimeError, r"incorrect number of gradients \(expected 2, got 1\)"),
    (lambda g: (g, Tensor(1.0)), RuntimeError, "returned a gradient different than None at "
                                               "position 2, but the corresponding forward input"
                                               " was not a Variable"),
    (lambda g: (Tensor.ones(3), None), RuntimeError, r"invalid gradient at index 0 - got \[3\] "
                                                     r"but expected shape compatible with "
                                                     r"\[2\]"),
    (lambda g: (3.0, None), TypeError, "gradient of type float at position 1"),
])
def test_bad_gradients_raise_pytorchs_errors(returned, error, match):
    class ExpectOne(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return returned(g)

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(error, match=match):
        ExpectOne.apply(x, 2.0).sum().backward()


def test_extra_nones_and_broadcast_gradients_are_accepted():
    class Broadcasting(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return Tensor.ones(3, 2), None, None  # summed to x's shape, as PyTorch

    x = Tensor([1.0, 2.0], requires_grad=True)
    Broadcasting.apply(x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_missing_backward_and_forward():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="implement the backward"):
        NoBackward.apply(Tensor([1.0], requires_grad=True)).sum().backward()
    with pytest.raises(NotImplementedError, match="implement the forward"):
        Function.apply(Tensor([1.0]))


def test_setup_context_form():
    class Cube(Function):
        @staticmethod
        def forward(x, scale):
            return x ** 3 * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, ctx.scale = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x * ctx.scale, None

    x = Tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t, 2.0), [x])
    assert gradgradcheck(lambda t: Cube.apply(t, 2.0), [x])


def test_once_differentiable_refuses_a_second_derivative():
    class RawSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g._like(2 * x._data * g._data)  # raw arrays: no graph

    x = Tensor([1.0, 3.0], requires_grad=True)
    RawSquare.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 6.0]
    out = RawSquare.apply(x)
    (g,) = tg.grad(out, [x], grad_outputs=Tensor([1.0, 1.0], requires_grad=True),
                   create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice.*once_differentiable"):
        g.sum().backward()


def test_both_styles_and_inheritance():
    class Double(Function):  # our instance-method form: raw arrays
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g * 2

    class Scaled(Exp):  # inherits PyTorch's form
        pass

    class Ours(Scaled):  # an instance-method forward below a static one: ours again
        def forward(self, x):
            return x * 3

        def backward(self, g):
            return g * 3

    x = Tensor([0.0, 1.0], requires_grad=True)
    (Double.apply(x) + Scaled.apply(x) + Ours.apply(x)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + np.exp([0.0, 1.0]) + 3, rtol=1e-6)
    assert Function.apply.__func__ is Double.apply.__func__ is Ours.apply.__func__


def test_namespace_of_autograd():
    from tinygrad_nv import func

    assert tg.autograd.functional.jacobian is func.jacobian
    assert tg.autograd.grad is tg.grad and callable(tg.autograd.backward)
    from tinygrad_nv.autograd.functional import hessian

    assert hessian is func.hessian


def test_against_torch():
    torch = pytest.importorskip("torch")

    def define(base, lib):
        class Fn(base):
            @staticmethod
            def forward(ctx, a, b, k):
                ctx.save_for_backward(a, b)
                ctx.k = k
                return (a * b).sin() * k, a.exp()

            @staticmethod
            def backward(ctx, g1, g2):
                a, b = ctx.saved_tensors
                common = g1 * (a * b).cos() * ctx.k
                return common * b + g2 * a.exp(), common * a, None
        return Fn

    rng = np.random.default_rng(1)
    values = [rng.standard_normal((2, 3)) for _ in range(2)]
    results = []
    for lib, base in ((tg, Function), (torch, torch.autograd.Function)):
        a, b = (lib.tensor(v, requires_grad=True) for v in values)
        first, second = define(base, lib).apply(a, b, 1.5)
        (ga, gb) = lib.autograd.grad((first * second).sum(), [a, b], create_graph=True)
        (gga,) = lib.autograd.grad((ga * ga).sum(), [a])
        results.append([t.detach().numpy() for t in (first, second, ga, gb, gga)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_gradcheck_catches_a_wrong_custom_backward():
    class WrongExp(Exp):
        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out * 1.01

    with pytest.raises(GradcheckError):
        gradcheck(WrongExp.apply, [Tensor([0.5, 1.0], dtype=tg.float64, requires_grad=True)])


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Custom autograd functions", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # asserts gradcheck and gradgradcheck
    x = namespace["x"]
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.tanh(x.numpy()), rtol=1e-12)
