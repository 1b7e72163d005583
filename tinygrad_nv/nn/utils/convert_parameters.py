"""Parameters as one flat vector and back (PyTorch's `parameters_to_vector`,
`vector_to_parameters`).

>>> vec = nn.utils.parameters_to_vector(model.parameters())     # (total number of elements,)
>>> nn.utils.vector_to_parameters(vec * 0.5, model.parameters())
"""

from __future__ import annotations

from collections.abc import Iterable

from tinygrad_nv._tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one 1-D tensor (differentiable), all on
    one device."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    _same_device(params, "parameters_to_vector")
    return Tensor.cat(*[p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Give each parameter, in order, the next slice of `vec` as its data (`param.data = ...`:
    no gradient flows, and as in PyTorch the parameters then share vec's storage)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got {type(vec).__name__}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec must be 1-D with {total} elements (one per "
                         f"parameter element), got shape {tuple(vec.shape)}")
    _same_device([vec, *params], "vector_to_parameters")
    start = 0
    for p in params:
        p.data = vec[start:start + p.numel()].reshape(p.shape).data
        start += p.numel()


def _tensors(parameters: Iterable[Tensor], op: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(p).__name__}")
    return params


def _same_device(tensors: list[Tensor], op: str) -> None:
    devices = sorted({str(t.device) for t in tensors})
    if len(devices) > 1:
        raise TypeError(f"{op}: found tensors on different devices {devices}; move them to "
                        "one device first")
