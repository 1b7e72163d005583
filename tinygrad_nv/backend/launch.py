"""The CUDA launch code that the `cuda` and `emu` devices share: `CudaKernels` implements the
kernel contract (backend/kernels.py) by launching the kernels of `kernels/*.cu`. It needs only
an array module and `load_module(source, name)`, which returns an object with
`get_function(name)` whose result is called as `fn(grid, block, args, shared_mem=0)` (the
`cupy.RawModule` shape). `CudaBackend` (cuda.py) gives it CuPy and `cupy.RawModule`; the `emu`
device (emu.py) gives it NumPy and the same sources compiled for the CPU.

Dtypes: float32 and float64 run their `_f32` / `_f64` kernels, float16 and bfloat16 their
`_f16` / `_bf16` ones where a family has them (_SUFFIX's comment); other floating dtypes are
computed in float32 and cast back; other dtypes raise TypeError.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import numpy as np

from tinygrad_nv.backend.kernels import (
    ACTIVATIONS,
    AdamCoef,
    Coefficients,
    DeviceCoef,
    RmspropCoef,
    SgdCoef,
)
from tinygrad_nv.backend.launch_args import address, bits, conv_shape, rows_cols
from tinygrad_nv.backend.launch_recurrent import RecurrentLaunches
from tinygrad_nv.backend.optim_kernels import OptimizerKernels

# Files compiled in front of a family's own file, in order (kernel files include nothing).
FAMILY_DEPENDENCIES = {"linear": ("lowp", "activation"), "cross_entropy": ("lowp", "softmax"),
                       "attention": ("lowp", "softmax"), "amp": ("lowp",), "optim": ("lowp",),
                       "activation": ("lowp",), "softmax": ("lowp",),
                       "norm": ("lowp", "softmax"), "conv": ("lowp",)}
BLOCK = 256          # threads per block of the element-wise kernels
MAX_GRID = 65535     # blocks at most; grid-stride loops cover the rest
ROW_BLOCK = (32, 512)  # smallest and largest block of the one-block-per-row kernels
WARP_ROW_COLS = 1024  # rows up to this wide take a lane team each (softmax.cu: kWarpRowCols)
TEAM_BLOCK = 128  # threads a block of lane teams (softmax.cu: kTeamBlock)
WARP_ROW_KERNELS = frozenset({"softmax_forward", "softmax_backward", "cross_entropy",
                              "attention_softmax_forward", "attention_softmax_backward",
                              "layer_norm_forward", "layer_norm_backward"})
BIAS_GRAD_BLOCK = (32, 8)  # linear.cu: 32 columns x kBiasGradRows row strides
BIAS_GRAD_BLOCKS = 512  # bias_grad splits the rows into chunks until about this many blocks
# rows per chunk at least: a batch of up to 256 rows is summed in one launch (32 rows a thread)
BIAS_GRAD_MIN_CHUNK = 256
TABLE_CACHE = 16  # optimizer address tables kept on the device (the most recently used)
ACT_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}  # activation.cu's enum Act
# float16 / bfloat16 kernels (16-bit storage, float math: lowp.cu) exist in optim.cu, amp.cu,
# activation.cu, linear.cu's bias_act, softmax.cu, cross_entropy.cu, norm.cu, attention.cu and
# conv.cu's im2col / col2im; the other kernels compute them in float32 copies
# kernel name suffix by dtype name (bfloat16's dtype exists only once ml_dtypes is loaded)
_SUFFIX = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}


def kernel_dir() -> Traversable:
    """Where the `.cu` files are: in the installed package, else the repository's `kernels/`."""
    packaged = resources.files("tinygrad_nv") / "kernels"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "kernels"


def kernel_source(family: str) -> str:
    """The text of `kernels/<family>.cu`."""
    path = kernel_dir() / f"{family}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"kernel source {family}.cu not found in {kernel_dir()}")
    return path.read_text()


