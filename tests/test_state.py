"""save/load: round trips through safetensors, atomic writes, clear errors on bad files."""

import os
import pickle
import struct

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes, load, save


def assert_same(a, b):
    """Equal nested state: tensors by dtype, shape and values; the rest by ==, types kept."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b)  # nan == nan here


@pytest.fixture
def model_state():
    rng = np.random.default_rng(0)
    return {
        "0.weight": Tensor(rng.standard_normal((4, 3)).astype(np.float32)),
        "0.bias": Tensor(rng.standard_normal(4).astype(np.float16)),
        "1.running_mean": Tensor(rng.standard_normal(4)),  # float64
        "1.num_batches_tracked": Tensor(np.array(7, dtype=np.int64)),
        "mask": Tensor(np.array([True, False, True])),
        "idx": Tensor(np.arange(5, dtype=np.int32)),
        "empty": Tensor(np.zeros((0, 3), dtype=np.float32)),
    }


@pytest.fixture
def optim_state():
    w = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    return {
        "state": {0: {"step": Tensor(np.array(3.0, dtype=np.float32)), "exp_avg": w,
                      "exp_avg_sq": w * w},
                  1: {"step": 3, "momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                          "weight_decay": 0, "params": [0, 1], "name": "main",
                          "max_lr": float("inf"), "nan": float("nan")}],
    }


def test_model_state_round_trip(tmp_path, model_state):
    path = tmp_path / "model.safetensors"
    save(model_state, path)
    loaded = load(path)
    assert set(loaded) == set(model_state)
    for k, v in model_state.items():
        assert_same(v, loaded[k])
    assert loaded["0.bias"].dtype == dtypes.float16 and loaded["mask"].dtype == dtypes.bool


def test_model_state_is_plain_safetensors(tmp_path, model_state):
    from safetensors.numpy import load_file
    path = tmp_path / "model.safetensors"
    save(model_state, path)
    arrays = load_file(path)
    assert set(arrays) == set(model_state)
    np.testing.assert_array_equal(arrays["0.weight"], model_state["0.weight"].numpy())


def test_optimizer_state_round_trip(tmp_path, optim_state):
    path = tmp_path / "optim.safetensors"
    save(optim_state, str(path))
    assert_same(optim_state, load(path))


def test_arrays_and_non_contiguous_values(tmp_path):
    a = np.arange(12, dtype=np.float64).reshape(3, 4).T
    save({"a": a, "scalar": np.array(2.5, np.float32)}, tmp_path / "a.safetensors")
    loaded = load(tmp_path / "a.safetensors")
    np.testing.assert_array_equal(loaded["a"].numpy(), a)
    assert loaded["scalar"].shape == ()


def test_load_onto_device(tmp_path, model_state):
    save(model_state, tmp_path / "m.safetensors")
    assert all(str(t.device) == "cpu" for t in load(tmp_path / "m.safetensors", "cpu").values())


def test_atomic_write_leaves_no_temp_file_and_replaces(tmp_path, model_state):
    path = tmp_path / "m.safetensors"
    save({"x": Tensor([1.0])}, path)
    save(model_state, path)
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert set(load(path)) == set(model_state)


def test_failed_save_keeps_old_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save({"x": Tensor([1.0])}, path)
    with pytest.raises(TypeError, match="'bad'"):
        save({"x": Tensor([2.0]), "bad": object()}, path)
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert load(path)["x"].tolist() == [1.0]


@pytest.mark.parametrize("state, error, match", [
    ({"a": {1, 2}}, TypeError, "type set"),
    ({"a": lambda: 0}, TypeError, "function"),
    ({"a": {(1, 2): Tensor([1.0])}}, TypeError, "keys must be str or int"),
    ({"a": np.array(["x"])}, TypeError, "dtype"),
    ({"a.b": Tensor([1.0]), "a": {"b": Tensor([2.0])}}, ValueError, "'a.b'"),
    ([Tensor([1.0])], TypeError, "must be a dict"),
])
def test_save_rejects_bad_values(tmp_path, state, error, match):
    with pytest.raises(error, match=match):
        save(state, tmp_path / "bad.safetensors")
    assert os.listdir(tmp_path) == []


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load(tmp_path / "nope.safetensors")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        load(tmp_path)


def write_bad(tmp_path, payload: bytes):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("cut", [0, 5, 20, -3])
def test_truncated_file(tmp_path, model_state, cut):
    good = tmp_path / "good.safetensors"
    save(model_state, good)
    path = write_bad(tmp_path, good.read_bytes()[:cut])
    with pytest.raises(ValueError, match="bad.safetensors"):
        load(path)


def test_corrupted_header(tmp_path, model_state):
    good = tmp_path / "good.safetensors"
    save(model_state, good)
    data = bytearray(good.read_bytes())
    data[10:20] = b"\xff" * 10
    with pytest.raises(ValueError, match="corrupted header"):
        load(write_bad(tmp_path, bytes(data)))


def test_header_with_wrong_offsets(tmp_path):
    header = b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}}'
    payload = struct.pack("<Q", len(header)) + header + bytes(16)
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load(write_bad(tmp_path, payload))


def test_corrupted_tree(tmp_path):
    save({"a": {"b": Tensor([1.0])}, "n": 1}, tmp_path / "good.safetensors")
    data = (tmp_path / "good.safetensors").read_bytes().replace(b'{\\"tensor', b'{\\"tenzor')
    with pytest.raises(ValueError, match="corrupted 'tinygrad_nv.tree'"):
        load(write_bad(tmp_path, data))


def test_random_bytes(tmp_path):
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="not a safetensors file"):
        load(write_bad(tmp_path, rng.bytes(4096)))


def test_unsupported_dtype(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "u16.safetensors"
    save_file({"img": np.zeros(4, np.uint16)}, path)
    with pytest.raises(ValueError, match="'img' has dtype uint16"):
        load(path)


class _Exploit:
    """Unpickling this would create a marker file: load must never do that."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = write_bad(tmp_path, pickle.dumps({"weight": _Exploit(marker)}))
    with pytest.raises(ValueError, match="not a safetensors file"):
        load(path)
    assert not marker.exists()


