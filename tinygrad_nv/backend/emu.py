"""The `emu` device: the CUDA backend's launch code (`CudaKernels`) on NumPy arrays, running the
very sources of `kernels/` compiled for the CPU with g++ and the emulation header `cuda_emu.h`.

`emu_load_module` has the call shape of `cupy.RawModule`: it compiles a module once into a cache
directory (`$TINYGRAD_NV_CACHE/emu`, default `~/.cache/tinygrad_nv/emu`), keyed by a hash of
header, source and flags, and loads it with ctypes. Launches check every argument against the
kernel's C signature (dtype of each array, exact type of each scalar, contiguity), so a launch
that would read garbage on a GPU fails here with a TypeError, and against the GPU's launch limits.

`TINYGRAD_NV_EMU_ORDER` sets the order in which the blocks of a grid run, and the threads of a
block between barriers: `forward` (the default), `reverse`, or `shuffle` / `shuffle:<seed>` (a
seeded random order per launch, block and barrier), so a missing `__syncthreads` or a race
between blocks changes the result instead of passing by luck.

`TINYGRAD_NV_EMU_CHECK=1` checks bounds: every array argument is copied for the launch into
memory that ends at an inaccessible page (and starts after one), and an access past the end
(or before the start) raises RuntimeError naming the kernel, the argument and the thread.
Arrays reached through an address table (the optimizers' `*_multi`) are not checked.
"""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from tinygrad_nv.backend.base import Backend, DevicePlacement, PhiloxRng, Placed
from tinygrad_nv.backend.launch import CudaKernels


def _contraction_flags() -> tuple[str, ...]:
    """nvcc contracts a * b + c into one FMA by default: so does emu, where the CPU has FMA
    instructions (x86-64 with the `fma` flag; aarch64 always)."""
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return ("-ffp-contract=fast",)
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        flags = []
    if machine in ("x86_64", "amd64") and "fma" in flags:
        return ("-mfma", "-ffp-contract=fast")
    return ("-ffp-contract=off",)


CXX = "g++"
CXXFLAGS = ("-std=c++20", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
            "-U_FORTIFY_SOURCE",  # fortified longjmp refuses to switch between fiber stacks
            *_contraction_flags())
CONTRACTS_FMA = "-ffp-contract=fast" in CXXFLAGS
CACHE_ENV = "TINYGRAD_NV_CACHE"
ORDER_ENV = "TINYGRAD_NV_EMU_ORDER"
CHECK_ENV = "TINYGRAD_NV_EMU_CHECK"
ORDERS = ("forward", "reverse", "shuffle")
# What a GPU accepts (CUDA's limits for compute capability 7.0 and later, without opt-in)
MAX_BLOCK = (1024, 1024, 64)
MAX_THREADS = 1024
MAX_GRID = (2**31 - 1, 65535, 65535)
MAX_SHARED = 48 * 1024
_COMPILE_LOCK = threading.Lock()
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')
# `extern __shared__ T name[];` and `__shared__ T name[dims];`, rewritten for cuda_emu.h
_DYNAMIC_SHARED = re.compile(r"\bextern\s+__shared__\s+([^;=\n]*?)\s*\b(\w+)\s*\[\s*\]\s*;")
_STATIC_SHARED = re.compile(r"\b__shared__\s+([^;=\n]*?)\b(\w+)\s*((?:\[[^\]\n]*\]\s*)*);")
_ALIGN = re.compile(r"__align__\s*\(\s*\d+\s*\)")


