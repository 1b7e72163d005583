"""The kernel contract (tinygrad_nv/backend/kernels.py): both kernel objects implement every
method of `Kernels` with its parameters, the coefficient records mirror kernels/optim.cu's
structs field by field, and no op reaches a concrete backend module."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_nv.backend import kernels
from tinygrad_nv.backend.launch import CudaKernels
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REPO = Path(__file__).resolve().parents[2]
CONTRACT = [name for name, member in vars(kernels.Kernels).items()
            if inspect.isfunction(member) and not name.startswith("_")]
RECORDS = [kernels.SgdCoef, kernels.AdamCoef, kernels.RmspropCoef, kernels.NadamCoef,
           kernels.RadamCoef, kernels.AdamaxCoef, kernels.AdadeltaCoef, kernels.AsgdCoef]


def _parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


@pytest.mark.parametrize("implementation", [NumpyKernels, CudaKernels])
@pytest.mark.parametrize("name", CONTRACT)
def test_both_kernel_objects_implement_the_contract(implementation, name):
    assert _parameters(getattr(implementation, name)) == _parameters(
        getattr(kernels.Kernels, name))


def test_the_backends_kernels_satisfy_the_protocol():
    assert isinstance(NumpyKernels(np), kernels.Kernels)
    assert isinstance(CudaKernels(np, load_module=None), kernels.Kernels)


def _struct_fields(source: str, name: str) -> list[str]:
    """The member names of `struct <name> { ... }` in declaration order."""
    body = re.search(rf"struct {name} {{(.*?)\n}};", source, re.S)[1].split("__device__")[0]
    fields = []
    for line in body.split(";"):
        line = re.sub(r"//[^\n]*", "", line).strip()
        if re.match(r"^(T|int)\s", line):
            fields += [f.strip() for f in line.split(None, 1)[1].split(",")]
    return fields


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.__name__)
def test_coefficient_records_mirror_the_cuda_structs(record):
    source = (REPO / "kernels" / "optim.cu").read_text()
    assert [f.name for f in dataclasses.fields(record)] == _struct_fields(source, record.__name__)


def test_a_record_casts_floats_to_the_math_dtype_and_flags_to_int32():
    coef = kernels.AdamCoef.of(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.5,
                               step=2, decoupled=True)
    assert coef.bias1 == 1.0 - 0.9**2 and coef.decay == 1.0 - 0.1 * 0.5
    values = coef.cast(np, np.dtype(np.float32))
    assert [type(v) for v in values] == [np.float32] * 10 + [np.int32]
    assert values[-1] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        coef.lr = 1.0


def test_no_op_imports_a_concrete_backend_module():
    concrete = re.compile(r"backend\.(numpy_kernels|launch|cuda|emu|cpu)\b")
    for path in sorted((REPO / "tinygrad_nv" / "ops").glob("*.py")):
        assert not concrete.search(path.read_text()), path.name


def test_every_written_parameter_is_a_parameter_of_its_method():
    for name, written in kernels.WRITES.items():
        assert set(written) <= set(_parameters(getattr(kernels.Kernels, name))), name