def test_resume_training_from_files(tmp_path):
    """Model and Adam state saved mid-training and loaded into fresh objects continue the
    run exactly."""
    import tinygrad_nv.nn as nn
    import tinygrad_nv.optim as optim

    def make():
        Tensor.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt):
        opt.zero_grad()
        model(Tensor(np.arange(15.0, dtype=np.float32).reshape(5, 3))).square().mean().backward()
        opt.step()

    model, opt = make()
    step(model, opt)
    save(model.state_dict(), tmp_path / "model.safetensors")
    save(opt.state_dict(), tmp_path / "optim.safetensors")
    fresh_model, fresh_opt = make()
    fresh_model.load_state_dict(load(tmp_path / "model.safetensors"))
    fresh_opt.load_state_dict(load(tmp_path / "optim.safetensors"))
    step(model, opt)
    step(fresh_model, fresh_opt)
    for (name, a), b in zip(model.state_dict().items(), fresh_model.state_dict().values(),
                            strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def _header_file(tmp_path, header: bytes, data: bytes = b"") -> "os.PathLike":
    return write_bad(tmp_path, struct.pack("<Q", len(header)) + header + data)


@pytest.mark.parametrize("nesting", ["[" * 100_000 + "]" * 100_000, "{\"a\":" * 100_000 + "1"
                                     + "}" * 100_000])
def test_deeply_nested_header_is_a_value_error(tmp_path, nesting):
    header = ('{"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],'
              f'"deep":{nesting}}}}}').encode()
    with pytest.raises(ValueError, match=r"bad\.safetensors.*nested 100\d* levels"):
        load(_header_file(tmp_path, header, bytes(4)))


def test_deeply_nested_metadata_tree_is_a_value_error(tmp_path):
    save({"a": {"b": Tensor([1.0])}, "n": 1}, tmp_path / "good.safetensors")
    from safetensors.numpy import save_file
    deep = '{"list":[' * 100_000 + "1" + "]}" * 100_000
    path = tmp_path / "deep.safetensors"
    save_file({"t": np.zeros(1, np.float32)}, path, metadata={"tinygrad_nv.tree": deep})
    with pytest.raises(ValueError, match=r"deep\.safetensors.*nested"):
        load(path)


def test_moderately_nested_state_round_trips_and_too_deep_state_is_refused(tmp_path):
    state = leaf = {}
    for _ in range(30):
        leaf["next"] = {}
        leaf = leaf["next"]
    leaf["w"] = Tensor([1.0, 2.0])
    save(state, tmp_path / "ok.safetensors")
    assert_same(load(tmp_path / "ok.safetensors"), state)
    for _ in range(100):
        state = {"next": state}
    with pytest.raises(ValueError, match="nested more than"):
        save(state, tmp_path / "deep.safetensors")


@pytest.mark.parametrize("header, match", [
    (b'[1, 2]', "not a safetensors file"),
    (b'"text"', "not a safetensors file"),
    (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
     b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "duplicate key 'a'"),
    (b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}', "not a valid safetensors"),
    (b'{"a":{"dtype":"Q99","shape":[1],"data_offsets":[0,4]}}', "not a valid safetensors"),
    (b'{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}',
     "not a valid safetensors"),
    (b'{"a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}', "not a valid safetensors"),
    (b'{"__metadata__":[1],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
     "corrupted header"),
])
def test_hostile_headers_are_value_errors_naming_the_path(tmp_path, header, match):
    with pytest.raises(ValueError, match=match) as info:
        load(_header_file(tmp_path, header, bytes(4)))
    assert "bad.safetensors" in str(info.value)


def test_huge_header_length_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="bad.safetensors"):
        load(write_bad(tmp_path, struct.pack("<Q", 2**63) + b"{}"))
    with pytest.raises(ValueError, match="truncated"):
        load(write_bad(tmp_path, struct.pack("<Q", 1000) + b"{}"))


