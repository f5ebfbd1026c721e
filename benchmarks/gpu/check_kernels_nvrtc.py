"""Compile every CUDA kernel of the cupy backend with NVRTC, without a GPU.

cupy compiles kernels only when they first run, so on a machine without a GPU a
C++ mistake in backends/cupy_kernels.py would surface only on the GPU machine.
This compiles the row-wise module as it is, and each ElementwiseKernel body
the way cupy wraps it (T a typedef, inputs by value, outputs by reference),
for float and double. Needs cupy importable (pip install cupy-cuda12x) and
libnvrtc (pip install nvidia-cuda-nvrtc-cu12, or NVRTC_LIBRARY=/path/libnvrtc.so).

    python benchmarks/gpu/check_kernels_nvrtc.py      # exit status 1 on any error
"""
import ctypes
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _nvrtc():
    path = os.environ.get("NVRTC_LIBRARY")
    if not path:
        for entry in sys.path:  # the CUDA 12 wheel's layout, then CUDA 13's
            hits = sorted(glob.glob(os.path.join(entry, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")) +
                          glob.glob(os.path.join(entry, "nvidia", "cu1*", "lib", "libnvrtc.so*")))
            if hits:
                path = hits[0]
                break
    if not path:
        sys.exit("libnvrtc not found: pip install nvidia-cuda-nvrtc-cu12 or set NVRTC_LIBRARY")
    return ctypes.CDLL(path)


def _compile(lib, src, names=(), opts=()):
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"k.cu", 0, None, None):
        return 1, "nvrtcCreateProgram failed"
    for n in names:
        lib.nvrtcAddNameExpression(prog, n.encode())
    opts = ("--gpu-architecture=compute_80",) + tuple(opts)
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts]))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return rc, log.value.decode(errors="replace").strip()


def main():
    lib = _nvrtc()
    sys.path.insert(0, ROOT)  # the backends package alone (it imports nothing above it)
    from backends import cupy_kernels as K
    failures = 0
    rc, log = _compile(lib, K._ROWS_SRC, [f"{k}<{t}>" for k in K._KERNELS for t in K._CTYPE.values()])
    print(f"row-wise module: {'ok' if rc == 0 else 'FAILED'} {log}")
    failures += rc != 0
    ctypes_of = {"int32": "int", "int64": "long long", "float32": "float", "float64": "double"}
    kernels = {n: v for n, v in vars(K).items() if type(v).__name__ == "ElementwiseKernel"}
    kernels.update(_table_kernels(K))
    kernels.update(_fused_programs(K))
    for name, k in sorted(kernels.items()):
        for t in ("float", "double"):
            params = []
            for p in k.in_params:
                ty = p.ctype if p.ctype in ("T", "I") else ctypes_of[str(p.dtype)]
                params.append(f"const {ty}* {p.name}" if p.raw else f"const {ty} {p.name}")
            params += [f"T& {p.name}" for p in k.out_params]
            src = (f"typedef {t} T; typedef long long I;\n{k.preamble}\n"
                   f"extern \"C\" __device__ void f({', '.join(params)}) {{\nlong long i = 0;\n{k.operation};\n}}\n")
            rc, log = _compile(lib, src, opts=("-rdc=true", "-diag-suppress=177"))
            print(f"{name}<{t}>: {'ok' if rc == 0 else 'FAILED'} {log}")
            failures += rc != 0
    sys.exit(1 if failures else 0)


def _table_kernels(K):
    """The kernels built from backends/formulas.py: every activation both ways, every update."""
    from backends import formulas
    out = {f"act_{a.name}_{d}": K.act(a.name, d == "bwd") for a in formulas.ACTS for d in ("fwd", "bwd")}
    for state in (("p", "m", "v"), ("p", "m", "v", "vmax")):
        out[f"adam_{len(state)}"] = K.update("adam", state)
    out["sgd"], out["sgd_momentum"] = K.update("sgd", ("p",)), K.update("sgd_momentum", ("p", "buf"))
    return out


def _fused_programs(K):
    """Kernels for fused programs (backends/lazy.py): the elementwise chain's forward (with its
    sum) and backward, and one that uses every instruction with a constant."""
    from backends import formulas
    names = formulas.INSTRUCTION_NAMES
    op = {n: i for i, n in enumerate(names)}
    import numpy
    programs = {  # (code rows, n_in, n_const, n_out, n_scratch, n_sums)
        "fused_chain_forward": ([(op["mul"], 5, 0, 1), (op["add"], 6, 5, 2), (op["tanh"], 3, 6, -1),
                                 (op["sigmoid"], 4, 0, -1), (op["mul"], 5, 3, 4), (op["sum"], 0, 5, -1)], 3, 0, 2, 2, 1),
        "fused_chain_backward": ([(op["tanh_backward"], 4, 0, 1), (op["mul"], 5, 4, 2), (op["mul"], 7, 4, 3),
                                  (op["sigmoid_backward"], 8, 1, 0), (op["add"], 6, 7, 8)], 4, 0, 3, 2, 0),
        # registers: i0 i1 | c0 | o0 | s0 s1: every instruction reads i0/i1/c0 and writes a scratch, then o0
        "fused_every_instruction": ([(op[n], 4 + k % 2, 0, 2 if k % 3 else 1) if formulas.instruction_arity(n) == 2
                                     else (op[n], 4 + k % 2, 0, -1)
                                     for k, n in enumerate(names) if n != "sum"] + [(op["add"], 3, 4, 5)],
                                    2, 1, 1, 2, 0),
    }
    return {name: K.fused_kernel(names, numpy.array(code, numpy.int32), *sizes)
            for name, (code, *sizes) in programs.items()}


if __name__ == "__main__":
    main()