def cache_dir() -> Path:
    """Where compiled emu modules are kept."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tinygrad_nv"
    return Path(root) / "emu"


def emulation_header() -> str:
    """The text of cuda_emu.h, as the package ships it."""
    return (resources.files("tinygrad_nv.backend") / "cuda_emu.h").read_text()


def emu_load_module(source: str, name: str) -> EmuModule:
    """Compile (or find in the cache) CUDA `source` for the CPU; `name` names it in errors."""
    kernels = _KERNEL.findall(source)
    launchers = "".join(f"EMU_KERNEL({k})\n" for k in kernels)
    code = emulate_shared(source) + '#line 1 "<emu launchers>"\n' + launchers
    header = emulation_header()
    key = hashlib.sha256("\0".join((header, code, *CXXFLAGS)).encode()).hexdigest()[:24]
    path = cache_dir() / f"{Path(name).stem}-{key}.so"
    with _COMPILE_LOCK:  # threads of this process compile a module once
        if not path.exists():
            _compile(header, code, name, path)
    return EmuModule(path, kernels, name)


def emulate_shared(source: str) -> str:
    """`source` with its shared-memory declarations in cuda_emu.h's terms: a dynamic
    `extern __shared__` array points at the emulator's buffer, a static one is registered so
    that it can be poisoned before every block."""
    def dynamic(m: re.Match) -> str:
        ctype = _ALIGN.sub("", m[1]).strip()
        return f"{ctype}* const {m[2]} = EMU_DYNAMIC_SHARED({ctype});"

    source = _DYNAMIC_SHARED.sub(dynamic, source)
    return _STATIC_SHARED.sub(lambda m: f"{m[0]} EMU_SHARED_REGION({m[2]});", source)


def thread_order() -> tuple[int, int]:
    """(order code for emu_configure, seed) from TINYGRAD_NV_EMU_ORDER."""
    value = os.environ.get(ORDER_ENV, "forward").strip().lower() or "forward"
    name, _, seed = value.partition(":")
    if name not in ORDERS or (seed and not seed.isdigit()) or (seed and name != "shuffle"):
        raise ValueError(f"{ORDER_ENV}={value!r}: valid values are 'forward', 'reverse', "
                         "'shuffle' and 'shuffle:<seed>'")
    return ORDERS.index(name), int(seed or 0)


def bounds_checking() -> bool:
    """Whether TINYGRAD_NV_EMU_CHECK asks for bounds checking ('1'; '0' or unset: no)."""
    value = os.environ.get(CHECK_ENV, "0").strip() or "0"
    if value not in ("0", "1"):
        raise ValueError(f"{CHECK_ENV}={value!r}: valid values are '0' and '1'")
    return value == "1"


def check_launch(name: str, grid, block, shared_mem: int) -> None:
    """Raise RuntimeError for a launch configuration a GPU refuses, saying which limit."""
    g, b = _dim3(grid), _dim3(block)
    problems = []
    if min(*g, *b) < 1:
        problems.append("every grid and block dimension must be at least 1")
    if any(d > m for d, m in zip(b, MAX_BLOCK)):
        problems.append(f"block dimensions are at most {MAX_BLOCK}")
    if b[0] * b[1] * b[2] > MAX_THREADS:
        problems.append(f"a block has at most {MAX_THREADS} threads, not {b[0] * b[1] * b[2]}")
    if any(d > m for d, m in zip(g, MAX_GRID)):
        problems.append(f"grid dimensions are at most {MAX_GRID}")
    if not 0 <= shared_mem <= MAX_SHARED:
        problems.append(f"dynamic shared memory is at most {MAX_SHARED} bytes, not {shared_mem}")
    if problems:
        raise RuntimeError(f"{name}: invalid launch configuration (grid {g}, block {b}, "
                           f"{shared_mem} bytes of shared memory): {'; '.join(problems)}")


def _compile(header: str, code: str, name: str, path: Path) -> None:
    cxx = shutil.which(CXX)
    if cxx is None:
        raise RuntimeError(f"the 'emu' device compiles {name} with {CXX}, which is not on PATH; "
                           f"install a C++20 compiler (e.g. apt-get install g++) or use 'cpu'")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        header_path, source_path = Path(tmp, "cuda_emu.h"), Path(tmp, "module.cpp")
        header_path.write_text(header)
        source_path.write_text(code)
        out = Path(tmp, "module.so")
        proc = subprocess.run([cxx, *CXXFLAGS, "-include", str(header_path), str(source_path),
                               "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"emu: {CXX} could not compile {name}:\n{proc.stderr.strip()}")
        os.replace(out, path)  # atomic: parallel processes see the whole file or none


class EmuModule:
    """A compiled module: `get_function(name)` as `cupy.RawModule` has it."""

    def __init__(self, path: Path, kernels: list[str], name: str):
        # PyDLL keeps the GIL during launches: a module runs one launch at a time.
        self._lib = ctypes.PyDLL(str(path))
        self._lib.emu_error.restype = ctypes.c_char_p
        self._lib.emu_configure.argtypes = (ctypes.c_int, ctypes.c_ulonglong, ctypes.c_int)
        self._lib.emu_fault.argtypes = (ctypes.POINTER(ctypes.c_int),)
        self._lib.emu_fault.restype = ctypes.c_ulonglong
        self._lib.emu_guarded_alloc.argtypes = (ctypes.c_ulonglong,)
        self._lib.emu_guarded_alloc.restype = ctypes.c_void_p
        self._lib.emu_guarded_free.argtypes = (ctypes.c_void_p, ctypes.c_ulonglong)
        self.kernels = kernels
        self.name = name

    def get_function(self, name: str) -> EmuFunction:
        if name not in self.kernels:
            raise AttributeError(f"{self.name} has no kernel {name!r}; it has {self.kernels}")
        return EmuFunction(self._lib, name)


class EmuFunction:
    """A kernel: `fn(grid, block, args, shared_mem=0)` as `cupy.RawKernel` is called."""

    def __init__(self, lib, name: str):
        self.name = name
        self._lib = lib
        self._launch = lib[f"emu_launch_{name}"]
        self._launch.argtypes = (ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_void_p)
        self._launch.restype = ctypes.c_int
        signature = lib[f"emu_signature_{name}"]
        signature.restype = ctypes.c_char_p
        self.signature = signature().decode().split()

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        check_launch(self.name, grid, block, shared_mem)
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name} takes {len(self.signature)} arguments "
                            f"({' '.join(self.signature)}), got {len(args)}")
        for i, (a, code) in enumerate(zip(args, self.signature, strict=True)):
            self._check(i, a, code)
        order, seed = thread_order()
        guard = _Guard(self._lib, self.signature) if bounds_checking() else None
        try:
            holders = [guard.place(i, a) if guard and isinstance(a, np.ndarray) else _holder(a)
                       for i, a in enumerate(args)]
            pointers = (ctypes.c_void_p * len(holders))(*map(ctypes.addressof, holders))
            dims = (ctypes.c_uint * 6)(*_dim3(grid), *_dim3(block))
            self._lib.emu_configure(order, seed, guard is not None)
            status = self._launch(dims, shared_mem, pointers)
            where = self._lib.emu_error().decode()
            if status == 2:
                raise RuntimeError(f"emu: kernel {self.name}: {guard.describe_fault()} in {where}")
            if status != 0:
                raise RuntimeError(f"emu: kernel {self.name}: {where}")
            if guard:
                guard.copy_back()
        finally:
            if guard:
                guard.free()

    def _check(self, index: int, value, code: str) -> None:
        """Check an argument against the kernel's type code for it."""
        where = f"{self.name} argument {index}"
        if isinstance(value, np.ndarray):
            if code not in ("*", f"*{value.dtype.kind}{value.dtype.itemsize}"):
                raise TypeError(f"{where}: the kernel takes {code}, got a {value.dtype} array")
            if not value.flags.c_contiguous:
                raise ValueError(f"{where}: kernels take C-contiguous arrays")
        elif isinstance(value, np.generic):
            if code != f"{value.dtype.kind}{value.dtype.itemsize}":
                raise TypeError(f"{where}: the kernel takes {code}, got {value.dtype}")
        else:
            raise TypeError(f"{where}: pass NumPy arrays and NumPy scalars of the exact C type "
                            f"(np.float32, np.int32, ...), got {type(value).__name__}")


