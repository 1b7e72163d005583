"""Movement ops: reshape, permute, expand, pad, indexing (gather / scatter-add), concat,
and transfers between devices."""

from __future__ import annotations

from tinygrad_nv.autograd import Function
from tinygrad_nv.ops.elementwise import unbroadcast


class Reshape(Function):
    def forward(self, x, shape: tuple):
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.parents[0].shape)


class Permute(Function):
    def forward(self, x, order: tuple):
        self.order = order
        return x.transpose(order)

    def backward(self, g):
        inverse = [0] * len(self.order)
        for i, axis in enumerate(self.order):
            inverse[axis] = i
        return g.permute(*inverse)


class Expand(Function):
    def forward(self, x, shape: tuple):
        return self.xp.broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.parents[0].shape)


class Pad(Function):
    """Constant padding; `pads` is one (before, after) pair per axis."""

    def forward(self, x, pads: tuple, value: float):
        self.pads = pads
        return self.xp.pad(x, pads, constant_values=value)

    def backward(self, g):
        return g[tuple(slice(before, before + n)
                       for (before, _), n in zip(self.pads, self.parents[0].shape))]


class Index(Function):
    """x[index]: basic indexing (a view) or advanced integer/bool indexing (a gather)."""

    def forward(self, x, index: tuple, advanced: bool):
        self.index, self.advanced = index, advanced
        return x[index]

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, advanced=self.advanced,
                              shape=self.parents[0].shape)


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate): Index's adjoint."""

    def forward(self, g, index: tuple, advanced: bool, shape: tuple):
        self.index, self.advanced = index, advanced
        out = self.xp.zeros(shape, dtype=g.dtype)
        if advanced:
            self.xp.add.at(out, index, g)
        else:
            out[index] = g
        return out

    def backward(self, gg):
        return Index.apply(gg, index=self.index, advanced=self.advanced)


class Cat(Function):
    def forward(self, *arrays, axis: int):
        self.axis = axis
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        for t, needed in zip(self.parents, self.needs_input_grad):
            stop = start + t.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(g[index] if needed else None)
            start = stop
        return tuple(grads)


class Transfer(Function):
    """A copy to another device; the gradient travels back."""

    def forward(self, x, target):
        self.source, self.backend = self.backend, target
        return target.from_host(self.source.to_host(x))

    def backward(self, g):
        return g.to(self.source.name)
