"""Matrix products: batched matmul (cuBLAS on the GPU), mm bmm mv outer tensordot, the fused
linear layer, einsum."""

from __future__ import annotations

import math
import string
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import accumulation_dtype, result_dtype
from tinygrad_nv.ops import Exports, movement
from tinygrad_nv.ops._checks import (
    ShapeError,
    broadcast_shapes,
    check_device,
    is_tensor,
    tensor_arg,
    tensor_list,
)
from tinygrad_nv.ops.activation import Activation, ActivationGrad, fusable
from tinygrad_nv.ops.elementwise import as_tensor_on, operands, unbroadcast

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class MatMul(Function):
    """a @ b for a.ndim, b.ndim >= 2, batch axes broadcast (1-D cases are reshaped outside)."""

    def forward(self, a, b):
        return rounded_matmul(self.xp, a, b)

    def backward(self, g):
        a, b = self.parents
        product = _product if is_grad_enabled() else _raw_product
        ga = unbroadcast(product(g, b, False, True), a.shape) if self.needs_input_grad[0] \
            else None
        gb = unbroadcast(product(a, g, True, False), b.shape) if self.needs_input_grad[1] \
            else None
        return ga, gb


def _product(a, b, transpose_a: bool, transpose_b: bool):
    """a @ b as Tensor operations, either operand's last two axes swapped first."""
    return (a.transpose(-1, -2) if transpose_a else a) @ \
        (b.transpose(-1, -2) if transpose_b else b)


def _raw_product(a, b, transpose_a: bool, transpose_b: bool):
    """The same product as one raw matmul (backward records no graph): no graph nodes."""
    xp, x, y = a._backend.xp, a._data, b._data
    return a._like(rounded_matmul(xp, xp.swapaxes(x, -1, -2) if transpose_a else x,
                                  xp.swapaxes(y, -1, -2) if transpose_b else y))


def rounded_matmul(xp, a, b):
    """xp.matmul in the operands' dtype, accumulated in float32 for float16/bfloat16 (as
    PyTorch) and rounded once: NumPy has no BLAS for either (its float16 loop is ~100x slower
    than float32's), so on NumPy they multiply as float32 copies; CuPy uses cuBLAS. Outer
    products (inner size 1: a depthwise convolution's backward) are one broadcast multiply on
    NumPy, whose matmul is ~4x slower for them (the same single product per element)."""
    if a.shape[-1] == 1 and a.ndim > 1 and b.ndim > 1 and b.shape[-2] == 1 \
            and xp.__name__ == "numpy":
        out = xp.multiply(a, b)
    elif a.dtype.itemsize == 2 and xp.__name__ == "numpy":
        return xp.matmul(a.astype(xp.float32), b.astype(xp.float32)).astype(a.dtype)
    else:
        out = xp.matmul(a, b)
    return out if out.dtype == a.dtype else out.astype(a.dtype)


class LinearAct(Function):
    """act(x @ w.T + b) for 2-D x: the product on cuBLAS, bias + activation in one kernel.
    Backward reads the pre-activation, kept from forward; without an activation nothing is
    kept (the bias is added in place: the output is the pre-activation)."""

    def forward(self, x, w, b, activation: type[Activation], param: float):
        self.activation, self.param = activation, param
        z = rounded_matmul(self.xp, x, w.T)
        if activation.act == "identity":
            z += b
            return z
        self.pre, out = self.kernels.bias_act(z, b, activation.act, param)
        return out

    def backward(self, g):
        x, w, b = self.parents
        if not is_grad_enabled():  # backward records no graph: raw arrays, no nodes
            return self._raw_backward(g)
        pre = x @ w.T + b  # recomputed with its graph: backward itself is recorded
        gz = ActivationGrad.apply(pre, g, activation=self.activation, param=self.param)
        gx = gz @ w if self.needs_input_grad[0] else None
        gw = gz.transpose(0, 1) @ x if self.needs_input_grad[1] else None
        gb = SumRows.apply(gz) if self.needs_input_grad[2] else None
        return gx, gw, gb

    def _raw_backward(self, g):
        """The same gradients as `backward` from the same array calls, without Tensors."""
        x, w, _ = self.parents
        gz = g._data if self.activation.act == "identity" else \
            self.kernels.act_backward(self.activation.act, self._saved(), g._data, self.param)
        xp, needs = self.xp, self.needs_input_grad
        return (g._like(rounded_matmul(xp, gz, w._data)) if needs[0] else None,
                g._like(rounded_matmul(xp, gz.T, x._data)) if needs[1] else None,
                g._like(self.kernels.bias_grad(gz)) if needs[2] else None)


    def _saved(self):
        """What act_backward takes as x: the pre-activation."""
        return self.pre