@pytest.mark.parametrize("tree", ['[1, 2]', '7', '{"dict": 5}', '{"dict": [[[1], 2]]}',
                                  '{"dict": [["k", {"tensor": "missing"}]]}', '{"list": 3}',
                                  'not json'])
def test_hostile_trees_are_value_errors(tmp_path, tree):
    from safetensors.numpy import save_file
    path = tmp_path / "tree.safetensors"
    save_file({"t": np.zeros(1, np.float32)}, path, metadata={"tinygrad_nv.tree": tree})
    with pytest.raises(ValueError, match=r"tree\.safetensors.*corrupted 'tinygrad_nv.tree'"):
        load(path)


def test_save_killed_midway_leaves_no_orphan_after_the_next_save(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "m.safetensors"
    killed = ("import os, sys\n"
              "import tinygrad_nv\n"
              "from tinygrad_nv import Tensor, save\n"
              "os.replace = lambda *a: os._exit(9)  # dies between writing and renaming\n"
              f"save({{'w': Tensor([1.0, 2.0])}}, {str(path)!r})\n")
    result = subprocess.run([sys.executable, "-c", killed], capture_output=True, timeout=120)
    assert result.returncode == 9, result.stderr.decode()
    assert not path.exists() and os.listdir(tmp_path), "the killed save left its temp file"
    save({"w": Tensor([3.0])}, path)
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert load(path)["w"].tolist() == [3.0]


# ---------------------------------------------------------------------- concurrent saves
_WRITER = """
import sys
import numpy as np
from tinygrad_nv import Tensor, save
path, writer = sys.argv[1], int(sys.argv[2])
for i in range(100):
    save({"w": Tensor(np.full(20000, writer * 1000 + i, np.float32)), "i": Tensor([i])}, path)
"""

_READER = """
import sys
import numpy as np
from tinygrad_nv import load
path, stop = sys.argv[1], sys.argv[2]
import os
reads = 0
while not os.path.exists(stop) or reads < 5:
    state = load(path)
    w, i = state["w"].numpy(), int(state["i"].item())
    assert w.shape == (20000,) and (w == w[0]).all(), "a torn file"
    assert int(w[0]) % 1000 == i and int(w[0]) // 1000 in (0, 1, 2), w[0]
    reads += 1
print(reads)
"""


def test_two_processes_saving_to_one_path_while_a_third_loads(tmp_path):
    """Unique temporary names + os.replace: readers only ever see complete files and no save
    raises (with one shared temporary name a third of the saves failed)."""
    import subprocess
    import sys
    path, stop = tmp_path / "m.safetensors", tmp_path / "writers-done"
    save({"w": Tensor(np.zeros(20000, np.float32)), "i": Tensor([0])}, path)
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(path), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(k)],
                                stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    stop.touch()
    out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err
    assert int(out) >= 5
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors", "writers-done"]
    assert int(load(path)["w"].numpy()[0]) in (1099, 2099)  # a writer's last save


