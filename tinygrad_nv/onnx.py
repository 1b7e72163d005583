"""`torch.onnx` stand-in: programs that name it at module level import; exporting is not
supported."""

from __future__ import annotations

from typing import Any


def export(*args: Any, **kwargs: Any) -> None:
    """Not supported: raises NotImplementedError."""
    raise NotImplementedError("tinygrad_nv.onnx.export: exporting a model to ONNX is not "
                              "supported; save its weights with "
                              "tinygrad_nv.save(model.state_dict(), path) instead")


def is_in_onnx_export() -> bool:
    """False: no ONNX export ever runs."""
    return False