class LinearRelu(LinearAct):
    """LinearAct with ReLU, whose derivative the output gives as well (out > 0 where pre >
    0): backward reads the output, and the pre-activation is not kept. The output is guarded
    against in-place changes, as PyTorch's relu guards its result."""

    save_output = True

    def forward(self, x, w, b, activation: type[Activation], param: float):
        out = super().forward(x, w, b, activation, param)
        del self.pre
        return out

    def _saved(self):
        return self.output()._data


class SumRows(Function):
    """Column sums of a 2-D gradient (a bias gradient), one kernel."""

    def forward(self, g):
        return self.kernels.bias_grad(g)

    def backward(self, gg):
        return gg.reshape(1, -1).expand(self.parents[0].shape)


class Einsum(Function):
    """einsum with explicit subscripts ('ij,jk->ik'); each operand's gradient is another
    einsum of the output gradient with the other operands."""

    def forward(self, *arrays, inputs: tuple, output: str):
        self.inputs, self.output_subs = inputs, output
        dt = arrays[0].dtype
        if dt.itemsize == 2:  # float16/bfloat16: accumulated in float32, rounded once
            arrays = [a.astype(accumulation_dtype(dt)) for a in arrays]
        out = self.xp.einsum(f"{','.join(inputs)}->{output}", *arrays)
        return out.astype(dt, copy=False)

    def backward(self, g):
        grads = []
        sizes: dict[str, int] = {}
        for subs, t in zip(self.inputs, self.parents):
            for c, n in zip(subs, t.shape):
                sizes[c] = max(n, sizes.get(c, 1))
        for i, (subs, t) in enumerate(zip(self.inputs, self.parents)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, p) for j, (s, p) in enumerate(zip(self.inputs, self.parents)) if j != i]
            unique = "".join(dict.fromkeys(subs))
            present = set(self.output_subs).union(*[s for s, _ in others])
            target = "".join(c for c in unique if c in present)
            spec = ",".join([self.output_subs] + [s for s, _ in others]) + "->" + target
            gi = einsum(spec, g, *[p for _, p in others])
            if target != unique:  # axes summed inside this operand alone: broadcast back
                gi = gi.reshape(tuple(sizes[c] if c in present else 1 for c in unique))
                gi = gi.expand(tuple(sizes[c] for c in unique))
            if unique != subs:
                gi = self._on_diagonal(gi, unique, subs, sizes)
            grads.append(unbroadcast(gi, t.shape))
        return tuple(grads)

    def _on_diagonal(self, gi, unique: str, subs: str, sizes: dict):
        """The gradient of an operand with repeated subscripts ('ii', 'iij'): gi (over the
        distinct subscripts) placed on the diagonals, by an einsum with identity matrices."""
        used = set("".join(self.inputs) + self.output_subs)
        spare = [c for c in string.ascii_letters if c not in used]
        renamed, eyes, seen = [], [], set()
        for c in subs:
            if c in seen:
                renamed.append(spare.pop())
                eyes.append(c + renamed[-1])
            else:
                seen.add(c)
                renamed.append(c)
        identities = [gi._like(self.xp.eye(sizes[e[0]], dtype=gi.dtype)) for e in eyes]
        return einsum(",".join([unique] + eyes) + "->" + "".join(renamed), gi, *identities)


