"""Every kernel file compiles for the GPU (nvcc for sm_80 and sm_90 with warnings as errors, and
NVRTC the way CuPy's RawModule does), and ships with the package."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tinygrad_nv.backend.cuda import NVRTC_OPTIONS
from tinygrad_nv.backend.emu import emulation_header
from tinygrad_nv.backend.launch import FAMILY_DEPENDENCIES, kernel_dir, kernel_source, module_source

REPO = Path(__file__).resolve().parents[2]
FAMILIES = sorted(p.stem for p in (REPO / "kernels").glob("*.cu"))
KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')


def kernel_names(source: str) -> list[str]:
    return KERNEL.findall(source)


# kernels with float16 and bfloat16 variants (16-bit storage, float math: lowp.cu) besides every
# kernel of optim.cu and amp.cu; lowp.cu itself holds only the conversions
LOW_PRECISION = {"activation": {"act_forward", "act_backward"}, "linear": {"bias_act"},
                 "softmax": {"softmax_forward", "softmax_backward", "softmax_forward_warp",
                             "softmax_backward_warp"},
                 "cross_entropy": {"cross_entropy", "cross_entropy_warp",
                                   "cross_entropy_backward"},
                 "norm": {"layer_norm_forward", "layer_norm_backward", "layer_norm_forward_warp",
                          "layer_norm_backward_warp"},
                 "attention": {"attention_softmax_forward", "attention_softmax_backward",
                               "attention_softmax_forward_warp",
                               "attention_softmax_backward_warp"},
                 "conv": {f"{k}{layout}{idx}" for k in ("im2col", "col2im")
                          for layout in ("", "_cn") for idx in ("", "_idx32")}}
PRELUDES = {"lowp"}


def test_every_family_has_float32_and_float64_kernels():
    assert {"activation", "linear", "softmax", "cross_entropy", "optim", "conv",
            "recurrent"} <= set(FAMILIES)
    for family in FAMILIES:
        source = kernel_source(family)
        assert "#include" not in source, f"{family}.cu: NVRTC has no standard headers"
        names = kernel_names(source)
        if family in PRELUDES:  # device functions only
            assert not names
            continue
        bases = {n.rsplit("_", 1)[0] for n in names}
        low = bases if family in ("optim", "amp") else LOW_PRECISION.get(family, set())
        assert names and set(names) == {f"{b}_{s}" for b in bases for s in ("f32", "f64")} | {
            f"{b}_{s}" for b in low for s in ("f16", "bf16")}


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("family", FAMILIES)
def test_nvcc_compiles(family, arch, tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    source = tmp_path / f"{family}.cu"
    source.write_text(module_source(family))
    proc = subprocess.run([nvcc, "-ptx", f"-arch={arch}", "-Werror", "all-warnings",
                           *NVRTC_OPTIONS, str(source), "-o", str(tmp_path / "out.ptx")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ptx = (tmp_path / "out.ptx").read_text()
    for name in kernel_names(kernel_source(family)):
        assert f".entry {name}(" in ptx


@pytest.mark.parametrize("family", FAMILIES)
def test_nvrtc_compiles(family):
    try:
        from cupy.cuda import nvrtc

        prog = nvrtc.createProgram(module_source(family), f"{family}.cu", [], [])
    except Exception as e:  # no CuPy, or no libnvrtc (pip install nvidia-cuda-nvrtc-cu12)
        pytest.skip(f"NVRTC is not usable here: {e}")
    # cupy.RawModule adds -ftz=true and --device-as-default-execution-space to our options
    options = ["-arch=compute_90", *NVRTC_OPTIONS, "-ftz=true",
               "--device-as-default-execution-space"]
    try:
        nvrtc.compileProgram(prog, options)
    except nvrtc.NVRTCError as e:
        pytest.fail(f"{family}.cu: {e}\n{nvrtc.getProgramLog(prog)}")
    ptx = nvrtc.getPTX(prog).decode()
    for name in kernel_names(kernel_source(family)):
        assert f".entry {name}(" in ptx
    nvrtc.destroyProgram(prog)


def test_sources_are_found_through_the_package():
    found = sorted(p.name for p in kernel_dir().iterdir() if p.name.endswith(".cu"))
    assert found == [f"{f}.cu" for f in FAMILIES]
    assert all(dep in FAMILIES for deps in FAMILY_DEPENDENCIES.values() for dep in deps)
    assert "__syncthreads" in emulation_header()


def test_wheel_ships_kernels_and_header(tmp_path):
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert {f"tinygrad_nv/kernels/{f}.cu" for f in FAMILIES} <= names
    assert "tinygrad_nv/backend/cuda_emu.h" in names
    # installed, the package finds its own copies (not the repository's)
    code = ("from tinygrad_nv.backend.launch import kernel_dir, kernel_source;"
            "from tinygrad_nv.backend.emu import emulation_header;"
            "kernel_source('softmax'); emulation_header(); print(kernel_dir())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve().is_relative_to((tmp_path / "site").resolve())
