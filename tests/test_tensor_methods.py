"""The Tensor methods PyTorch programs use (issue 17 item 2): sizes and types, new_*, *_as,
contiguity, in-place variants, unbind/narrow/nan_to_num, max/min over a dim and the other
(values, indices) ops, transposes, formatting, range indices."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv as tg
from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.testing import gradcheck

TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
              "int8": "CharTensor", "uint8": "ByteTensor", "int16": "ShortTensor",
              "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


def test_sizes(device):
    x = Tensor.zeros(2, 3, 4, device=device)
    assert (x.dim(), x.nelement(), x.numel(), x.size(1), x.size(-1)) == (3, 24, 24, 3, 4)
    assert x.size() == (2, 3, 4) and Tensor(1.0).dim() == 0
    sizes = {name: Tensor.zeros(1, dtype=name).element_size() for name in TYPE_NAMES}
    assert sizes == {"float32": 4, "float64": 8, "float16": 2, "int8": 1, "uint8": 1,
                     "int16": 2, "int32": 4, "int64": 8, "bool": 1}


@pytest.mark.parametrize("name", list(TYPE_NAMES))
def test_type_names_and_conversions(name):
    x = Tensor.zeros(2, dtype=name, device="cpu")
    assert x.type() == f"torch.{TYPE_NAMES[name]}"
    converted = Tensor([1.5, 2.5], device="cpu").type(f"torch.{TYPE_NAMES[name]}")
    assert converted.dtype == tg.dtype.to_dtype(name)
    assert x.type(x.dtype) is x and x.type(tg.float64).dtype == tg.float64
    assert Tensor([1], device="cpu").type_as(x).dtype == x.dtype


def test_type_matches_torch_and_refuses_other_names():
    torch = pytest.importorskip("torch")
    for name in TYPE_NAMES:
        assert Tensor.zeros(1, dtype=name).type() == torch.zeros(1, dtype=getattr(
            torch, name)).type()
    for bad in ("float64", "torch.FooTensor", "numpy.FloatTensor"):
        with pytest.raises(ValueError, match="invalid type"):
            Tensor([1.0]).type(bad)


def test_new_factories_inherit_dtype_and_device(device):
    x = Tensor([1, 2], dtype=tg.int16, device=device)
    made = [x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty(2, 3), x.new_full((2, 3), 7),
            x.new_tensor(np.ones((2, 3)))]
    assert all(t.shape == (2, 3) and t.dtype == tg.int16 and t.device == x.device
               for t in made)
    assert made[0].tolist() == [[0] * 3] * 2 and made[3].tolist() == [[7] * 3] * 2
    other = x.new_zeros(2, dtype=tg.float64, requires_grad=True)
    assert other.dtype == tg.float64 and other.requires_grad and other.is_leaf
    assert Tensor([1.0]).new_full((2,), 1.5).tolist() == [1.5, 1.5]
    assert x.new_tensor([1.7]).tolist() == [1]  # the values in x's dtype, as PyTorch


def test_new_factories_of_a_parameter_give_plain_tensors():
    """p.new_tensor(...) / new_zeros(...) (an RNN's init_hidden, a model's input made from
    next(model.parameters())) are plain tensors, as PyTorch's: never Parameters."""
    p = tg.nn.Parameter(Tensor([1.0, 2.0]))
    made = [p.new_tensor([[3.0]]), p.new_zeros(2), p.new_ones(1), p.new_full((1,), 2.0),
            p.new_empty(2)]
    assert all(type(t) is Tensor and not t.requires_grad for t in made)
    assert made[0].tolist() == [[3.0]] and made[0].dtype == tg.float32


def test_as_methods_and_transposes(device):
    x = Tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    y = Tensor.zeros(3, 2, device=device)
    assert x.view_as(y).shape == (3, 2) and x.reshape_as(y).shape == (3, 2)
    assert Tensor([[1.0], [2.0]], device=device).expand_as(x).tolist() == [[1.0] * 3,
                                                                          [2.0] * 3]
    np.testing.assert_array_equal(x.H.numpy(), x.numpy().T)
    np.testing.assert_array_equal(Tensor.zeros(4, 2, 3).mH.numpy(), np.zeros((4, 3, 2)))
    with pytest.raises(RuntimeError, match="only supported on matrices"):
        _ = Tensor.zeros(2, 2, 2).H
    (x.H * Tensor([[1.0, 2.0]] * 3, device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0] * 3, [2.0] * 3])


def test_contiguous(device):
    x = Tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    assert x.is_contiguous() and x.contiguous() is x
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist() and c.requires_grad
    (c * Tensor(np.arange(6.0).reshape(3, 2), device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
    assert x.clone(memory_format=None).tolist() == x.tolist()


def test_unbind_and_narrow(device):
    a = np.arange(12.0).reshape(3, 4)
    x = Tensor(a, device=device, requires_grad=True)
    columns = x.unbind(1)
    assert len(columns) == 4 and columns[2].tolist() == a[:, 2].tolist()
    assert [r.tolist() for r in tg.unbind(x)] == a.tolist()
    columns[1].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(4)[[1, 1, 1]])
    np.testing.assert_array_equal(x.narrow(1, 1, 2).numpy(), a[:, 1:3])
    np.testing.assert_array_equal(tg.narrow(x, 0, -2, 2).numpy(), a[1:])
    assert x.narrow(0, 1, 1)._data.base is not None  # a view, as PyTorch
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(3\) exceeds dimension "
                                           r"size \(4\)"):
        x.narrow(1, 2, 3)
    with pytest.raises(IndexError, match="out of range"):
        x.narrow(1, 5, 0)
    with pytest.raises(IndexError, match="0-d"):
        Tensor(1.0).unbind()


