"""In-place ops recorded in the graph, as PyTorch records them: values and every leaf
gradient against PyTorch (float64 and float32), the loud cases, gradcheck and hypothesis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv as tg
import tinygrad_nv.nn.functional as F
from tinygrad_nv import no_grad
from tinygrad_nv.testing import gradcheck, strategies

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {np.float64: 1e-10, np.float32: 1e-5}


def compare(fn, arrays, needs, device, dtype=np.float64, grads=True):
    """fn(lib, F, *leaves) in tinygrad_nv and in torch: its value and the gradient of every
    leaf that requires grad (a random weighted sum as the loss) agree."""
    ours = [tg.tensor(a.astype(dtype), device=device, requires_grad=n)
            for a, n in zip(arrays, needs)]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=n) for a, n in zip(arrays, needs)]
    out, expected = fn(tg, F, *ours), fn(torch, TF, *theirs)
    tol = TOL[dtype]
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    if not grads:
        return out
    seed = np.random.default_rng(1).standard_normal(expected.shape).astype(dtype)
    (out * tg.tensor(seed, device=device)).sum().backward()
    (expected * torch.tensor(seed)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b.requires_grad:
            assert (a.grad is None) == (b.grad is None), f"leaf {i}"
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol,
                                           err_msg=f"leaf {i}")
    return out


def rand(*shape, low=0.5, high=2.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# ---------------------------------------------------------------- programs of others
def resnet_block(lib, F, x, w1, w2, ws):
    """kuangliu/pytorch-cifar's BasicBlock: `out += self.shortcut(x)`."""
    out = F.relu(F.batch_norm(F.conv2d(x, w1, padding=1), None, None, training=True))
    out = F.batch_norm(F.conv2d(out, w2, padding=1), None, None, training=True)
    out += F.conv2d(x, ws)
    return out.relu_()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_resnet_block(device, dtype):
    arrays = [rand(2, 3, 5, 5, low=-1, high=1), rand(4, 3, 3, 3, low=-1, high=1, seed=1),
              rand(4, 4, 3, 3, low=-1, high=1, seed=2), rand(4, 3, 1, 1, low=-1, high=1, seed=3)]
    out = compare(resnet_block, arrays, [True] * 4, device, dtype)
    assert out.grad_fn.name == "Relu"


def test_leaf_without_grad_takes_the_history(device):
    def fn(lib, F, w):
        h = lib.zeros(3, dtype=w.dtype, device=w.device)
        h += w * 2
        assert h.requires_grad and not h.is_leaf
        return h
    out = compare(fn, [rand(3)], [True], device)
    assert out.grad_fn.name == "Add" and out._version == 1


def test_chain_of_in_place_ops(device):
    def fn(lib, F, x, z):
        y = x * 2
        y += 1
        y *= z
        y -= x
        y /= z
        return y.relu_()
    compare(fn, [rand(3, 4, low=-1, high=1), rand(3, 4, seed=1)], [True, True], device)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masked_fill_clamp_mul_on_activations(device, dtype):
    def fn(lib, F, x, m):
        h = x * 3
        h.masked_fill_(m > 0.5, 0.0)
        h.clamp_(min=-1.0, max=2.0)
        h.mul_(m)
        return h
    compare(fn, [rand(4, 5, low=-1, high=1), rand(4, 5, low=0, high=1)], [True, True], device,
            dtype)


# name, (args, kwargs) from the two extra leaves a and b
METHODS = {
    "relu_": lambda a, b: ((), {}), "sigmoid_": lambda a, b: ((), {}),
    "tanh_": lambda a, b: ((), {}), "exp_": lambda a, b: ((), {}),
    "log_": lambda a, b: ((), {}), "sqrt_": lambda a, b: ((), {}),
    "rsqrt_": lambda a, b: ((), {}), "abs_": lambda a, b: ((), {}),
    "neg_": lambda a, b: ((), {}), "pow_": lambda a, b: ((a,), {}),
    "floor_": lambda a, b: ((), {}), "ceil_": lambda a, b: ((), {}),
    "round_": lambda a, b: ((), {}), "trunc_": lambda a, b: ((), {}),
    "sign_": lambda a, b: ((), {}), "reciprocal_": lambda a, b: ((), {}),
    "square_": lambda a, b: ((), {}), "sin_": lambda a, b: ((), {}),
    "cos_": lambda a, b: ((), {}), "erf_": lambda a, b: ((), {}),
    "frac_": lambda a, b: ((), {}), "fmod_": lambda a, b: ((0.7,), {}),
    "remainder_": lambda a, b: ((a,), {}), "floor_divide_": lambda a, b: ((0.7,), {}),
    "atan2_": lambda a, b: ((a,), {}), "lerp_": lambda a, b: ((a, 0.3), {}),
    "tril_": lambda a, b: ((), {}), "triu_": lambda a, b: ((1,), {}),
    "logical_not_": lambda a, b: ((), {}),
    "clamp_min_": lambda a, b: ((1.0,), {}), "clamp_max_": lambda a, b: ((1.0,), {}),
    "addcmul_": lambda a, b: ((a, b), {"value": 0.5}),
    "addcdiv_": lambda a, b: ((a, b), {"value": 0.5}),
    "multiply_": lambda a, b: ((a,), {}), "divide_": lambda a, b: ((b,), {}),
    "subtract_": lambda a, b: ((a,), {"alpha": 2}), "true_divide_": lambda a, b: ((b,), {}),
    "index_add_": lambda a, b: ((1, _index(a), a[:, :2]), {"alpha": 2}),
    "index_copy_": lambda a, b: ((1, _index(a), b[:, :2]), {}),
    "masked_scatter_": lambda a, b: ((a > 1.2, b), {}),
}


