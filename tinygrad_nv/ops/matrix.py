"""Matrix products: batched matmul (cuBLAS on the GPU), the fused linear layer, einsum."""

from __future__ import annotations

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.ops.activation import Activation, ActivationGrad
from tinygrad_nv.ops.elementwise import unbroadcast


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
            gi = g.einsum(spec, g, *[p for _, p in others])
            if target != subs:  # axes summed inside this operand alone: broadcast back
                gi = gi.reshape(tuple(sizes[c] if c in present else 1 for c in subs))
                gi = gi.expand(tuple(sizes[c] for c in subs))
            grads.append(unbroadcast(gi, t.shape))
        return tuple(grads)