@given(hst.lists(hst.sampled_from([0.5, -2.0, np.nan, np.inf, -np.inf, 3.0]), min_size=1,
                 max_size=6), hst.sampled_from(["float16", "float32", "float64"]))
def test_nan_to_num_against_numpy(values, dtype):
    a = np.array(values, dtype=dtype)
    x = Tensor(a, requires_grad=True)
    out = x.nan_to_num()
    np.testing.assert_array_equal(out.numpy(), np.nan_to_num(a))
    np.testing.assert_array_equal(x.nan_to_num(1.0, 2.0, -3.0).numpy(),
                                  np.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-3.0))
    out.backward(Tensor(np.ones_like(a)))  # the gradient passes where x is finite, else 0
    np.testing.assert_array_equal(x.grad.numpy(), np.isfinite(a).astype(dtype))


def test_nan_to_num_matches_torch_for_bfloat16_and_ints():
    torch = pytest.importorskip("torch")
    values = [1.0, float("nan"), float("inf"), -float("inf")]
    ours = Tensor(values).bfloat16().nan_to_num().float().tolist()
    assert ours == torch.tensor(values).bfloat16().nan_to_num().float().tolist()
    ints = Tensor([1, 2])
    assert ints.nan_to_num().tolist() == [1, 2] and ints.nan_to_num() is not ints


def test_in_place_variants(device):
    x = Tensor([1.0, 2.0, 3.0], device=device)
    version = x._version
    assert x.masked_fill_(x > 1.5, 0.0) is x and x.tolist() == [1.0, 0.0, 0.0]
    x.index_fill_(0, Tensor([0], device=device), 9.0)
    assert x.tolist() == [9.0, 0.0, 0.0] and x._version == version + 2
    x.scatter_(0, Tensor([1, 2], device=device), Tensor([4.0, 5.0], device=device))
    x.scatter_add_(0, Tensor([0, 0], device=device), Tensor([1.0, 1.0], device=device))
    assert x.tolist() == [11.0, 4.0, 5.0]
    x.scatter_reduce_(0, Tensor([2], device=device), Tensor([7.0], device=device), "amax")
    assert x.tolist() == [11.0, 4.0, 7.0]
    y = Tensor([float("nan"), 1.0], device=device)
    assert y.nan_to_num_(nan=-1.0) is y and y.tolist() == [-1.0, 1.0]
    leaf = Tensor([1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: a leaf tensor that requires grad"):
        leaf.masked_fill_(leaf > 0, 0.0)
    with no_grad():
        leaf.masked_fill_(leaf > 0, 0.0)  # as an optimizer would
    assert leaf.tolist() == [0.0]


def test_index_fill(device):
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(a, device=device, requires_grad=True)
    expected = a.copy()
    expected[:, [0, 2]] = -1.0
    np.testing.assert_array_equal(x.index_fill(1, Tensor([0, 2], device=device), -1.0).numpy(),
                                  expected)
    value = Tensor(5.0, device=device, requires_grad=True)
    tg.index_fill(x, 0, Tensor(1, device=device), value).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0] * 3, [0.0] * 3])
    assert value.grad.item() == 3.0
    assert gradcheck(lambda t: t.index_fill(1, Tensor([1], device=device), 0.5),
                     [Tensor(a, device=device, requires_grad=True)])
    with pytest.raises(IndexError, match="0-d or 1-D integer tensor"):
        x.index_fill(1, Tensor([0.5], device=device), 0.0)


@given(hst.lists(hst.integers(0, 3), min_size=6, max_size=6), hst.integers(0, 1),
       hst.booleans())
def test_max_min_over_a_dim_against_torch(values, dim, keepdim):
    torch = pytest.importorskip("torch")
    a = np.array(values, dtype=np.float64).reshape(2, 3)  # small integers: many ties
    for op in ("max", "min"):
        x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours, theirs = getattr(x, op)(dim, keepdim), getattr(torch, op)(tx, dim, keepdim)
        assert type(ours).__name__ == op and ours._fields == ("values", "indices")
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.detach().numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        (ours.values * 2).sum().backward()
        (theirs.values * 2).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        x.grad = tx.grad = None
        getattr(x, op)().backward()  # over all elements: ties share, as PyTorch
        getattr(tx, op)().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_max_min_forms(device):
    logits = Tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], device=device)
    _, predicted = tg.max(logits, 1)  # the everyday classification idiom
    assert predicted.tolist() == [1, 0]
    assert tg.max(logits, dim=1, keepdim=True).values.shape == (2, 1)
    assert tg.max(logits, logits * 2).tolist() == (logits * 2).tolist()  # elementwise
    np.testing.assert_allclose(tg.min(logits, Tensor(0.25, device=device)).numpy(),
                               [[0.1, 0.25, 0.2], [0.25, 0.25, 0.2]])
    scalar = Tensor(3.0, device=device).max(0)
    assert (scalar.values.item(), scalar.indices.item()) == (3.0, 0)
    with pytest.raises(TypeError, match="dim must be one int.*amax"):
        logits.max(dim=(0, 1))