# ---------------------------------------------------------------------- functions
@autocast_op
def matmul(x: Tensor, other: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched, broadcast, 1-D operands promoted."""
    a, b = operands(x, other, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: "
                         f"{a2.shape[-1]} (last axis of the first) != {b2.shape[-2]}")
    try:
        broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: batch shapes of {tuple(a.shape)} and {tuple(b.shape)} do not "
                         "broadcast") from None
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    return out.squeeze(-1) if b.ndim == 1 else out


@autocast_op
def dot(x: Tensor, other: Any) -> Tensor:
    """The dot product of two 1-D tensors (matmul's rules): its own op, because autocast
    casts matmul but not dot."""
    return matmul.__wrapped__(x, other)


def rmatmul(x: Tensor, other: Any) -> Tensor:
    """other @ x, other an array or nested list."""
    return matmul(as_tensor_on(x, other), x)


@autocast_op
def mm(x: Tensor, mat2: Any) -> Tensor:
    """The product of two matrices (2-D only; matmul broadcasts)."""
    a, b = operands(x, mat2, "mm")
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: both operands must be matrices (2-D), got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied "
                         f"({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")
    return MatMul.apply(a, b)


@autocast_op
def bmm(x: Tensor, mat2: Any) -> Tensor:
    """Batched matrix products of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    a, b = operands(x, mat2, "bmm")
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(f"bmm: both operands must be 3-D, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise ShapeError(f"bmm: expected the first two dimensions of batch2 to be "
                         f"{(a.shape[0], a.shape[2])} for batch1 of shape {tuple(a.shape)}, got "
                         f"{tuple(b.shape)}")
    return MatMul.apply(a, b)


@autocast_op
def mv(x: Tensor, vec: Any) -> Tensor:
    """The product of a matrix and a vector."""
    a, v = operands(x, vec, "mv")
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise ShapeError(f"mv: expects a matrix (n, m) and a vector (m,), got shapes "
                         f"{tuple(a.shape)} and {tuple(v.shape)}")
    return matmul(a, v)


def outer(x: Tensor, vec2: Any) -> Tensor:
    """out[i, j] = x[i] * vec2[j] for two 1-D tensors."""
    a, b = operands(x, vec2, "outer")
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expects two 1-D tensors, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


@autocast_op
def tensordot(x: Tensor, other: Any, dims: Any = 2) -> Tensor:
    """Sum of products over the last `dims` axes of x and the first `dims` of other, or over
    the axes named by a pair of lists: `a.tensordot(b, dims=([1, 2], [0, 1]))`."""
    a, b = operands(x, other, "tensordot")
    dims = dims.tolist() if hasattr(dims, "tolist") else dims
    if isinstance(dims, int) and not isinstance(dims, bool):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: dims must be in [0, {min(a.ndim, b.ndim)}] for "
                             f"shapes {tuple(a.shape)} and {tuple(b.shape)}, got {dims}")
        dims = (list(range(a.ndim - dims, a.ndim)), list(range(dims)))
    if not isinstance(dims, (tuple, list)) or len(dims) != 2:
        raise TypeError(f"tensordot: dims must be an int or a pair of lists of dims, got "
                        f"{dims!r}")
    dims_a, dims_b = (movement.dims_of(t, d, "tensordot") for t, d in zip((a, b), dims))
    if len(dims_a) != len(dims_b) or len(set(dims_a)) < len(dims_a) \
            or len(set(dims_b)) < len(dims_b):
        raise ShapeError(f"tensordot: dims {dims} must be two lists of distinct dims of "
                         "equal length")
    for i, j in zip(dims_a, dims_b):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: contracted dimensions need to match, but first has "
                             f"size {a.shape[i]} in dim {i} and second has size "
                             f"{b.shape[j]} in dim {j} (shapes {tuple(a.shape)}, {tuple(b.shape)})")
    free_a = [i for i in range(a.ndim) if i not in dims_a]
    free_b = [j for j in range(b.ndim) if j not in dims_b]
    inner = math.prod(a.shape[i] for i in dims_a)
    left = a.permute(*free_a, *dims_a).reshape(math.prod(a.shape[i] for i in free_a), inner)
    right = b.permute(*dims_b, *free_b).reshape(inner, math.prod(b.shape[j] for j in free_b))
    return MatMul.apply(left, right).reshape(*[a.shape[i] for i in free_a],
                                             *[b.shape[j] for j in free_b])