def _index(t):
    lib = tg if isinstance(t, tg.Tensor) else torch
    return lib.tensor([3, 0], device=t.device)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_in_place_method(device, name):
    def fn(lib, F, x, a, b):
        y = x * 1.5
        args, kwargs = METHODS[name](a, b)
        assert getattr(y, name)(*args, **kwargs) is y
        return y
    arrays = [rand(3, 4, low=0.6, high=1.6), rand(3, 4, seed=1), rand(3, 4, seed=2)]
    # torch has no derivative of floor_divide_ (ours: zero)
    out = compare(fn, arrays, [True, True, True], device, grads=name != "floor_divide_")
    base = name[:-1]
    if hasattr(tg.Tensor, base) and name not in ("logical_not_",):  # against out of place
        x, a, b = (tg.tensor(v, device=device) for v in arrays)
        args, kwargs = METHODS[name](a, b)
        np.testing.assert_allclose(out.numpy(), getattr(x * 1.5, base)(*args, **kwargs).numpy())


def test_fill_diagonal_and_random_fills(device):
    def fn(lib, F, x):
        y = x * 2
        return y.fill_diagonal_(5.0, wrap=True)
    compare(fn, [rand(5, 2)], [True], device)
    w = tg.tensor(rand(200), device=device, requires_grad=True)
    for fill in (lambda t: t.bernoulli_(0.3), lambda t: t.exponential_(2.0),
                 lambda t: t.random_(3, 7), lambda t: t.uniform_(), lambda t: t.normal_()):
        y = w * 1
        fill(y)
        assert y.grad_fn.name == "Overwrite"
        y.sum().backward()
        assert w.grad.tolist() == [0.0] * 200
        w.grad = None
    y = tg.zeros(1000, device=device)
    assert set(y.bernoulli_(0.3).tolist()) == {0.0, 1.0} and 200 < y.sum().item() < 400
    assert set(y.random_(3, 7).tolist()) == {3.0, 4.0, 5.0, 6.0}
    assert y.exponential_(2.0).min().item() >= 0 and 0.4 < y.mean().item() < 0.6


def test_detach_and_share_memory(device):
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = w * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad and y.grad_fn is None
    assert y.share_memory_() is y


# ---------------------------------------------------------------- setitem and copy_
@pytest.mark.parametrize("case", ["slice", "int_array", "mask", "broadcast", "mixed"])
def test_setitem_with_a_value_that_requires_grad(device, case):
    def fn(lib, F, x, v):
        buf = x * 1  # a non-leaf: its old values get the gradient outside the assigned places
        if case == "slice":
            buf[1:3, ::2] = v[:2, :2] * 2
        elif case == "int_array":
            buf[lib.tensor([0, 3], device=x.device)] = v[:2]
        elif case == "mask":
            buf[buf > 1.2] = 0.0
            buf[v > 1.0] = v[v > 1.0].exp()
        elif case == "broadcast":
            buf[:, 1] = v[0, 0]
            buf[2] = v[1]
        else:
            buf[1, lib.tensor([0, 2], device=x.device)] = v[2, :2]
        return buf
    compare(fn, [rand(4, 3), rand(4, 3, seed=1)], [True, True], device)


def test_setitem_into_a_zeros_buffer(device):
    def fn(lib, F, w):
        buf = lib.zeros(3, 2, dtype=w.dtype, device=w.device)
        buf[0] = w * 2
        assert buf.requires_grad
        return buf
    compare(fn, [rand(2)], [True], device)


def test_copy_fill_zero_from_sources_that_require_grad(device):
    def fn(lib, F, w, s):
        y = w * 3
        y.copy_(s[1:2])  # broadcast: s[1] gets the sum down the rows
        z = lib.zeros(2, 3, dtype=w.dtype, device=w.device)
        z.fill_(s[0, 0])
        h = w * 1
        h.zero_()
        return y + z + h
    compare(fn, [rand(2, 3), rand(2, 3, seed=1)], [True, True], device)


