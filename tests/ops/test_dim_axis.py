"""Every `axis=` answers to `dim=` and every `dim=` to `axis=` (DESIGN.md): checked over every
table of public ops, then by calling the ops that take one axis with each spelling."""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import tinygrad_nv
import tinygrad_nv.ops
from tinygrad_nv import Tensor


def _exported() -> list[tuple[str, str, object]]:
    """(kind, name, function) of every entry of every ops module's EXPORTS tables."""
    found = []
    for info in pkgutil.iter_modules(tinygrad_nv.ops.__path__):
        module = importlib.import_module(f"tinygrad_nv.ops.{info.name}")
        exports = getattr(module, "EXPORTS", None)
        for table in ("methods", "functions", "functional") if exports else ():
            for name, fn in getattr(exports, table).items():
                fn = fn.fget if isinstance(fn, property) else fn  # itemsize, nbytes, ...
                found.append((info.name, f"{table}.{name}", fn))
    return found


def test_the_tables_are_found():
    names = {name for _, name, _ in _exported()}
    assert {"methods.sum", "methods.gather", "functions.cat", "methods.take_along_dim"} <= names


@pytest.mark.parametrize("kind, name, fn", _exported(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_an_op_with_axis_takes_dim_and_the_reverse(kind, name, fn):
    params = inspect.signature(fn).parameters
    keywords = {n for n, p in params.items()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)}
    if "axis" in keywords:
        assert keywords & {"dim", "dims"}, f"ops/{kind}.py {name} takes axis= but not dim="
    if "dim" in keywords:
        assert "axis" in keywords, f"ops/{kind}.py {name} takes dim= but not axis="


def _x():
    return Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))


def _index():
    return Tensor(np.array([[[0, 2, 1, 0]] * 3] * 2))


# (op, positional arguments after the tensor, axis given by keyword)
CALLS = [
    ("take_along_dim", lambda: (_index(),), 1),
    ("gather", lambda: (), 1),
    ("index_select", lambda: (), 2),
    ("unsqueeze", lambda: (), 1),
    ("squeeze", lambda: (), 0),
    ("split", lambda: (2,), 2),
    ("chunk", lambda: (2,), 2),
    ("unflatten", lambda: (), 2),
    ("repeat_interleave", lambda: (2,), 1),
    ("glu", lambda: (), 2),
]
EXTRA = {"gather": {"index": _index()[:, :2]}, "index_select": {"index": Tensor([3, 0])},
         "unflatten": {"sizes": (2, 2)}}


@pytest.mark.parametrize("op, args, axis", CALLS, ids=[c[0] for c in CALLS])
def test_axis_and_dim_give_the_same_result(op, args, axis):
    x = _x()[:1] if op == "squeeze" else _x()
    extra = EXTRA.get(op, {})
    by_dim = getattr(x, op)(*args(), dim=axis, **extra)
    by_axis = getattr(x, op)(*args(), axis=axis, **extra)
    for a, b in zip(by_dim if isinstance(by_dim, tuple) else [by_dim],
                    by_axis if isinstance(by_axis, tuple) else [by_axis], strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match=rf"{op}: got dim=.* and axis="):
        getattr(x, op)(*args(), dim=axis, axis=axis, **extra)


@pytest.mark.parametrize("op", ["cat", "stack"])
def test_cat_and_stack_take_axis(op):
    a, b = _x(), _x() + 1
    fn = getattr(tinygrad_nv, op)
    np.testing.assert_array_equal(fn([a, b], axis=2).numpy(), fn([a, b], dim=2).numpy())
    np.testing.assert_array_equal(fn([a, b], 2).numpy(), fn([a, b], dim=2).numpy())
    assert fn([a, b]).shape == fn([a, b], dim=0).shape  # dim 0 by default
    with pytest.raises(TypeError, match=rf"{op}: got dim=.* and axis="):
        fn([a, b], dim=1, axis=1)


def test_scatters_take_axis():
    x, index = Tensor.zeros(2, 4), Tensor([[0, 1], [2, 3]])
    src = Tensor([[1.0, 2.0], [3.0, 4.0]])
    for op, extra in (("scatter", {}), ("scatter_add", {}), ("scatter_reduce", {"reduce": "sum"})):
        by_axis = getattr(x, op)(axis=1, index=index, src=src, **extra)
        np.testing.assert_array_equal(by_axis.numpy(),
                                      getattr(x, op)(1, index, src, **extra).numpy())


def test_a_missing_axis_is_a_type_error_naming_the_op():
    with pytest.raises(TypeError, match="gather: missing the axis"):
        _x().gather(index=_index())
    with pytest.raises(TypeError, match="unsqueeze: missing the axis"):
        _x().unsqueeze()
