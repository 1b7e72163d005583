"""Elementwise ops: binary arithmetic with broadcasting, unary math, where, clip, cast."""

from __future__ import annotations

from tinygrad_nv.autograd import Function


def unbroadcast(grad, shape: tuple):
    """Sum a gradient down to `shape`: the adjoint of broadcasting `shape` to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdim=True).reshape(shape)


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        return a**b

    def backward(self, g):
        a, b = self.parents
        ga = gb = None
        if self.needs_input_grad[0]:  # b * a^(b-1), and 0 where b == 0 (PyTorch: no 0 * inf)
            ga = unbroadcast(g * (b == 0).where(0.0, b * a ** (b - 1)), a.shape)
        if self.needs_input_grad[1]:  # a^b * log(a), and 0 where a == 0 and b >= 0
            zero = (a == 0) & (b >= 0)
            gb = unbroadcast(g * zero.where(0.0, a**b * a.log()), b.shape)
        return ga, gb


class Maximum(Function):
    """max(a, b); at ties the gradient is split evenly, as in PyTorch."""

    def forward(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.parents
        share = g._like(((a.data > b.data) + 0.5 * (a.data == b.data)).astype(g.dtype))
        ga = unbroadcast(g * share, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - share), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Where(Function):
    """cond ? a : b, cond a bool tensor that gets no gradient."""

    def forward(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def backward(self, g):
        cond, a, b = self.parents
        ga = unbroadcast(cond.where(g, 0.0), a.shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(cond.where(0.0, g), b.shape) if self.needs_input_grad[2] else None
        return None, ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    save_output = True

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, g):
        return g * self.output()


class Log(Function):
    def forward(self, x):
        return self.xp.log(x)

    def backward(self, g):
        return g / self.parents[0]


class Sqrt(Function):
    save_output = True

    def forward(self, x):
        return self.xp.sqrt(x)

    def backward(self, g):
        return g / (2 * self.output())


class Sin(Function):
    def forward(self, x):
        return self.xp.sin(x)

    def backward(self, g):
        return g * self.parents[0].cos()


class Cos(Function):
    def forward(self, x):
        return self.xp.cos(x)

    def backward(self, g):
        return -g * self.parents[0].sin()


class Reciprocal(Function):
    save_output = True

    def forward(self, x):
        return 1 / x

    def backward(self, g):
        out = self.output()
        return -g * out * out


class Abs(Function):
    def forward(self, x):
        return self.xp.abs(x)

    def backward(self, g):
        return g * self.parents[0].sign()


class Sign(Function):
    """sign(x): its gradient is zero everywhere (as in PyTorch)."""

    def forward(self, x):
        return self.xp.sign(x)

    def backward(self, g):
        return g * 0


class Clip(Function):
    """clamp(x, low, high); gradient 1 where low <= x <= high (PyTorch's convention)."""

    def forward(self, x, low, high):
        self.low, self.high = low, high
        return self.xp.clip(x, low, high)

    def backward(self, g):
        x = self.parents[0].data
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return g * g._like(inside.astype(g.dtype))


class Cast(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g):
        return g.cast(self.parents[0].dtype)
