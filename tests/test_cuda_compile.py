"""Every CUDA source under drr/kernels compiles for sm_80 and sm_90 (nvcc, else NVRTC via CuPy).

No GPU is needed: a kernel that does not compile cannot land.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import drr

KERNEL_DIR = Path(drr.__file__).parent / "kernels"
CU_FILES = sorted(KERNEL_DIR.glob("*.cu"))
ARCHS = ("sm_80", "sm_90")
ENTRY_POINTS = {"siddon.cu": ("drr_siddon_f32", "drr_siddon_f16", "drr_siddon_count"),
                "trilinear.cu": ("drr_trilinear_tex", "drr_trilinear_f32", "drr_trilinear_f16")}


def test_kernel_sources_exist():
    assert [p.name for p in CU_FILES] == sorted(ENTRY_POINTS)
    for header in ("ray_common.h", "siddon_ray.h", "trilinear_ray.h", "host_shim.h"):
        assert (KERNEL_DIR / header).is_file(), header


def _nvrtc_compile(cu: str, arch: str) -> str:
    """PTX of the kernel source as the CUDA backend builds it, from CuPy's NVRTC binding."""
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as exc:
        pytest.skip(f"neither nvcc (on PATH) nor CuPy's NVRTC is available to compile the kernels ({exc})")
    from drr.backends.cuda import COMPILE_OPTIONS, kernel_source
    prog = nvrtc.createProgram(kernel_source(cu), cu, [], [])
    try:
        nvrtc.compileProgram(prog, [f"--gpu-architecture=compute_{arch[3:]}", *COMPILE_OPTIONS])
    except Exception as exc:
        pytest.fail(f"NVRTC failed on {arch}: {exc}\n{nvrtc.getProgramLog(prog)}")
    ptx = nvrtc.getPTX(prog)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


@pytest.mark.parametrize("cu", sorted(ENTRY_POINTS))
def test_inlined_source_compiles_without_include_paths(cu, tmp_path):
    """The backend's single-string source (what NVRTC gets) needs no -I and no files."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not on PATH")
    from drr.backends.cuda import kernel_source
    src = tmp_path / "inlined.cu"
    text = kernel_source(cu)
    src.write_text(text)
    assert '#include "ray_common.h"' not in text and '#include "siddon_ray.h"' not in text
    assert text.count("#define DRR_RAY_COMMON_H") == 1                 # each header inlined once
    proc = subprocess.run([nvcc, "-arch=sm_80", "-fmad=false", "--ptx", str(src), "-o",
                           str(tmp_path / "inlined.ptx")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ptx = (tmp_path / "inlined.ptx").read_text()
    for name in ENTRY_POINTS[cu]:
        assert f".entry {name}(" in ptx


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("cu", CU_FILES, ids=lambda p: p.name)
def test_cu_compiles(cu, arch, tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        ptx = _nvrtc_compile(cu.name, arch)
    else:
        # -cubin runs ptxas too (register allocation, launch bounds), not just the front end
        out = tmp_path / (cu.stem + ".cubin")
        cmd = [nvcc, f"-arch={arch}", "-fmad=false", "-cubin", "-Xptxas", "-v", "-Werror",
               "all-warnings", f"-I{KERNEL_DIR}", str(cu), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
        assert out.stat().st_size > 0
        ptx = proc.stdout + proc.stderr                # ptxas -v names every entry it compiled
        for name in ENTRY_POINTS[cu.name]:
            assert f"Compiling entry function '{name}' for '{arch}'" in ptx, ptx
        return
    for name in ENTRY_POINTS[cu.name]:                      # extern "C": unmangled entry points
        assert f".entry {name}(" in ptx, f"{name} missing from the PTX"
    assert f".target {arch}" in ptx or f".target compute_{arch[3:]}" in ptx
