"""`Parameter`: the Tensor subclass a Module registers as trainable (PyTorch's nn.Parameter).

>>> w = nn.Parameter(Tensor.randn(3, 4))
>>> isinstance(w, Tensor), w.requires_grad, type(w * 2).__name__    # (True, True, 'Tensor')
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor sharing `data`'s storage that requires grad (unless
    requires_grad=False). Assigning one to a Module attribute registers it; ops on it give
    plain Tensors.

    >>> self.scale = nn.Parameter(Tensor.ones(8))
    """

    __slots__ = ()  # Tensor's layout: a registered leaf tensor can become a Parameter in place

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = Tensor.empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: data must be a Tensor, got {type(data).__name__}; "
                            "make one first: nn.Parameter(tinygrad_nv.tensor(data))")
        param = data.detach()  # shares data's storage (and version counter), as PyTorch
        param.__class__ = cls
        return param.requires_grad_(requires_grad)

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        """Set up by __new__ (Tensor.__init__ must not run on it again)."""

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def is_parameter(value: Any) -> bool:
    """Whether assigning `value` to a Module attribute registers a parameter: a Parameter, or
    a leaf tensor that requires grad (registration makes that same object a Parameter)."""
    return isinstance(value, Parameter) or (isinstance(value, Tensor) and value.requires_grad
                                            and value.is_leaf)


def as_parameter(value: Tensor) -> Parameter:
    """`value` itself as a Parameter: a registered leaf tensor changes class in place, so that
    every reference to it (optimizers, other modules) sees the same object."""
    if type(value) is Tensor:
        value.__class__ = Parameter
    return value  # type: ignore[return-value]


class UninitializedParameter(Parameter):
    """A lazy module's parameter before its first forward (PyTorch's): no shape yet (reading
    it raises); `materialize(shape)` gives it storage of its device and dtype and makes it a
    plain Parameter, the same object, so optimizers built before the first forward keep it."""

    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Any = None,
                dtype: Any = None) -> UninitializedParameter:
        return super().__new__(cls, Tensor.empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None):
        """Set up by __new__."""

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        """Storage of `shape` (uninitialised values) on its device and dtype (or the ones
        given); from now on a Parameter."""
        self.data = Tensor.empty(*shape, device=device or self.device, dtype=dtype or self.dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> tuple[int, ...]:
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. "
                           "This error usually happens in `load_state_dict` when trying to load "
                           "an uninitialized parameter into an initialized one. Call `forward` "
                           "to initialize the parameters before accessing their attributes.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def is_lazy(value: Any) -> bool:
    """Whether `value` is an uninitialized parameter (a lazy module before its first call)."""
    return isinstance(value, UninitializedParameter)