def _holder(value):
    """A ctypes object holding a checked argument's bytes (an array's address)."""
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    return ctypes.create_string_buffer(value.tobytes(), value.dtype.itemsize)


class _Guard:
    """The array arguments of one launch, copied into memory between inaccessible pages (the
    bounds-checking mode); arguments that are the same array share one copy, arrays that
    partly overlap another stay in place (unchecked)."""

    def __init__(self, lib, signature: list[str]):
        self._lib, self._signature = lib, signature
        self._copies: list[list] = []  # [array, copy address, argument indices]

    def place(self, index: int, array: np.ndarray) -> ctypes.c_void_p:
        start, end = array.ctypes.data, array.ctypes.data + array.nbytes
        for copy in self._copies:
            other = copy[0]
            if (other.ctypes.data, other.nbytes) == (start, array.nbytes):
                copy[2].append(index)
                return ctypes.c_void_p(copy[1])
            if start < other.ctypes.data + other.nbytes and other.ctypes.data < end:
                return ctypes.c_void_p(start)
        address = self._lib.emu_guarded_alloc(array.nbytes)
        if not address:
            raise MemoryError(f"emu: no memory for a bounds-checked copy of {array.nbytes} bytes")
        ctypes.memmove(address, start, array.nbytes)
        self._copies.append([array, address, [index]])
        return ctypes.c_void_p(address)

    def copy_back(self) -> None:
        for array, address, _ in self._copies:
            if array.flags.writeable:
                ctypes.memmove(array.ctypes.data, address, array.nbytes)

    def free(self) -> None:
        for array, address, _ in self._copies:
            self._lib.emu_guarded_free(address, array.nbytes)
        self._copies.clear()

    def describe_fault(self) -> str:
        """Which argument the last fault ran past, and how far."""
        write = ctypes.c_int()
        address = self._lib.emu_fault(ctypes.byref(write))
        access = {1: "write", 0: "read"}.get(write.value, "access")
        page = mmap.PAGESIZE
        for array, start, indices in self._copies:
            end = start + array.nbytes
            first_page = end - -(-array.nbytes // page) * page
            if end <= address < end + page:
                where = f"{address - end} bytes past the end"
            elif first_page - page <= address < first_page:
                where = f"{start - address} bytes before the start"
            else:
                continue
            names = " and ".join(f"{i} ({self._signature[i]})" for i in indices)
            return (f"out-of-bounds {access} {where} of argument {names}, an array of "
                    f"{array.size} {array.dtype} elements")
        return f"out-of-bounds {access} at address {address:#x}, outside every array argument"


def _dim3(dims) -> tuple[int, int, int]:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    return tuple(int(d) for d in (*dims, 1, 1, 1)[:3])


_current = threading.local()  # the emulated current device of each thread, as CUDA keeps it


def current_device() -> int:
    """The emulated device this thread has made current (0 unless a placement says else)."""
    return getattr(_current, "index", 0)


def _make_current(index: int) -> None:
    _current.index = index


class EmuBackend(PhiloxRng, Backend):
    """`emu` (`emu:N`): NumPy arrays, kernels from `kernels/*.cu` compiled for the CPU, and
    cuda's Philox generator (base.PhiloxRng). Device N > 0 pretends to be the N-th GPU: its
    placement makes N the emulated current device."""

    xp = np

    def __init__(self, seed: int | None = None, index: int = 0):
        self.index = index
        self.name = f"emu:{index}" if index else "emu"
        self.placement = DevicePlacement(index, current_device, _make_current) if index else None
        self.xp = self._array_module()
        kernels = CudaKernels(self.xp, self._load_module)
        self.kernels = Placed(kernels, self.placement) if index else kernels  # as on cuda
        super().__init__(seed)

    def _array_module(self):
        return np

    def _load_module(self, source: str, name: str):
        return emu_load_module(source, name)
