"""Matrix products: batched matmul (cuBLAS on the GPU), the fused linear layer, einsum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.dtype import result_dtype
from tinygrad_nv.ops._checks import broadcast_shapes, check_device, tensor_list
from tinygrad_nv.ops.activation import Activation, ActivationGrad, fusable
from tinygrad_nv.ops.elementwise import operands, unbroadcast

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


class MatMul(Function):
    """a @ b for a.ndim, b.ndim >= 2, batch axes broadcast (1-D cases are reshaped outside)."""

    def forward(self, a, b):
        return self.xp.matmul(a, b)

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g @ b.transpose(-1, -2), a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(a.transpose(-1, -2) @ g, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class LinearAct(Function):
    """act(x @ w.T + b) for 2-D x: the product on cuBLAS, bias + activation in one kernel."""

    def forward(self, x, w, b, activation: type[Activation], param: float):
        self.activation, self.param = activation, param
        z = self.xp.matmul(x, w.T)
        self.pre, out = self.kernels.bias_act(z, b, activation.act, param)
        return out

    def backward(self, g):
        x, w, b = self.parents
        # recomputed with its graph only when backward itself is recorded (create_graph)
        pre = x @ w.T + b if is_grad_enabled() else g._like(self.pre)
        gz = ActivationGrad.apply(pre, g, activation=self.activation, param=self.param)
        gx = gz @ w if self.needs_input_grad[0] else None
        gw = gz.transpose(0, 1) @ x if self.needs_input_grad[1] else None
        gb = SumRows.apply(gz) if self.needs_input_grad[2] else None
        return gx, gw, gb


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
        return self.xp.einsum(f"{','.join(inputs)}->{output}", *arrays)

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
            if len(set(subs)) != len(subs):
                raise NotImplementedError(
                    f"einsum: the gradient of an operand with a repeated subscript ({subs!r}) "
                    "is not supported")
            others = [(s, p) for j, (s, p) in enumerate(zip(self.inputs, self.parents)) if j != i]
            present = set(self.output_subs).union(*[s for s, _ in others])
            target = "".join(c for c in subs if c in present)
            spec = ",".join([self.output_subs] + [s for s, _ in others]) + "->" + target
            gi = einsum(spec, g, *[p for _, p in others])
            if target != subs:  # axes summed inside this operand alone: broadcast back
                gi = gi.reshape(tuple(sizes[c] if c in present else 1 for c in subs))
                gi = gi.expand(tuple(sizes[c] for c in subs))
            grads.append(unbroadcast(gi, t.shape))
        return tuple(grads)


# ---------------------------------------------------------------------- functions
def matmul(x: Tensor, other: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched, broadcast, 1-D operands promoted."""
    a, b = operands(x, other, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{a2.shape[-1]} (last axis of the first) != {b2.shape[-2]}")
    try:
        broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not "
                         "broadcast") from None
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    return out.squeeze(-1) if b.ndim == 1 else out


def rmatmul(x: Tensor, other: Any) -> Tensor:
    """other @ x, other an array or nested list."""
    return matmul(type(x)(other, device=x.device), x)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out, in); `activation` (e.g. 'relu') is
    fused into the same kernel as the bias."""
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} needs weight of shape "
                         f"(out, {x.shape[-1] if x.ndim else '?'}), got "
                         f"{weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{bias.shape}")
    kind, param = fusable(activation)
    a, w = operands(x, weight, "linear")
    if bias is None:
        bias = w._like(w.backend.xp.zeros(w.shape[0], dtype=w.dtype))
    b = bias.cast(w.dtype)
    check_device(w, b, "linear")
    out = LinearAct.apply(a.reshape(-1, a.shape[-1]), w, b, activation=kind, param=param)
    return out.reshape(*x.shape[:-1], w.shape[0])


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as numpy.einsum (explicit '->', implicit form and '...')."""
    tensors = tensor_list(operands, "einsum")
    inputs, output = _parse_einsum(subscripts, [t.shape for t in tensors])
    dt = tensors[0].dtype
    for t in tensors[1:]:
        check_device(tensors[0], t, "einsum")
        dt = result_dtype(dt, t.dtype)
    sizes: dict[str, int] = {}
    for subs, t in zip(inputs, tensors):
        for c, n in zip(subs, t.shape):
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                raise ValueError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} "
                                 f"in '{subscripts}' for shapes "
                                 f"{[t.shape for t in tensors]}")
    return Einsum.apply(*[t.cast(dt) for t in tensors], inputs=tuple(inputs), output=output)


def _parse_einsum(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Explicit per-operand subscripts and output, with '...' spelled out as letters."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be the subscripts string")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: '{subscripts}' names {len(inputs)} operands, got "
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
            raise ValueError(f"einsum: bad subscripts '{subscripts}' (letters, ',', '->', "
                             "'...' only)")
        if len(sub) != len(shape):
            raise ValueError(f"einsum: subscripts {sub!r} do not match an operand of shape "
                             f"{shape}")
        expanded.append(sub)
    if arrow:
        output = rhs.replace("...", ell)
        for c in output:
            if c not in "".join(expanded):
                raise ValueError(f"einsum: output subscript {c!r} is not in any input of "
                                 f"'{subscripts}'")
    else:
        letters = "".join(expanded)
        output = ell + "".join(sorted(c for c in set(letters) - set(ell)
                                      if letters.count(c) == 1))
    return expanded, output