@autocast_op
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out, in); `activation` (e.g. 'relu') is
    fused into the same kernel as the bias."""
    weight = tensor_arg(weight, "linear", "weight")  # (a list: TypeError, not AttributeError)
    if bias is not None:
        tensor_arg(bias, "linear", "bias")
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {tuple(x.shape)} needs weight of shape "
                         f"(out, {x.shape[-1] if x.ndim else '?'}), got "
                         f"{tuple(weight.shape)}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{tuple(bias.shape)}")
    kind, param = fusable(activation)
    a, w = operands(x, weight, "linear")
    if bias is None:
        bias = w._like(w.backend.xp.zeros(w.shape[0], dtype=w.dtype))
    b = bias.cast(w.dtype)
    check_device(w, b, "linear")
    fused = LinearRelu if kind.act == "relu" else LinearAct
    if a.ndim == 2:  # the usual batch of rows: no reshape nodes around the product
        return fused.apply(a, w, b, activation=kind, param=param)
    out = fused.apply(a.reshape(-1, a.shape[-1]), w, b, activation=kind, param=param)
    return out.reshape(*x.shape[:-1], w.shape[0])


@autocast_op
def einsum(subscripts: Any, *operands: Any) -> Tensor:
    """Einstein summation, as torch.einsum: explicit ('ij,jk->ik') or implicit ('ij,jk')
    output, '...', repeated subscripts ('ii->i' a diagonal, 'ii' a trace), and the sublist
    form einsum(a, [0, 1], b, [1, 2], [0, 2]).

    >>> Tensor.einsum("bij,bjk->bik", q, k)
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_spec(subscripts, *operands)
    tensors = tensor_list(operands, "einsum")
    inputs, output = _parse_einsum(subscripts, [t.shape for t in tensors])
    dt = tensors[0].dtype
    for t in tensors[1:]:
        check_device(tensors[0], t, "einsum")
        dt = result_dtype(dt, t.dtype)
    sizes: dict[str, int] = {}
    for k, (subs, t) in enumerate(zip(inputs, tensors)):
        own: dict[str, int] = {}
        for c, n in zip(subs, t.shape):
            if own.setdefault(c, n) != n:
                raise ShapeError(f"einsum: subscript {c!r} is repeated for operand {k} of "
                                 f"shape {tuple(t.shape)} but the sizes don't match, {own[c]} != "
                                 f"{n}")
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                raise ShapeError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} "
                                 f"in '{subscripts}' for shapes "
                                 f"{[tuple(t.shape) for t in tensors]}")
    return Einsum.apply(*[t.cast(dt) for t in tensors], inputs=tuple(inputs), output=output)


def _sublist_spec(first: Any, *rest: Any) -> tuple[str, list]:
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) as ('ab,bc->ac', [a, b])."""
    args = (first,) + rest
    pairs = args[:len(args) - len(args) % 2]

    def letters(sublist: Any) -> str:
        try:
            return "".join("..." if i is Ellipsis else string.ascii_letters[i] for i in sublist)
        except (TypeError, IndexError):
            raise ShapeError(f"einsum: a sublist holds ints in [0, 52) or Ellipsis, got "
                             f"{sublist!r}") from None

    spec = ",".join(letters(s) for s in pairs[1::2])
    if len(args) % 2:
        spec += "->" + letters(args[-1])
    return spec, list(pairs[0::2])


def _parse_einsum(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Explicit per-operand subscripts and output, with '...' spelled out as letters."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be the subscripts string")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(inputs)} operands, got "
                         f"{len(shapes)}")
    used = set(spec) - set(".,->")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    n_ellipsis = max((len(s) - (len(sub) - 3) for sub, s in zip(inputs, shapes)
                      if "..." in sub), default=0)
    ell = "".join(spare[:n_ellipsis])
    expanded = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ellipsis - k:] if k else "")
        if not sub.isalpha() and sub:
            raise ShapeError(f"einsum: bad subscripts '{subscripts}' (letters, ',', '->', "
                             "'...' only)")
        if len(sub) != len(shape):
            raise ShapeError(f"einsum: subscripts {sub!r} do not match an operand of shape "
                             f"{shape}")
        expanded.append(sub)
    if arrow:
        output = rhs.replace("...", ell)
        if len(set(output)) != len(output):
            raise ShapeError(f"einsum: an output subscript appears more than once in "
                             f"'{subscripts}'")
        for c in output:
            if c not in "".join(expanded):
                raise ShapeError(f"einsum: output subscript {c!r} is not in any input of "
                                 f"'{subscripts}'")
    else:
        letters = "".join(expanded)
        output = ell + "".join(sorted(c for c in set(letters) - set(ell)
                                      if letters.count(c) == 1))
    return expanded, output


def _scaled_sum(x: Tensor, product: Tensor, beta: Any, alpha: Any, op: str) -> Tensor:
    """beta * x + alpha * product, x broadcast to the product's shape; beta = 0 ignores x
    (NaN and inf in it included; x gets no gradient), as PyTorch."""
    if not is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    try:
        fits = broadcast_shapes(x.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} does not broadcast to the "
                         f"product's shape {tuple(product.shape)}")
    scaled = product if alpha == 1 else alpha * product
    if beta == 0:
        return scaled.cast(result_dtype(x.dtype, scaled.dtype))
    return (x if beta == 1 else beta * x) + scaled


@autocast_op
def addmm(x: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * x + alpha * (mat1 @ mat2) for matrices mat1 (n, m) and mat2 (m, p), x broadcast
    to (n, p), as torch.addmm.

    >>> Tensor.zeros(2, 2).addmm(Tensor.ones(2, 3), Tensor.ones(3, 2), alpha=2)   # all 6
    """
    return _scaled_sum(x, mm(mat1, mat2), beta, alpha, "addmm")