def test_temporary_names_are_unique_per_save(tmp_path, monkeypatch):
    """Each save writes its own temporary file (pid and random part) beside the target."""
    names = []
    real_replace = os.replace

    def spy(src, dst):
        names.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    for _ in range(3):
        save({"x": Tensor([1.0])}, tmp_path / "m.safetensors")
    assert len(set(names)) == 3
    assert all(n.startswith(".m.safetensors.") and f".{os.getpid()}." in n for n in names)


def test_failed_write_keeps_old_file_and_removes_its_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save({"x": Tensor([1.0])}, path)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        save({"x": Tensor([2.0])}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert load(path)["x"].tolist() == [1.0]


@pytest.mark.parametrize("make, hint", [
    (lambda: __import__("tinygrad_nv.nn", fromlist=["x"]).Linear(2, 3), r"Linear.*state_dict"),
    (lambda: __import__("tinygrad_nv.optim", fromlist=["x"]).SGD(
        [Tensor([1.0], requires_grad=True)], lr=0.1), r"SGD.*state_dict"),
    (lambda: Tensor([1.0]), r"Tensor.*\{'name': tensor\}"),
])
def test_saving_a_module_or_other_object_points_at_state_dict(tmp_path, make, hint):
    """PyTorch pickles whole modules (and its torch.load refuses them by default); here a
    file holds a state_dict only: the error says what to save instead."""
    with pytest.raises(TypeError, match=hint):
        save(make(), tmp_path / "m.safetensors")
    assert os.listdir(tmp_path) == []


def test_pytorch_load_arguments_and_file_objects(tmp_path, model_state):
    """torch.load's spellings: map_location (a device or its name) places the tensors,
    weights_only/mmap are accepted (loading never unpickles anyway); binary file objects
    work both ways."""
    import io

    import tinygrad_nv as tg
    path = tmp_path / "model.pth"
    with open(path, "wb") as f:
        save(model_state, f)
    reference = dict(sorted(model_state.items()))
    same = lambda loaded: assert_same(dict(sorted(loaded.items())), reference)  # noqa: E731
    for kwargs in [{"weights_only": True}, {"weights_only": False, "mmap": True},
                   {"map_location": "cpu"}, {"map_location": tg.device("emu")}]:
        loaded = load(path, **kwargs)
        same({k: v.to("cpu") for k, v in loaded.items()})
        where = kwargs.get("map_location", Tensor([0.0]).device)  # else the default device
        assert str(next(iter(loaded.values())).device) == str(where)
    buffer = io.BytesIO()
    save(model_state, buffer)
    buffer.seek(0)
    same(load(buffer))
    with open(path, "rb") as f:
        same(load(f, map_location="cpu"))
    with pytest.raises(TypeError, match="map_location must be a device"):
        load(path, map_location=lambda storage, loc: storage)
    with pytest.raises(TypeError, match="not both"):
        load(path, "cpu", map_location="cpu")
    with pytest.raises(ValueError, match="not a safetensors file"):
        load(io.BytesIO(b"\x80\x02}q\x00."))