def module_source(family: str) -> str:
    """One compilation unit: a family's dependencies, then its own file (`#line` keeps names)."""
    files = (*FAMILY_DEPENDENCIES.get(family, ()), family)
    return "".join(f'#line 1 "{name}.cu"\n{kernel_source(name)}\n' for name in files)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def bias_grad_chunks(rows: int, cols: int, blocks: int = BIAS_GRAD_BLOCKS) -> int:
    """How many chunks of rows bias_grad sums in parallel (more than one: a second launch adds
    the chunks' sums): about `blocks` blocks in all, at least BIAS_GRAD_MIN_CHUNK rows each."""
    col_blocks = _cdiv(cols, BIAS_GRAD_BLOCK[0])
    return min(_cdiv(rows, BIAS_GRAD_MIN_CHUNK), MAX_GRID, max(1, blocks // col_blocks))


def _row_block(cols: int) -> int:
    """A power of two (block_reduce needs one) giving each thread about 4 elements of a row,
    within ROW_BLOCK."""
    lo, hi = ROW_BLOCK
    return min(hi, max(lo, 1 << (_cdiv(cols, 4) - 1).bit_length()))


class CudaKernels(RecurrentLaunches, OptimizerKernels):
    """The fused kernels of `NumpyKernels`, launched from `kernels/*.cu` (the optimizers of
    OptimizerKernels through this class's `_optim_step` / `_optim_multi`)."""

    def __init__(self, xp, load_module, after_launch=None):
        self.xp = xp
        self._load_module = load_module
        self._after_launch = after_launch  # (kernel, grid, block) -> None: the sync debug mode
        self.warp_row_cols = WARP_ROW_COLS  # 0: always one block per row (benchmarks compare)
        self.sub_warp_rows = True  # False: a whole warp even for rows of a few columns (ditto)
        self.bias_grad_blocks = BIAS_GRAD_BLOCKS  # 1: one chunk of rows (benchmarks compare)
        self.index32 = True  # False: 64-bit index math in im2col / col2im (benchmarks compare)
        self._modules: dict = {}
        self._functions: dict = {}
        self._lock = threading.Lock()
        self._tables: OrderedDict = OrderedDict()  # address table -> its copy on the device
        self._ticket = None  # cross_entropy's block counter (cross_entropy.cu)
        self.capturing = None  # the graph runtime capturing these launches (jit/capture.py)

    # ---- plumbing
    def _function(self, family: str, name: str):
        fn = self._functions.get((family, name))
        if fn is None:
            with self._lock:
                module = self._modules.get(family)
                if module is None:
                    module = self._modules[family] = self._load_module(
                        module_source(family), f"{family}.cu")
                fn = self._functions[family, name] = module.get_function(name)
        return fn

    def _launch(self, family: str, kernel: str, dtype, grid, block, *args) -> None:
        name = f"{kernel}_{_SUFFIX[np.dtype(dtype).name]}"
        self._function(family, name)(grid, block, args)
        if self._after_launch is not None:
            self._after_launch(name, grid, block)

    def _launch_elementwise(self, family: str, kernel: str, dtype, n: int, *args) -> None:
        if n:
            self._launch(family, kernel, dtype, (min(_cdiv(n, BLOCK), MAX_GRID),), (BLOCK,), *args)

    def _row_plan(self, kernel: str, shape: tuple) -> tuple[str, int, int, tuple]:
        """(kernel, grid, block, extra arguments) of a row kernel for a (rows, cols) array: a
        lane team per row for rows up to warp_row_cols wide (lanes: the row's length rounded
        up to a power of two, at most 32), else a block per row."""
        rows, cols = shape
        if kernel in WARP_ROW_KERNELS and cols <= self.warp_row_cols:
            width = min(32, 1 << (cols - 1).bit_length()) if self.sub_warp_rows else 32
            grid = min(_cdiv(rows, TEAM_BLOCK // width), MAX_GRID)
            return f"{kernel}_warp", grid, TEAM_BLOCK, (np.int32(width),)
        return kernel, min(rows, MAX_GRID), _row_block(cols), ()

    def _launch_rows(self, family: str, kernel: str, dtype, shape: tuple, *args) -> None:
        if shape[0] and shape[1]:
            name, grid, block, extra = self._row_plan(kernel, shape)
            self._launch(family, name, dtype, (grid,), (block,), *args, *extra)

    @staticmethod
    def _dtype(op: str, dtype) -> np.dtype:
        """The dtype the kernels compute in for arrays of `dtype`."""
        dtype = np.dtype(dtype)
        if dtype in (np.float32, np.float64):
            return dtype
        if dtype.kind == "f" or dtype.name == "bfloat16":
            return np.dtype(np.float32)
        raise TypeError(f"{op}: the CUDA kernels take floating-point arrays, got {dtype}")

    @classmethod
    def _storage_dtype(cls, op: str, dtype) -> tuple[np.dtype, type]:
        """(array dtype, scalar type) of a kernel that has float16/bfloat16 variants: those
        keep their own storage with float32 scalars; other dtypes are _dtype's."""
        dtype = np.dtype(dtype)
        if dtype.name in _SUFFIX and dtype.itemsize == 2:
            return dtype, np.float32
        dt = cls._dtype(op, dtype)
        return dt, dt.type

    def _input(self, array, dtype):
        """`array` as a C-contiguous array of `dtype`; copies only when it is not one already."""
        return array.astype(dtype, order="C", copy=False)

    @contextmanager
    def _in_place(self, dtype, *arrays):
        """Contiguous `dtype` arrays to update; copies are written back into `arrays` after."""
        work = [self._input(a, dtype) for a in arrays]
        yield work
        for array, w in zip(arrays, work, strict=True):
            if w is not array:
                array[...] = w

    @staticmethod
    def _act_code(act: str) -> np.int32:
        if act not in ACT_CODES:
            raise ValueError(f"unknown activation {act!r}; valid: {ACTIVATIONS}")
        return np.int32(ACT_CODES[act])

    # ---- activations
    def act_forward(self, act: str, x, param: float = 0.0):
        dt, scalar = self._storage_dtype(f"act_forward({act})", x.dtype)
        code, x32 = self._act_code(act), self._input(x, dt)
        y = self.xp.empty_like(x32)
        self._launch_elementwise("activation", "act_forward", dt, x32.size, bits(x32),
                                 bits(y), np.int64(x32.size), code, scalar(param))
        return y.astype(x.dtype, copy=False)

    def act_backward(self, act: str, x, grad, param: float = 0.0):
        dt, scalar = self._storage_dtype(f"act_backward({act})", x.dtype)
        code, xc, gc = self._act_code(act), self._input(x, dt), self._input(grad, dt)
        dx = self.xp.empty_like(xc)
        self._launch_elementwise("activation", "act_backward", dt, xc.size, bits(xc),
                                 bits(gc), bits(dx), np.int64(xc.size), code, scalar(param))
        return dx.astype(x.dtype, copy=False)

    # ---- linear epilogue
    def gelu(self, x):
        return self.act_forward("gelu", x), None  # erff again in backward beats a stored cdf

    def gelu_backward(self, x, saved, grad):
        return self.act_backward("gelu", x, grad)

    def bias_act(self, z, bias, act: str, param: float = 0.0):
        dt, scalar = self._storage_dtype(f"bias_act({act})", z.dtype)
        code, features = self._act_code(act), z.shape[-1]
        if bias.size != features:
            raise ValueError(f"bias_act: bias of shape {bias.shape} does not match the "
                             f"{features} columns of z {z.shape}")
        with self._in_place(dt, z) as (zc,):
            out = self.xp.empty_like(zc)
            self._launch_elementwise("linear", "bias_act", dt, zc.size, bits(zc),
                                     bits(self._input(bias, dt)), bits(out),
                                     np.int64(zc.size), np.int32(features), code, scalar(param))
        return z, out.astype(z.dtype, copy=False)

    def bias_grad(self, grad):
        dt = self._dtype("bias_grad", grad.dtype)
        g = self._input(grad, dt)
        rows, cols = g.shape
        out = self.xp.empty(cols, dtype=dt)
        if not cols:
            return out.astype(grad.dtype, copy=False)
        col_blocks = _cdiv(cols, BIAS_GRAD_BLOCK[0])
        chunks = bias_grad_chunks(rows, cols, self.bias_grad_blocks)
        if chunks > 1:  # rows in parallel too: (chunks, cols) partial sums, then their sum
            chunk = _cdiv(rows, chunks)
            chunks = _cdiv(rows, chunk)
            partial = self.xp.empty((chunks, cols), dtype=dt)
            self._launch("linear", "bias_grad", dt, (col_blocks, chunks), BIAS_GRAD_BLOCK, g,
                         partial, np.int32(rows), np.int32(cols), np.int32(chunk))
            g, rows = partial, chunks
        self._launch("linear", "bias_grad", dt, (col_blocks,), BIAS_GRAD_BLOCK, g, out,
                     np.int32(rows), np.int32(cols), np.int32(max(rows, 1)))
        return out.astype(grad.dtype, copy=False)

    # ---- row-wise softmax
    def softmax(self, x, log: bool = False):
        dt, _ = self._storage_dtype("softmax", x.dtype)
        xc = self._input(x, dt)
        y = self.xp.empty_like(xc)
        self._launch_rows("softmax", "softmax_forward", dt, xc.shape, bits(xc), bits(y),
                          *rows_cols(xc), np.int32(log))
        return y.astype(x.dtype, copy=False)

    def softmax_backward(self, y, grad, log: bool = False):
        dt, _ = self._storage_dtype("softmax_backward", y.dtype)
        yc, gc = self._input(y, dt), self._input(grad, dt)
        dx = self.xp.empty_like(yc)
        self._launch_rows("softmax", "softmax_backward", dt, yc.shape, bits(yc), bits(gc),
                          bits(dx), *rows_cols(yc), np.int32(log))
        return dx.astype(y.dtype, copy=False)

    # ---- softmax + cross-entropy
    def cross_entropy(self, logits, targets, label_smoothing: float = 0.0,
                      ignore_index: int = -100, mean: bool = False):
        xp = self.xp
        dt, scalar = self._storage_dtype("cross_entropy", logits.dtype)
        xc, t = self._input(logits, dt), self._input(targets, np.int64)
        rows, cols = xc.shape
        loss, dlogits = xp.empty(rows, dtype=dt), xp.empty_like(xc)
        launch = bool(rows and cols)
        # with `mean`: the mean (storage dtype) and 1 / count (math dtype) from the kernel, NaN
        # and 0 where nothing is launched; without, `scale` is a placeholder the kernel never
        # reads
        mean_loss = xp.empty(1, dt) if launch else xp.full(1, np.nan, dt)
        scale = (xp.empty if launch else xp.zeros)(1, scalar)
        if not cols:  # no class to pick: every target is bad (NaN) unless ignored
            loss = xp.where(t == ignore_index, 0.0, np.nan).astype(dt)
        if launch:
            name, grid, block, extra = self._row_plan("cross_entropy", xc.shape)
            partial = xp.empty(2 * grid, dtype=scalar) if mean else scale
            if self._ticket is None:
                self._ticket = xp.zeros(1, dtype=np.uint32)
            self._launch("cross_entropy", name, dt, (grid,), (block,), bits(xc), t, bits(loss),
                         bits(dlogits), *rows_cols(xc), scalar(label_smoothing),
                         np.int64(ignore_index), partial, self._ticket, bits(mean_loss), scale,
                         np.int32(mean), *extra)
        out, scale = (mean_loss.reshape(()), scale) if mean else (loss, None)
        return out.astype(logits.dtype, copy=False), dlogits.astype(logits.dtype,
                                                                     copy=False), scale

    def cross_entropy_backward(self, dlogits, g, scale=None):
        dt, scalar = self._storage_dtype("cross_entropy_backward", dlogits.dtype)
        dc, gc = self._input(dlogits, dt), self._input(g, dt)
        rows, cols = dc.shape
        expected = (rows,) if scale is None else ()
        if gc.shape != expected:
            raise ValueError(f"cross_entropy_backward: the gradient of "
                             f"{'the row losses' if scale is None else 'the mean'} of "
                             f"{rows} rows must have shape {expected}, got {gc.shape}")
        out = self.xp.empty_like(dc)
        sc = self.xp.empty(1, scalar) if scale is None else self._input(scale, scalar)  # unread
        self._launch_elementwise("cross_entropy", "cross_entropy_backward", dt, dc.size,
                                 bits(dc), bits(gc), sc, bits(out), np.int64(dc.size),
                                 np.int32(cols), np.int32(scale is None))
        return out.astype(dlogits.dtype, copy=False)

    # ---- erf and erfc (CUDA's own)
    def erf(self, x):
        return self._error_function("erf", x)

    def erfc(self, x):
        return self._error_function("erfc", x)

    def _error_function(self, name: str, x):
        dt = self._dtype(name, x.dtype)
        xc = self._input(x, dt)
        y = self.xp.empty_like(xc)
        self._launch_elementwise("activation", name, dt, xc.size, xc, y, np.int64(xc.size))
        return y.astype(x.dtype, copy=False)

    # ---- attention: scaled, masked row softmax
    def attention_softmax(self, scores, q_len: int, scale: float, causal: bool = False,
                          mask=None):
        dt, scalar = self._storage_dtype("attention_softmax", scores.dtype)
        sc = self._input(scores, dt)
        kind = 0 if mask is None else 2 if mask.dtype == np.bool_ else 1
        m = self.xp.zeros((1, 1), dtype=dt) if mask is None else self._input(mask, dt)
        y = self.xp.empty_like(sc)
        self._launch_rows("attention", "attention_softmax_forward", dt, sc.shape, bits(sc),
                          bits(m), bits(y), *rows_cols(sc), np.int32(q_len),
                          np.int32(m.shape[0]), scalar(scale), np.int32(causal), np.int32(kind))
        return y.astype(scores.dtype, copy=False)

    def attention_softmax_backward(self, y, grad, scale: float):
        dt, scalar = self._storage_dtype("attention_softmax_backward", y.dtype)
        yc, gc = self._input(y, dt), self._input(grad, dt)
        ds = self.xp.empty_like(yc)
        self._launch_rows("attention", "attention_softmax_backward", dt, yc.shape, bits(yc),
                          bits(gc), bits(ds), *rows_cols(yc), scalar(scale))
        return ds.astype(y.dtype, copy=False)

    # ---- optimizer updates, in place: one tensor (`*_step`) or a whole group in one launch
    # per storage dtype (`*_multi`: kernels/optim.cu reads an address table)
    def sgd_step(self, param, grad, buf, coef: SgdCoef) -> None:
        self._optim_step("sgd", param, grad, [buf if coef.momentum else None], coef)

    def adam_step(self, param, grad, m, v, coef: AdamCoef) -> None:
        self._optim_step("adam", param, grad, [m, v], coef)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, buf, coef: RmspropCoef) -> None:
        self._optim_step("rmsprop", param, grad, [square_avg, grad_avg, buf], coef)

    def sgd_multi(self, params: list, grads: list, bufs: list | None, coef: SgdCoef) -> None:
        self._optim_multi("sgd", params, grads, [bufs if coef.momentum else None], coef)

    def adam_multi(self, params: list, grads: list, ms: list, vs: list, coef: AdamCoef) -> None:
        self._optim_multi("adam", params, grads, [ms, vs], coef)

    def rmsprop_multi(self, params: list, grads: list, square_avgs: list,
                      grad_avgs: list | None, bufs: list | None, coef: RmspropCoef) -> None:
        self._optim_multi("rmsprop", params, grads, [square_avgs, grad_avgs, bufs], coef)

    @staticmethod
    def _storage(op: str, dtype) -> tuple[np.dtype, np.dtype]:
        """(storage, math) dtypes of the optimizer kernels for parameters of `dtype`."""
        dtype = np.dtype(dtype)
        if dtype.name not in _SUFFIX:
            raise TypeError(f"{op}: the CUDA optimizer kernels take float16, bfloat16, float32 "
                            f"or float64 parameters, got {dtype}")
        return dtype, np.dtype(np.float64 if dtype == np.float64 else np.float32)

    def _optim_step(self, opt: str, param, grad, state: list, coef: Coefficients) -> None:
        """`<opt>_step` on one tensor; an unused state buffer (None) is passed as param."""
        if isinstance(coef, DeviceCoef):
            raise TypeError(f"{opt}_step: coefficients in device memory need contiguous "
                            "parameters and states (the multi-tensor kernel)")
        storage, math = self._storage(f"{opt}_step", param.dtype)
        used = [s for s in state if s is not None]
        with self._in_place(storage, param, *used) as (p, *work):
            rest = iter(work)
            buffers = [p if s is None else next(rest) for s in state]
            arrays = [bits(a) for a in (p, self._input(grad, storage), *buffers)]
            self._launch_elementwise("optim", f"{opt}_step", storage, p.size, *arrays,
                                     np.int64(p.size), *coef.cast(np, math))

    def _optim_multi(self, opt: str, params: list, grads: list, states: list,
                     coef: Coefficients) -> None:
        """`<opt>_multi` once per storage dtype; `states` holds one list (or None: unused) per
        state buffer. Tensors whose arrays are not contiguous take the one-tensor path."""
        groups: dict = {}
        for k, p in enumerate(params):
            arrays = [p] + [s[k] for s in states if s is not None]
            fused = all(a.flags.c_contiguous and a.dtype == p.dtype for a in arrays)
            groups.setdefault(np.dtype(p.dtype) if fused else None, []).append(k)
        for k in groups.pop(None, []):
            self._optim_step(opt, params[k], grads[k], [None if s is None else s[k]
                                                        for s in states], coef)
        for storage, ks in groups.items():
            _, math = self._storage(f"{opt}_multi", storage)
            grads_k = [self._input(grads[k], storage) for k in ks]
            rows = [[params[k] for k in ks], grads_k,
                    *([params[k] if s is None else s[k] for k in ks] for s in states)]
            sizes = [params[k].size for k in ks]
            total = sum(sizes)
            if not total:
                continue
            table = [address(a) for row in rows for a in row]
            packed = self._device_table((*table, *np.cumsum([0, *sizes]).tolist()))
            if isinstance(coef, DeviceCoef):  # (sgd, adam, rmsprop: optim.cu's _dev kernels)
                kernel, values = f"{opt}_multi_dev", (coef.buffers[math],)
            else:
                kernel, values = f"{opt}_multi", coef.cast(np, math)
            self._launch_elementwise("optim", kernel, storage, total,
                                     packed[:len(table)].view(np.uint64), packed[len(table):],
                                     np.int32(len(ks)), *values)

    # ---- GradScaler (kernels/amp.cu)
    def amp_unscale_multi(self, grads: list, found_inf, inv_scale) -> None:
        """Every gradient (one dtype) unscaled in place and checked for inf/NaN, one launch;
        found_inf and inv_scale stay (1,) float32 arrays on the device."""
        dtype = np.dtype(grads[0].dtype)
        with self._in_place(dtype, *grads) as work:
            sizes = [a.size for a in work]
            table = [address(bits(a)) for a in work]
            packed = self._device_table((*table, *np.cumsum([0, *sizes]).tolist()))
            self._launch_elementwise("amp", "amp_unscale_multi", dtype, sum(sizes),
                                     packed[:len(table)].view(np.uint64), packed[len(table):],
                                     np.int32(len(table)), found_inf, inv_scale)

    def _device_table(self, values: tuple):
        """The int64 array of `values` on the device: uploaded once, then found by its values
        (the arrays' addresses repeat from step to step: the same parameters and states, and
        gradients in the memory the last step's freed). While a graph captures: a copy that
        the graph makes itself (a host-to-device copy of CuPy's would raise)."""
        if self.capturing is not None:
            return self.capturing.constant(np.array(values, np.int64))
        with self._lock:
            packed = self._tables.get(values)
            if packed is None:
                packed = self._tables[values] = self.xp.asarray(np.array(values, np.int64))
                if len(self._tables) > TABLE_CACHE:
                    self._tables.popitem(last=False)
            self._tables.move_to_end(values)
        return packed

    # ---- convolution as a matrix product
    def _index_kernel(self, kernel: str, *arrays) -> str:
        """The `_idx32` variant where every flat index plus a grid stride fits in an int."""
        largest = max(a.size for a in arrays) + BLOCK * MAX_GRID
        return f"{kernel}_idx32" if self.index32 and largest < 2**31 else kernel

    def im2col(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
        return self._im2col("im2col", x, kernel, stride, padding, dilation)

    def col2im(self, cols, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
               dilation: tuple):
        return self._col2im("col2im", cols, x_shape, kernel, stride, padding, dilation)

    def im2col_cn(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
        return self._im2col("im2col_cn", x, kernel, stride, padding, dilation)

    def col2im_cn(self, cols, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                  dilation: tuple):
        return self._col2im("col2im_cn", cols, x_shape, kernel, stride, padding, dilation)

    # ---- layer norm over rows (kernels/norm.cu)
    def layer_norm(self, x, weight, bias, eps: float):
        dt, scalar = self._storage_dtype("layer_norm", x.dtype)
        xc = self._input(x, dt)
        y = self.xp.empty_like(xc)
        mean, rstd = (self.xp.empty((len(xc), 1), dtype=scalar) for _ in range(2))
        # weight and bias in the math dtype; an absent one's placeholder (mean) is never read
        w, b = (mean if t is None else self._input(t, scalar) for t in (weight, bias))
        self._launch_rows("norm", "layer_norm_forward", dt, xc.shape, bits(xc), w, b, bits(y),
                          mean, rstd, *rows_cols(xc), scalar(eps), np.int32(weight is not None),
                          np.int32(bias is not None))
        return y.astype(x.dtype, copy=False), mean, rstd

    def layer_norm_backward(self, x, g, weight, mean, rstd):
        dt, scalar = self._storage_dtype("layer_norm_backward", x.dtype)
        xc, gc = self._input(x, dt), self._input(g, dt)
        gx, gxhat = self.xp.empty_like(xc), self.xp.empty(xc.shape, scalar)
        w = mean if weight is None else self._input(weight, scalar)
        self._launch_rows("norm", "layer_norm_backward", dt, xc.shape, bits(xc), bits(gc), w,
                          mean, rstd, bits(gx), gxhat, *rows_cols(xc),
                          np.int32(weight is not None))
        gw = None if weight is None else self.bias_grad(gxhat)
        # bias_grad's kernels are f32/f64: g's float32 copy (the one it would make) keeps the
        # bias gradient of float16/bfloat16 g unrounded, in the math dtype as gw
        return gx.astype(x.dtype, copy=False), gw, self.bias_grad(self._input(gc, scalar))

    def index_add_rows(self, index, values, rows: int):
        xp, dt = self.xp, self._dtype("index_add_rows", values.dtype)
        starts = xp.zeros(rows + 1, np.int64)  # row r's entries: order[starts[r]:starts[r + 1]]
        xp.cumsum(xp.bincount(index, minlength=rows), out=starts[1:])
        out = xp.empty((rows, values.shape[1]), dt)
        self._launch_elementwise("index", "index_add_rows", dt, out.size, self._input(values, dt),
                                 xp.argsort(index, kind="stable").astype(np.int64, copy=False),
                                 starts, out, np.int64(rows), np.int32(values.shape[1]))
        return out.astype(values.dtype, copy=False)

    def max_pool2d(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                   out: tuple):
        dt = self._dtype("max_pool2d", x.dtype)
        xc = self._input(x, dt)
        shape = conv_shape("max_pool2d", xc.shape, kernel, stride, padding, dilation, out)
        values = self.xp.empty((*x.shape[:2], *out), dtype=dt)
        index = self.xp.empty(values.shape, dtype=np.int32)
        self._launch_elementwise("conv", self._index_kernel("max_pool2d", xc, values), dt,
                                 values.size, xc, values, index, *shape)
        return values.astype(x.dtype, copy=False), index

    def max_pool2d_backward(self, g, index, x_shape: tuple, kernel: tuple, stride: tuple,
                            padding: tuple, dilation: tuple):
        dt = self._dtype("max_pool2d_backward", g.dtype)
        gc = self._input(g, dt)
        shape = conv_shape("max_pool2d_backward", x_shape, kernel, stride, padding, dilation,
                            gc.shape[2:])
        grad = self.xp.empty(tuple(x_shape), dtype=dt)
        self._launch_elementwise("conv", self._index_kernel("max_pool2d_backward", gc, grad),
                                 dt, grad.size, gc, self._input(index, np.int32), grad, *shape)
        return grad.astype(g.dtype, copy=False)

    def _im2col(self, name: str, x, *geometry):
        """im2col (N, C*kh*kw, OH*OW) or im2col_cn (C*kh*kw, N*OH*OW)."""
        dt, _ = self._storage_dtype(name, x.dtype)
        xc = self._input(x, dt)
        shape = conv_shape(name, xc.shape, *geometry)
        n, c, _, _, kh, kw, *_, oh, ow = (int(s) for s in shape)
        layout = (c * kh * kw, n * oh * ow) if name.endswith("_cn") else (n, c * kh * kw,
                                                                          oh * ow)
        cols = self.xp.empty(layout, dtype=dt)
        self._launch_elementwise("conv", self._index_kernel(name, xc, cols), dt, cols.size,
                                 bits(xc), bits(cols), *shape)
        return cols.astype(x.dtype, copy=False)

    def _col2im(self, name: str, cols, x_shape: tuple, *geometry):
        dt, _ = self._storage_dtype(name, cols.dtype)
        shape = conv_shape(name, x_shape, *geometry)
        out = self.xp.empty(tuple(x_shape), dtype=dt)
        cc = self._input(cols, dt)
        self._launch_elementwise("conv", self._index_kernel(name, cc, out), dt, out.size,
                                 bits(cc), bits(out), *shape)
        return out.astype(cols.dtype, copy=False)

    # ---- a counter-based random stream (kernels/random.cu)
    def philox_uniform(self, n: int, dtype, seed: int, offset: int):
        return self._philox("philox_uniform", n, dtype, np.uint64(seed), np.uint64(offset))

    def philox_uniform_dev(self, n: int, dtype, state, offset: int):
        """philox_uniform with (seed, base offset) read from `state` (2 uint64 on the device)
        and `offset` blocks past that base (a captured step's draws: backend/philox.py)."""
        return self._philox("philox_uniform_dev", n, dtype, state, np.uint64(offset))

    def _philox(self, kernel: str, n: int, dtype, *stream):
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise TypeError(f"{kernel}: float32 or float64, got {dt}")
        out = self.xp.empty(n, dtype=dt)
        self._launch_elementwise("random", kernel, dt, _cdiv(n, 4 if dt.itemsize == 4 else 2),
                                 out, np.int64(n), *stream)
        return out

