"""CuPy's traced arrays (jit/traced.py) without a GPU: CuPy arrays over host memory (CuPy makes
the array objects without touching a device), viewed as the traced class, with a stand-in
recording that notes each call instead of running it. Every operation a step's code makes on
a CuPy array must reach the recording (operators, in-place operators, ufuncs with `out=`,
`@`, methods, indexing) or be refused (host reads, boolean masks); one that slipped past would
run once at recording and be replayed as a stale constant."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tinygrad_nv.jit import traced

cupy = pytest.importorskip("cupy")


def host_backed(array: np.ndarray):
    """A CuPy array object over `array`'s memory (only its metadata may be used)."""
    memory = cupy.cuda.UnownedMemory(array.ctypes.data, array.nbytes, array, device_id=0)
    return cupy.ndarray(array.shape, array.dtype, cupy.cuda.MemoryPointer(memory, 0))


class Notes:
    """A recording that notes (kind, target name, args, writes), returns a new array (the
    array written into, as the recorder does) and refuses by raising."""

    active = True

    def __init__(self):
        self.thread, self.calls = threading.get_ident(), []
        self.result = host_backed(np.zeros((3, 4), np.float32))

    def call(self, kind, target, args, kwargs, writes):
        self.calls.append((kind, getattr(target, "name", target), args, kwargs, writes))
        return writes[0] if writes else self.result

    def xp_call(self, fn, args, kwargs):
        self.calls.append(("xp", fn.__name__, args, kwargs, []))
        return self.result

    def refuse(self, what):
        raise RuntimeError(what)


@pytest.fixture
def arrays():
    notes = Notes()
    raw = host_backed(np.arange(12, dtype=np.float32).reshape(3, 4))
    view = raw.view(traced.traced_class(raw))
    view._rec, view._slot, view._raw = notes, 0, raw
    return notes, view, host_backed(np.ones((3, 4), np.float32))


OPERATIONS = [  # (operation on t (traced) and p (plain CuPy), kind, target, written args)
    (lambda t, p: t + 1, "call", "cupy_add", []),
    (lambda t, p: 2 - t, "call", "cupy_subtract", []),
    (lambda t, p: p * t, "call", "cupy_multiply", []),
    (lambda t, p: t / p, "call", "cupy_true_divide", []),
    (lambda t, p: -t, "call", "cupy_negative", []),
    (lambda t, p: abs(t), "call", "cupy_absolute", []),
    (lambda t, p: t ** 3, "call", "cupy_power", []),
    (lambda t, p: t < p, "call", "cupy_less", []),
    (lambda t, p: cupy.exp(t), "call", "cupy_exp", []),
    (lambda t, p: cupy.maximum(p, t, out=p), "call", "cupy_maximum", ["p"]),
    (lambda t, p: cupy.add(p, t, p), "call", "cupy_add", ["p"]),
    (lambda t, p: t @ p.T, "xp", "matmul", []),
    (lambda t, p: p.T @ t, "xp", "matmul", []),
    (lambda t, p: t.reshape(4, 3), "method", "reshape", []),
    (lambda t, p: t.sum(axis=0), "method", "sum", []),
    (lambda t, p: t.astype(np.float64), "method", "astype", []),
    (lambda t, p: t.T, "method", "transpose", []),
    (lambda t, p: t.fill(0), "method", "fill", ["t"]),
    (lambda t, p: t[1:, ::2], "method", "__getitem__", []),
]


@pytest.mark.parametrize("operation, kind, target, written", OPERATIONS)
def test_every_operation_reaches_the_recording(arrays, operation, kind, target, written):
    notes, t, p = arrays
    out = operation(t, p)
    assert len(notes.calls) == 1
    got_kind, got_target, args, kwargs, writes = notes.calls[0]
    assert (got_kind, got_target) == (kind, target)
    names = {id(t): "t", id(p): "p"}
    assert [names[id(w)] for w in writes] == written
    assert out is (writes[0] if writes else notes.result)


def test_in_place_operators_write_into_the_traced_array(arrays):
    notes, t, p = arrays
    original = t
    t += p
    t *= 2
    assert t is original
    assert [(c[1], [w is t for w in c[4]]) for c in notes.calls] == \
        [("cupy_add", [True]), ("cupy_multiply", [True])]


def test_setitem_is_a_write(arrays):
    notes, t, p = arrays
    t[0] = p[0]
    kind, target, args, _, writes = notes.calls[0]
    assert (kind, target) == ("setitem", "__setitem__") and writes == [t]


@pytest.mark.parametrize("read", [lambda t: t.get(), lambda t: t.item(), lambda t: bool(t),
                                  lambda t: float(t), lambda t: t.tolist(),
                                  lambda t: t.nonzero(), lambda t: t.data.ptr,
                                  lambda t: t.__cuda_array_interface__])
def test_host_reads_and_pointers_are_refused(arrays, read):
    """Reading values on the host, and the device pointer (NCCL or another library working
    through it would run once, at recording, and never in a replay)."""
    notes, t, _ = arrays
    with pytest.raises(RuntimeError, match="host read|depends on values|device pointer"):
        read(t)
    assert notes.calls == []


def test_boolean_masks_are_refused(arrays):
    notes, t, _ = arrays
    mask = host_backed(np.ones((3, 4), bool))
    with pytest.raises(RuntimeError, match="boolean mask"):
        t[mask]
    with pytest.raises(RuntimeError, match="boolean mask"):
        t[mask] = 0.0


def test_an_inert_view_acts_as_its_array(arrays):
    """Once its recording is over (or from another thread) a view is its real array."""
    notes, t, _ = arrays
    notes.active = False
    reshaped = t.reshape(4, 3)  # a view: CuPy makes it without a device
    assert type(reshaped) is cupy.ndarray and reshaped.shape == (4, 3)
    assert t.data.ptr == t._raw.data.ptr
    assert notes.calls == []


def test_cupy_arrays_are_arrays_of_the_recordings(arrays):
    assert cupy.ndarray in traced.ARRAY_TYPES
    assert traced.traced_class(np.zeros(2)) is traced.TracedArray
    with pytest.raises(TypeError, match="cannot trace"):
        traced.traced_class([1.0])