ORDER_STATISTICS = {"kthvalue": lambda m, t, k: m.kthvalue(t, 3, 1, k),
                    "median": lambda m, t, k: m.median(t, 1, k),
                    "mode": lambda m, t, k: m.mode(t, 1, k),
                    "sort": lambda m, t, k: m.sort(t, dim=1, stable=True),
                    "topk": lambda m, t, k: m.topk(t, 2, 1)}
EXACT = ("mode", "sort")  # PyTorch fixes the index among equal values for these only


@given(hst.lists(hst.integers(0, 3), min_size=8, max_size=8), hst.booleans())
def test_order_statistics_against_torch(values, keepdim):
    torch = pytest.importorskip("torch")
    a = np.array(values, dtype=np.float64).reshape(2, 4)  # small integers: many ties
    for name, call in ORDER_STATISTICS.items():
        x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours, theirs = call(tg, x, keepdim), call(torch, tx, keepdim)
        assert type(ours).__name__ == name and ours._fields == ("values", "indices")
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.detach().numpy())
        indices = ours.indices.numpy().reshape(2, -1)
        np.testing.assert_array_equal(np.take_along_axis(a, indices, 1),
                                      ours.values.numpy().reshape(2, -1))
        ours.values.sum().backward()  # the gradient goes to the selected elements
        selected = np.zeros_like(a)
        np.put_along_axis(selected, indices, 1.0, 1)
        np.testing.assert_array_equal(x.grad.numpy(), selected)
        if name in EXACT:
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.median().backward()  # of all elements: ties share the gradient, as PyTorch
    tx.median().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_order_statistics_without_ties_match_torch_indices():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(3).permutation(12).reshape(3, 4).astype(np.float64)
    for call in ORDER_STATISTICS.values():
        ours, theirs = call(tg, Tensor(a), False), call(torch, torch.tensor(a), False)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_order_statistics_by_hand_and_with_nan(device):
    x = Tensor([[1.0, np.nan, 0.0, np.nan], [4.0, 1.0, 3.0, 2.0]], device=device)
    median = x.median(dim=1)
    assert np.isnan(median.values.numpy()[0]) and median.indices.tolist() == [1, 3]
    assert x.kthvalue(2, dim=1).values.tolist() == [1.0, 2.0]  # NaN counts as the largest
    assert x.mode(dim=1).indices.tolist() == [2, 1]  # the smallest of equally frequent ones
    assert Tensor([2.0, 1.0, 2.0, 1.0], device=device).mode().indices.item() == 3  # last place
    assert np.isnan(x.median().item()) and Tensor([1.0, 3.0, 2.0, 4.0]).median().item() == 2.0
    assert np.isnan(Tensor([]).median().item())
    with pytest.raises(RuntimeError, match="k=5 out of range"):
        x.kthvalue(5)
    with pytest.raises(IndexError, match="empty"):
        Tensor.zeros(2, 0).mode(1)


def test_order_statistics_gradcheck():
    rng = np.random.default_rng(0)
    x = Tensor(rng.permutation(12).reshape(3, 4) / 3.0, requires_grad=True)  # no ties
    assert gradcheck(lambda t: t.kthvalue(2, 0).values, [x])
    assert gradcheck(lambda t: t.median(1).values, [x])
    assert gradcheck(lambda t: t.median(), [x])
    assert gradcheck(lambda t: t.max(1).values + t.min(0).values.sum(), [x])


def test_format_of_tensors():
    assert f"{Tensor(1.2345):+.2f}" == "+1.23"
    assert f"{Tensor(7):>3d}" == "  7" and f"{Tensor(2.5)}" == "2.5"
    assert format(Tensor([1.0, 2.0]), "") == str(Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="only 0-d tensors"):
        f"{Tensor([1.0, 2.0]):.2f}"


def test_range_indices(device):
    a = np.arange(12.0).reshape(3, 4)
    x = Tensor(a, device=device)
    np.testing.assert_array_equal(x[range(3), [0, 1, 2]].numpy(), a[range(3), [0, 1, 2]])
    np.testing.assert_array_equal(x[range(1, 3)].numpy(), a[1:3])
    np.testing.assert_array_equal(x[(range(2), range(2))].numpy(), a[[0, 1], [0, 1]])
    y = Tensor.zeros(3, 3, device=device)
    y[range(3), Tensor([2, 1, 0], device=device)] = 5.0  # x[range(n), y] = v
    np.testing.assert_array_equal(y.numpy(), 5.0 * np.eye(3)[::-1])


def test_is_cuda(device):
    assert Tensor([1.0], device=device).is_cuda == device.startswith("cuda")