def test_no_grad_copy_stays_unrecorded(device):
    p = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    q = tg.tensor([3.0, 4.0], device=device, requires_grad=True)
    with no_grad():
        p.copy_(q * 2)
    assert p.is_leaf and p.tolist() == [6.0, 8.0] and p._version == 1


# ---------------------------------------------------------------- the loud cases
def earlier_uses(lib, F, x, w):
    """Uses of y made before y changes in place get the gradient of y's values then."""
    y = x * 2
    a, b, c = y * 3, y + w, (y / 2).sum(0)  # none of them reads y's values in backward
    y += 1
    y *= w
    return a + b + c + y


def buffer_loop(lib, F, x, w):
    """A buffer filled by a loop that reads its earlier entries (`buf[t] = f(buf[t - 1])`)."""
    buf = lib.zeros(4, 3, dtype=x.dtype)
    buf[0] = x[0] * w
    for t in range(1, 4):
        buf[t] = buf[t - 1] * 2 + x[t]
    return buf


@pytest.mark.parametrize("fn", [earlier_uses, buffer_loop])
def test_an_earlier_use_gets_the_gradient_of_the_values_it_read(device, fn):
    compare(fn, [rand(4, 3, low=-1, high=1), rand(3, seed=1)], [True, True], device)


def test_an_earlier_use_that_reads_the_old_values_raises(device):
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = w * 2
    a = y * w  # Mul reads y for w's gradient: its values are gone (PyTorch raises too)
    y += 1
    with pytest.raises(RuntimeError, match="modified in place by Add after Mul used it"):
        a.sum().backward()


def test_overwritten_saved_value_raises_as_in_pytorch(device):
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = w * 2
    a = y * y  # saves y
    y.exp_()
    with pytest.raises(RuntimeError, match="modified (by an inplace operation|in place)"):
        a.sum().backward()
    y = w * 2
    y *= y  # Mul saved y itself, which the write changes (PyTorch raises too)
    with pytest.raises(RuntimeError, match="modified"):
        y.sum().backward()


def test_in_place_on_a_view_of_a_grad_tensor_is_refused(device):
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    y = w * 2
    for view in (y[0], y.T, y.reshape(4)):
        with pytest.raises(RuntimeError, match=r"views another tensor's storage.*clone\(\)"):
            view += 1
    z = y.clone()
    with pytest.raises(RuntimeError, match="views another"):
        z[0] += 1  # Python's z[0].__iadd__(1) first: PyTorch's CopySlices, not done here
    z[0] = 1.0  # setitem on z itself is recorded
    z.sum().backward()
    assert w.grad.tolist() == [[0.0, 0.0], [2.0, 2.0]]


def intermediate_views(lib, F, x, w):
    """Views whose base nothing else holds (a layer's internal product under its 3-D view, a
    temporary's view) are updated in place, as in PyTorch."""
    y = F.linear(x, w)  # (2, 3, 4) @ (4, 4).T: a view of the 2-D product
    y += 1
    y.relu_()
    v = (x * 2).reshape(6, 4)
    v.mul_(w[0])
    return y.reshape(6, 4) + v + x.clone()[0].mul_(3).repeat(2, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_on_views_nothing_else_holds(device, dtype):
    compare(intermediate_views, [rand(2, 3, 4, low=-1, high=1), rand(4, 4, low=-1, high=1,
                                                                      seed=1)],
            [True, True], device, dtype)


def test_leaf_that_requires_grad_is_refused(device):
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    for update in (lambda t: t.exp_(), lambda t: t.__setitem__(0, w[1] * 2),
                   lambda t: t.copy_(w * 2), lambda t: t.index_add_(0, tg.tensor([0]),
                                                                   tg.tensor([1.0]))):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            update(w)
    assert w._version == 0


# ---------------------------------------------------------------- gradcheck, hypothesis
def test_gradcheck_through_in_place_ops():
    def fn(x, z):
        y = x * 2
        y += z
        y.sigmoid_()
        y[0] = z[1] * 2
        y.mul_(x).clamp_(max=1.5)
        return y
    x, z = tg.tensor(rand(3, 4)), tg.tensor(rand(3, 4, seed=1))
    assert gradcheck(fn, [x.requires_grad_(), z.requires_grad_()])


@given(shapes=strategies.broadcastable_shapes(2, max_dims=3),
       op=st.sampled_from(["+=", "-=", "*=", "/="]))
def test_augmented_assignment_on_intermediates(device, shapes, op):
    target = np.broadcast_shapes(*shapes)
    lhs, rhs = rand(*target, seed=3), rand(*shapes[1], seed=4)

    def fn(lib, F, x, z):
        y = x * 1
        if op == "+=":
            y += z
        elif op == "-=":
            y -= z
        elif op == "*=":
            y *= z
        else:
            y /= z
        return y
    compare(fn, [lhs, rhs], [True, True], device)
