"""Saving and loading state dicts in the safetensors format (never pickle).

A model's state dict (`{"0.weight": Tensor, ...}`) is stored as plain safetensors tensors, so
other safetensors readers can open the file. Nested state, as an optimizer's `state_dict()`
gives (dicts with int keys, lists, tuples, numbers, strings, None), is flattened: each tensor
is stored under its '.'-joined path and the structure with the plain values goes into the
file's metadata as JSON. Loading parses JSON and raw arrays only: it never runs code.
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors import SafetensorError, deserialize
from safetensors.numpy import save as _st_save

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.dtype import dtypes

PathLike = str | os.PathLike
TREE_KEY = "tinygrad_nv.tree"  # metadata entry holding the structure of nested state
_HEADER_LIMIT = 100_000_000  # the safetensors specification's bound on the JSON header
_MAX_DEPTH = 100  # nesting of the stored structure: far beyond any state dict, far below
# Python's recursion limit, so that a hostile file gets a ValueError, not a RecursionError


def save(state_dict: Mapping[str, Any], path: PathLike | BinaryIO) -> None:
    """Write `state_dict` to `path` as safetensors, atomically: into a temporary file of its
    own beside it (`.<name>.<pid>.<random>.tmp`), flushed to disk, then renamed over `path`.
    Concurrent saves to one path never collide and readers see a whole file, old or new; a
    failed save leaves the old file and no temporary (a killed one's is removed by the next
    save to that path). A binary file object (`open(p, "wb")`, `io.BytesIO()`) is written
    directly.

    Values are Tensors or NumPy arrays, or nested dicts/lists/tuples of them mixed with
    numbers, strings and None (an optimizer's state dict).

    >>> save(model.state_dict(), "model.safetensors")
    """
    _check_saveable(state_dict)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(state_dict, "", arrays)
    flat = all(isinstance(v, (Tensor, np.ndarray)) and isinstance(k, str)
               for k, v in state_dict.items())
    metadata = None if flat else {TREE_KEY: json.dumps(tree)}
    payload = _st_save(arrays, metadata=metadata)
    if hasattr(path, "write"):
        path.write(payload)
        return
    path = Path(path)
    _remove_orphans(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_saveable(state_dict: Any) -> None:
    """A file holds a state dict, never a pickled object: a Module, an optimizer or a bare
    tensor gets a TypeError saying what to save instead."""
    if isinstance(state_dict, Mapping):
        return
    kind = type(state_dict).__name__
    if callable(getattr(state_dict, "state_dict", None)):
        raise TypeError(f"save: got a {kind}; a file holds a state_dict, not a whole object "
                        f"(loading never unpickles): save(obj.state_dict(), path) and restore "
                        f"with obj.load_state_dict(load(path))")
    hint = " (wrap it: save({'name': tensor}, path))" if isinstance(state_dict, Tensor) else ""
    raise TypeError(f"save: state_dict must be a dict (a state_dict), got {kind}{hint}")


def _remove_orphans(path: Path) -> None:
    """Delete the temporaries that saves to `path` left when their process died (a live
    process's temporary is its save in progress and stays)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # signal 0 probes a process on POSIX only (Windows would kill it)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


# safetensors' dtype codes; safetensors.numpy writes BF16 for ml_dtypes' bfloat16 but cannot
# read it back, so files are read here (as safetensors.numpy.load does, plus BF16)
_FILE_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "I64": "int64",
                "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
                "BF16": "bfloat16", "U16": "uint16", "U32": "uint32", "U64": "uint64",
                "C64": "complex64"}  # the last four to be refused by name below


def _st_load(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file's bytes (a dtype NumPy lacks raises ValueError; BF16
    without ml_dtypes an ImportError saying what to install)."""
    arrays = {}
    for key, view in deserialize(data):
        name = _FILE_DTYPES.get(view["dtype"])
        if name is None:
            raise ValueError(f"tensor '{key}' has dtype {view['dtype']}, which tinygrad_nv "
                             f"does not support (supported: {', '.join(_FILE_DTYPES)})")
        dtype = dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)
        arrays[key] = np.frombuffer(view["data"], dtype=dtype).reshape(view["shape"])
    return arrays


def load(path: PathLike | BinaryIO, device: Any = None, *, map_location: Any = None,
         weights_only: bool | None = None, mmap: bool | None = None) -> dict[str, Any]:
    """Read a state dict written by `save` (or any safetensors file; a path or a binary file
    object) onto `device`. PyTorch's `map_location` (a device or its name) is another name for
    `device`; `weights_only` and `mmap` are accepted and change nothing: loading only ever
    reads arrays and JSON (never unpickles, never runs code), as `weights_only=True` does.

    Raises FileNotFoundError for a missing file and ValueError, naming the path, for a file
    that is truncated, corrupted, not safetensors, or holds a dtype tinygrad_nv lacks.

    >>> model.load_state_dict(load("model.safetensors"))
    """
    if map_location is not None:
        if device is not None:
            raise TypeError("load: give device or map_location, not both")
        if callable(map_location) or isinstance(map_location, Mapping):
            raise TypeError(f"load: map_location must be a device or a device name, got "
                            f"{type(map_location).__name__} (every tensor goes to one device)")
        device = map_location
    if hasattr(path, "read"):
        path, data = Path(getattr(path, "name", "<file object>")), path.read()
    else:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"load: no such file: '{path}'")
        if not path.is_file():
            raise ValueError(f"load: '{path}' is not a regular file")
        data = path.read_bytes()
    metadata = _check_header(data, path)
    try:
        arrays = _st_load(data)
    except (SafetensorError, ValueError, TypeError, KeyError, OverflowError) as e:
        raise ValueError(f"load: '{path}' is not a valid safetensors file: {e}") from None
    tensors = {}
    for key, array in arrays.items():
        if array.dtype not in dtypes.all:
            raise ValueError(f"load: '{path}': tensor '{key}' has dtype {array.dtype.name}, "
                             f"which tinygrad_nv does not support (supported: "
                             f"{', '.join(d.name for d in dtypes.all)})")
        tensors[key] = Tensor(array, device=device)
    if TREE_KEY not in metadata:
        return tensors
    try:
        state = _decode(_parse_json(metadata[TREE_KEY]), tensors)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ValueError(f"load: '{path}' has a corrupted '{TREE_KEY}' entry: {e}") from None
    if not isinstance(state, dict):
        raise ValueError(f"load: '{path}' has a corrupted '{TREE_KEY}' entry: it holds a "
                         f"{type(state).__name__}, not a dict")
    return state


def _check_header(data: bytes, path: Path) -> dict[str, str]:
    """The metadata of a safetensors file, after checking that its header is sound."""
    if len(data) < 8:
        raise ValueError(f"load: '{path}' is not a safetensors file: only {len(data)} bytes")
    (size,) = struct.unpack("<Q", data[:8])
    if size > _HEADER_LIMIT or data[8:9] != b"{":
        raise ValueError(f"load: '{path}' is not a safetensors file (no JSON header at the "
                         f"start; is it a pickle or another format?)")
    if 8 + size > len(data):
        raise ValueError(f"load: '{path}' is truncated: its header announces {size} bytes "
                         f"but the file has {len(data)}")
    try:
        header = _parse_json(data[8:8 + size])
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"load: '{path}' has a corrupted header: {e}") from None
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise ValueError(f"load: '{path}' has a corrupted header: not a JSON object")
    return metadata


def _parse_json(text: str | bytes) -> Any:
    """JSON with duplicate keys refused and nesting bounded (raises ValueError)."""
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"expected JSON text, got {type(text).__name__}")
    depth = _json_depth(text if isinstance(text, str) else text.decode("utf-8"))
    if depth > _MAX_DEPTH:
        raise ValueError(f"JSON nested {depth} levels deep (at most {_MAX_DEPTH} allowed)")
    return json.loads(text, object_pairs_hook=_unique_keys)


def _json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings are skipped)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {duplicate!r}")
    return result


# The structure in JSON: a tensor is {"tensor": key}, a dict {"dict": [[key, value], ...]}
# (keys stay str or int), a list {"list": [...]}, a tuple {"tuple": [...]}; plain values as is.
def _encode(value: Any, key: str, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    if depth > _MAX_DEPTH // 3:  # a level of state takes up to three levels of JSON
        raise ValueError(f"save: the state is nested more than {_MAX_DEPTH // 3} levels deep "
                         f"at '{key}'")
    if isinstance(value, (Tensor, np.ndarray)):
        if key in arrays:
            raise ValueError(f"save: two entries share the flattened name '{key}'")
        array = value.numpy() if isinstance(value, Tensor) else value
        if array.dtype not in dtypes.all:
            raise TypeError(f"save: '{key}' has dtype {array.dtype}, which tinygrad_nv does "
                            "not support")
        arrays[key] = np.require(array, requirements="C")  # ascontiguousarray makes 0-d 1-d
        return {"tensor": key}
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"save: keys must be str or int, got {k!r} in '{key}'")
            items.append([k, _encode(v, f"{key}.{k}" if key else str(k), arrays, depth + 1)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, f"{key}.{i}" if key else str(i), arrays, depth + 1)
                       for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"save: cannot store '{key}' of type {type(value).__name__}; values must "
                    "be Tensors, arrays, numbers, strings, None, or dicts/lists of them")


def _decode(node: Any, tensors: dict[str, Tensor]) -> Any:
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise ValueError(f"unexpected node {sorted(node)}")
    (kind, body), = node.items()
    if kind == "tensor":
        if body not in tensors:
            raise ValueError(f"it refers to a tensor '{body}' that the file lacks")
        return tensors[body]
    if kind == "dict":
        return {_key(k): _decode(v, tensors) for k, v in body}
    if kind in ("list", "tuple"):
        items = [_decode(v, tensors) for v in body]
        return items if kind == "list" else tuple(items)
    raise ValueError(f"unknown node kind '{kind}'")


def _key(key: Any) -> str | int:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise ValueError(f"a dict key is {key!r}; keys are str or int")
    return key