@autocast_op
def baddbmm(x: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
            alpha: Any = 1) -> Tensor:
    """beta * x + alpha * (batch1 @ batch2) for batches of matrices batch1 (b, n, m) and
    batch2 (b, m, p), x broadcast to (b, n, p), as torch.baddbmm."""
    return _scaled_sum(x, bmm(batch1, batch2), beta, alpha, "baddbmm")


def vdot(x: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors of one dtype and length (the first conjugated: the
    dtypes are real), as torch.vdot."""
    b = tensor_arg(other, "vdot", "other")
    if x.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"vdot: 1D tensors expected, but got {x.ndim}D and {b.ndim}D tensors")
    if x.dtype != b.dtype:
        raise RuntimeError(f"vdot: expected both vectors to have same dtype, but found "
                           f"{x.dtype.name} and {b.dtype.name}")
    if x.shape != b.shape:
        raise ShapeError(f"vdot: inconsistent tensor size, got {x.shape[0]} and {b.shape[0]} "
                         "elements")
    return dot(x, b)


def inner(x: Tensor, other: Any) -> Tensor:
    """Sums of products over the last axes: out[i..., j...] = sum_k x[i..., k] other[j..., k]
    (a 0-d operand multiplies), as torch.inner.

    >>> Tensor.ones(2, 3).inner(Tensor.ones(4, 3)).shape    # (2, 4)
    """
    a, b = operands(x, other, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got "
                         f"shapes {list(a.shape)} and {list(b.shape)}")
    return tensordot(a, b, ([-1], [-1]))


@autocast_op
def addmv(x: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * x + alpha * (mat @ vec) for a matrix (n, m) and a vector (m,), x broadcast to
    (n,), as torch.addmv."""
    return _scaled_sum(x, mv(mat, vec), beta, alpha, "addmv")


@autocast_op
def addr(x: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * x + alpha * outer(vec1, vec2), x broadcast to (len(vec1), len(vec2)), as
    torch.addr."""
    return _scaled_sum(x, outer(vec1, vec2), beta, alpha, "addr")


@autocast_op
def addbmm(x: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
           alpha: Any = 1) -> Tensor:
    """beta * x + alpha * sum_b batch1[b] @ batch2[b] for batches (b, n, m) and (b, m, p), x
    broadcast to (n, p), as torch.addbmm."""
    return _scaled_sum(x, bmm(batch1, batch2).sum(0), beta, alpha, "addbmm")


@autocast_op
def trace(x: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix (integers sum in int64), as torch.trace.

    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).trace()     # 5.0
    """
    if x.ndim != 2:
        raise ShapeError(f"trace: expects a matrix (2-D tensor), got shape {tuple(x.shape)}")
    return x.diagonal().sum()


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "matmul": matmul, "dot": dot, "mm": mm, "bmm": bmm, "mv": mv, "outer": outer, "ger": outer,
    "tensordot": tensordot, "einsum": einsum, "addmm": addmm, "baddbmm": baddbmm, "trace": trace,
    "vdot": vdot, "inner": inner, "addmv": addmv, "addr": addr, "addbmm": addbmm,
}
EXPORTS = Exports(methods={**_PUBLIC, "linear": linear},
                  functions=_PUBLIC, functional={"linear": linear})
