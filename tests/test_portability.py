"""Other hosts: thread counts from the environment and CPU affinity, the instruction set the kernels
run (forced, or portable code that stays portable), and the package without its C++ extension.
Each case runs in a fresh interpreter with a bounded time."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_chain import backends

REPO = Path(__file__).resolve().parent.parent
needs_cpp = pytest.mark.skipif(not backends.is_available("cpp"), reason="needs the C++ extension")


@pytest.fixture
def device():
    """Overrides the per-device fixture: each case starts its own interpreter."""
    return None


def python(code, env=None, preexec_fn=None):
    """(stdout, stderr) of `code` in a new interpreter; fails on a nonzero exit or past 120 s."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout, out.stderr


# a product big enough to run on the pool; prints the kernels' thread count
KERNEL = ("import numpy as np, tinygrad_chain as tc; a = tc.randn(300, 300, device='cpp'); "
          "assert np.allclose((a @ a).numpy(), a.numpy().astype(np.float64) @ a.numpy(), atol=1e-3); "
          "print(tc.get_num_threads())")


@needs_cpp
@pytest.mark.parametrize("value,want", [("1", 1), ("3", 3), ("4,2", 4), (" 2", 2), ("99999", 256),
                                        ("0", None), ("-3", None), ("", None), ("garbage", None), ("2x", None)])
def test_omp_num_threads(value, want):
    """A number sets the kernels' threads (capped at 256: each is an OS thread); anything else
    means the default, the CPUs this process may run on."""
    got = int(python(KERNEL, {"OMP_NUM_THREADS": value})[0])
    assert got == (want if want is not None else len(os.sched_getaffinity(0)))


@needs_cpp
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_one_cpu_affinity_gives_one_thread():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", KERNEL], capture_output=True, text=True, timeout=120, env=env,
                         preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    assert out.returncode == 0 and int(out.stdout) == 1, out.stderr[-2000:]


@needs_cpp
def test_set_num_threads_beyond_the_cap_and_the_int_range():
    out, _ = python("import tinygrad_chain as tc; tc.set_num_threads(10 ** 6); n = tc.get_num_threads(); "
                    "tc.set_num_threads(2 ** 40); m = tc.get_num_threads(); exec(" + repr(KERNEL) + "); print(n, m)")
    assert out.split()[-2:] == ["256", "256"]


@needs_cpp
@pytest.mark.parametrize("files,want", [
    ({"cpu.max": "250000 100000\n"}, 3),  # cgroup v2: 2.5 CPUs, rounded up
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu.max": "max 100000\n"}, 0),  # no quota
    ({"cpu.max": "garbage\n"}, 0),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0),
    ({}, 0),  # no cgroup files at all
])
def test_cgroup_cpu_quota(tmp_path, files, want):
    """A container's CPU quota (docker --cpus) caps the default thread count, as the CPU affinity does."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    from tinygrad_chain import _C
    assert _C._cgroup_cpu_limit(str(tmp_path)) == want


@needs_cpp
def test_an_unknown_or_missing_isa_request_is_reported():
    _, err = python("import tinygrad_chain as tc; tc.randn(2, device='cpp')", {"TINYGRAD_CHAIN_ISA": "avx3"})
    assert re.search(r"TINYGRAD_CHAIN_ISA='avx3' not used \(expected one of generic, avx2, avx512\); the cpp "
                     r"kernels run (generic|avx2|avx512)", err), err


@needs_cpp
@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_forced_isa_trains_like_the_default(isa):
    """A few training steps under a forced instruction set match the default's within float32
    rounding (FMA and vector widths differ, so bits may differ)."""
    from tinygrad_chain import _C
    if isa != "generic" and not _C.set_isa(isa):
        pytest.skip(f"this CPU has no {isa}")
    _C.set_isa(_C.isa())
    code = ("import numpy as np, tinygrad_chain as tc; from tinygrad_chain import _C; tc.manual_seed(0); "
            "m = tc.nn.Sequential(tc.nn.Linear(64, 128), tc.nn.Tanh(), tc.nn.Linear(128, 10)); "
            "x, y = tc.randn(256, 64), tc.randint(0, 10, (256,)); opt = tc.optim.Adam(m.parameters(), lr=1e-2); "
            "exec('for _ in range(5):\\n opt.zero_grad(); l = tc.nn.functional.cross_entropy(m(x), y); "
            "l.backward(); opt.step()'); print(_C.isa(), l.item(), float(m[0].weight.detach().numpy().sum()))")
    forced = python(code, {"TINYGRAD_CHAIN_ISA": isa})[0].split()
    default = python(code, {"TINYGRAD_CHAIN_ISA": ""})[0].split()
    assert forced[0] == isa
    assert abs(float(forced[1]) - float(default[1])) < 1e-4 and abs(float(forced[2]) - float(default[2])) < 1e-2


@needs_cpp
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
def test_only_the_avx_kernels_use_avx_instructions():
    """The extension must load and run its portable kernels on a CPU without AVX: every function
    with a VEX/EVEX instruction (v..., on xmm/ymm/zmm) is in the avx2 or avx512 kernel namespaces
    (an inline function compiled for AVX and shared with portable code by the linker would not be)."""
    from tinygrad_chain import _C
    text = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", _C.__file__], capture_output=True,
                          text=True, timeout=300, check=True).stdout
    function, outside, inside = None, set(), 0
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if head:
            function = head.group(1)
        elif function and re.search(r"\tv[a-z0-9]+\s.*%[xyz]mm", line):
            if "avx2::" in function or "avx512::" in function:
                inside += 1
            else:
                outside.add(function)
    assert inside > 0, "no AVX kernels found: is this the extension?"
    assert not outside, sorted(outside)[:10]


def test_without_the_extension_numpy_works_and_cpp_says_why():
    code = ("import sys; sys.modules['tinygrad_chain._C'] = None\n"  # the import fails, as with no build
            "import tinygrad_chain as tc\n"
            "x = tc.randn(3, 3, requires_grad=True); (x @ x).sum().backward()\n"
            "tc.set_num_threads(1)\n"
            "print(tc.backends.available(), tc.get_default_device(), x.grad.shape, tc.get_num_threads())\n"
            "try:\n    tc.zeros(1, device='cpp')\nexcept RuntimeError as e:\n    print(e)")
    out, _ = python(code)
    first, second = out.splitlines()[:2]
    assert first == "['numpy'] cpu tinygrad_chain.Size([3, 3]) 1"
    assert "device 'cpp' is not available here" in second
    assert "the C++ extension tinygrad_chain._C is not built or does not load" in second
    assert "pip install -v -e ." in second


@pytest.mark.parametrize("compiler", ["aarch64-linux-gnu-g++", "clang++"])
def test_kernels_compile_for_arm_and_with_clang(compiler):
    """The extension builds on an ARM CPU (the AVX units compile to stubs there) and with clang (macOS's
    compiler: no __builtin_shuffle, no GCC target pragma); checked where such a compiler is installed."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    import sysconfig

    import pybind11
    csrc = REPO / "csrc"
    if not (csrc / "generated" / "formulas.h").exists():
        pytest.skip("csrc/generated/ is written by the build")
    for unit in ("isa_generic.cpp", "isa_avx2.cpp", "isa_avx512.cpp", "pool.cpp", "dispatch.cpp", "threadpool.cpp"):
        out = subprocess.run([compiler, "-std=c++17", "-fsyntax-only", "-pthread", f"-I{csrc}",
                              f"-I{sysconfig.get_paths()['include']}", f"-I{pybind11.get_include()}", str(csrc / unit)],
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"{compiler} {unit}:\n{out.stderr[-3000:]}"
