"""In-place ops and version counters: every in-place change bumps the storage's version; a
backward that needs a tensor changed since forward raises, naming the op, instead of
returning a silently wrong gradient. Views share their base's counter."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, dtypes, no_grad
from tinygrad_nv.autograd import Function

MODIFIED = "modified by an inplace operation"


def _pair(device):
    a = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = Tensor([4.0, 5.0, 6.0], device=device, requires_grad=True)
    return a, b


# ---------------------------------------------------------------- the silent-wrong cases
def test_leaf_changed_under_no_grad_before_backward(device):
    a, b = _pair(device)
    y = (a * b).sum()
    with no_grad():
        a += 1
    with pytest.raises(RuntimeError, match=MODIFIED) as info:
        y.backward()
    message = str(info.value)
    assert "Mul" in message and "(3,)" in message
    assert "version 1" in message and "expected version 0" in message and "Hint" in message


def test_setitem_on_an_input_before_backward(device):
    x = Tensor([1.0, 2.0, 3.0], device=device)
    w = Tensor([0.5, 0.5, 0.5], device=device, requires_grad=True)
    y = (x * w).sum()
    x[0] = 100
    with pytest.raises(RuntimeError, match=f"Mul.*{MODIFIED}"):
        y.backward()


def test_optimizer_step_between_forward_and_backward(device):
    model = nn.Linear(3, 2).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = Tensor(np.ones((4, 3), np.float32), device=device)
    model(x).sum().backward()
    loss = model(x).square().sum()
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_load_state_dict_between_forward_and_backward(device):
    model = nn.Linear(3, 2).to(device)
    state = {k: v * 2 for k, v in model.state_dict().items()}
    loss = model(Tensor(np.ones((4, 3), np.float32), device=device)).square().sum()
    model.load_state_dict(state)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_module_to_between_forward_and_backward(device):
    model = nn.Linear(3, 2).to(device)
    loss = model(Tensor(np.ones((4, 3), np.float32), device=device)).square().sum()
    model.to(dtypes.float64)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


@pytest.mark.parametrize("op, name", [("exp", "Exp"), ("sqrt", "Sqrt"), ("softmax", "Softmax")])
def test_in_place_edit_of_a_saved_output(device, op, name):
    x = Tensor([0.5, 1.0, 2.0], device=device, requires_grad=True)
    out = getattr(x, op)()
    loss = out.sum()  # Sum saves nothing: the output's own op is the one that needs it
    with no_grad():
        out.mul_(2)
    with pytest.raises(RuntimeError, match=f"{name}.backward: .*{MODIFIED}.*output of {name}"):
        loss.backward()


def test_in_place_through_a_view_of_a_saved_tensor(device):
    a, b = _pair(device)
    y = (a * b).sum()
    with no_grad():
        a.detach().reshape(3, 1)[1, 0] = 9.0  # a view of a view of a's storage
    assert a._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_second_backward_with_retained_graph_sees_the_change(device):
    a, b = _pair(device)
    y = (a * b).sum()
    y.backward(retain_graph=True)
    with no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


# ---------------------------------------------------------------- what keeps working
def test_in_place_on_tensors_nobody_saved(device):
    a, b = _pair(device)
    c = Tensor([1.0, 1.0, 1.0], device=device)
    y = (a + c).sum() + (b.reshape(3, 1).permute(1, 0) - c).sum()  # ops that save nothing
    c += 5
    with no_grad():
        a.add_(1)
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1, 1, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [1, 1, 1])


def test_in_place_after_backward_and_in_a_training_loop(device):
    w = Tensor([1.0, -1.0], device=device, requires_grad=True)
    x = Tensor([2.0, 3.0], device=device)
    for _ in range(3):
        loss = (w * x).sum()
        loss.backward()
        with no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    np.testing.assert_allclose(w.numpy(), [1 - 0.6, -1 - 0.9], rtol=1e-6)
    assert w._version == 3


def test_a_function_declares_what_it_saves(device):
    class Double(Function):
        saved_inputs = ()

        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g * 2

    a = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = Double.apply(a).sum()
    with no_grad():
        a.fill_(7.0)
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2])


# ---------------------------------------------------------------- views share the counter
@pytest.mark.parametrize("make_view", [
    lambda t: t.reshape(3, 2), lambda t: t.permute(1, 0), lambda t: t.transpose(0, 1),
    lambda t: t[0], lambda t: t[:, 1:], lambda t: t.detach(), lambda t: t.T,
    lambda t: t.flatten(), lambda t: t.unsqueeze(0),
])
def test_views_share_the_version_counter(device, make_view):
    base = Tensor(np.arange(6.0).reshape(2, 3), device=device)
    view = make_view(base)
    view += 1
    assert base._version == view._version == 1
    base.zero_()
    assert view._version == 2
    np.testing.assert_array_equal(view.numpy(), np.zeros(view.shape))


def test_copies_do_not_share_the_counter(device):
    base = Tensor(np.arange(6.0).reshape(2, 3), device=device)
    gathered, cloned, summed = base[[0, 1]], base.clone(), base + 0
    for copy in (gathered, cloned, summed):
        copy += 1
    assert base._version == 0 and base.tolist() == np.arange(6.0).reshape(2, 3).tolist()


def test_expanded_view_is_read_only(device):
    base = Tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match="add_.*clone"):
        base.expand(3, 2).add_(1)


# ---------------------------------------------------------------- the in-place methods
def test_in_place_methods_values_return_self_and_bump(device):
    x = Tensor([1.0, -2.0, 3.0], device=device)
    steps = [
        (lambda t: t.add_(Tensor([1.0, 1.0, 1.0], device=device), alpha=2), [3, 0, 5]),
        (lambda t: t.sub_(1, alpha=0.5), [2.5, -0.5, 4.5]),
        (lambda t: t.mul_(2), [5, -1, 9]),
        (lambda t: t.div_(2), [2.5, -0.5, 4.5]),
        (lambda t: t.div_(2, rounding_mode="floor"), [1, -1, 2]),
        (lambda t: t.clamp_(min=0), [1, 0, 2]),
        (lambda t: t.clamp_(max=1.5), [1, 0, 1.5]),
        (lambda t: t.fill_(4), [4, 4, 4]),
        (lambda t: t.copy_([1, 2, 3]), [1, 2, 3]),
        (lambda t: t.copy_(Tensor([7], dtype=dtypes.int64, device=device)), [7, 7, 7]),
        (lambda t: t.zero_(), [0, 0, 0]),
    ]
    for version, (step, want) in enumerate(steps, start=1):
        assert step(x) is x
        np.testing.assert_allclose(x.numpy(), want)
        assert x._version == version and x.dtype == dtypes.float32


def test_operators_keep_the_object_and_dtype(device):
    t = Tensor([1, 2], device=device)
    same = t
    t += 1
    t *= 3
    t -= 1
    assert t is same and t.tolist() == [5, 8] and t.dtype == dtypes.int64 and t._version == 3
    with pytest.raises(RuntimeError, match="can't be cast"):
        t /= 2  # a float result into an integer tensor, as PyTorch refuses
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.add_(0.5)
    t.div_(2, rounding_mode="trunc")
    assert t.tolist() == [2, 4] and t.dtype == dtypes.int64


def test_random_fills(device):
    x = Tensor.zeros(20_000, device=device)
    x.uniform_(-2, 3)
    values = x.numpy()
    assert values.min() >= -2 and values.max() < 3 and abs(values.mean() - 0.5) < 0.05
    x.uniform_(to=0.5)
    assert 0 <= x.numpy().min() and x.numpy().max() < 0.5
    x.normal_(mean=1.0, std=2.0)
    assert abs(x.numpy().mean() - 1.0) < 0.1 and abs(x.numpy().std() - 2.0) < 0.1
    assert x._version == 3 and x.dtype == dtypes.float32
    Tensor.manual_seed(5)
    first = Tensor.zeros(4, device=device).normal_().numpy()
    Tensor.manual_seed(5)
    np.testing.assert_array_equal(Tensor.zeros(4, device=device).normal_().numpy(), first)


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.uniform_(2, 1), RuntimeError, "from=2.0 > to=1.0"),
    (lambda t: t.normal_(0, -1), RuntimeError, "std >= 0"),
    (lambda t: t.fill_(Tensor([1.0, 2.0])), RuntimeError, "0-dimension"),
    (lambda t: t.fill_("a"), TypeError, "number"),
    (lambda t: t.add_(Tensor([1.0, 2.0])), ValueError, "add_.*broadcast"),
    (lambda t: t.add_(1, alpha="x"), TypeError, "alpha"),
    (lambda t: t.div_(2, rounding_mode="up"), ValueError, "rounding_mode"),
    (lambda t: t.uniform_(0, 1, 2), TypeError, "uniform_"),
])
def test_bad_in_place_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(Tensor([1.0, 2.0, 3.0]))


def test_random_fills_need_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor([1, 2]).uniform_()


# ---------------------------------------------------------------- who may be changed
@pytest.mark.parametrize("update", [
    lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.zero_(), lambda t: t.fill_(1.0),
    lambda t: t.copy_(t.detach() * 2), lambda t: t.clamp_(0, 1), lambda t: t.uniform_(),
    lambda t: t.normal_(), lambda t: t.sub_(1), lambda t: t.div_(2),
    lambda t: t.__iadd__(1), lambda t: t.__setitem__(0, 5.0),
])
def test_leaf_requiring_grad_is_refused_outside_no_grad(device, update):
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        update(w)
    assert w._version == 0 and w.tolist() == [1.0, 2.0]
    with no_grad():
        update(w)
    assert w._version == 1 and w.requires_grad


def test_non_leaf_in_a_recorded_graph_is_recorded(device):
    a, _ = _pair(device)
    h = a * 2
    h += 1  # as PyTorch: h takes the in-place op's node (tests/ops/test_inplace_graph.py)
    assert h._version == 1 and h.grad_fn.name == "Add"
    h.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_setitem_of_a_tensor_that_requires_grad_is_recorded(device):
    a, _ = _pair(device)
    x = Tensor.zeros(3, device=device)
    with no_grad():
        x[0] = a[0]
    assert x.tolist() == [1.0, 0.0, 0.0] and not x.requires_grad
    x[1] = a[2] * 2
    assert x.tolist() == [1.0, 6.0, 0.0] and x.requires_grad
    x.sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 2.0]


def test_version_counts_like_torch(device):
    torch = pytest.importorskip("torch")
    ours = Tensor([1.0, 2.0, 3.0], device=device)
    theirs = torch.tensor([1.0, 2.0, 3.0])
    for step in (lambda t: t.add_(1), lambda t: t.__setitem__(0, 2.0), lambda t: t.mul_(2),
                 lambda t: t.zero_(), lambda t: t.__iadd__(1), lambda t: t.clamp_(0, 1)):
        step(ours)
        step(theirs)
        assert ours._version == theirs._version
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
