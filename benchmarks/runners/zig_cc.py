"""A C compiler for tinygrad's CPU device that comes from PyPI: `zig cc` (the `ziglang` wheel, clang inside).

tinygrad 0.14 compiles every CPU kernel (and its device's own worker programs) by running
`$CC -c -x c ... --target=x86_64-none-unknown-elf ... - -o -`, with CC defaulting to `clang`.
`zig cc` takes the same flags except two: the target is spelled `x86_64-freestanding-none`, and it
cannot write the object to stdout. Run as a script, this file is that compiler (it translates those
two and calls zig); `compiler()` finds a usable one and says how it was found, or why there is none.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HOW_TO_GET = ("it compiles kernels with a C compiler: `pip install ziglang` (in the bench extra) or "
              "`apt-get install clang`")


def _zig():
    try:
        import ziglang
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(ziglang.__file__), "zig")
    return path if os.access(path, os.X_OK) else None


def compiler():
    """(path of the C compiler tinygrad should run, how it was chosen), or (None, why there is none)."""
    cc = os.environ.get("CC", "")
    if "clang" in os.path.basename(cc):  # tinygrad passes clang's flags: a CC such as gcc would fail
        return cc, f"CC={cc}"
    if shutil.which("clang"):
        return "clang", "the system's clang"
    if _zig() is None:
        return None, "no clang and no ziglang here; " + HOW_TO_GET
    # tinygrad runs CC as one program: a tiny script that hands its arguments to this file
    folder = os.path.join(tempfile.gettempdir(), f"tinygrad_chain_zigcc_{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    script = os.path.join(folder, "cc")
    text = f"#!/bin/sh\nexec '{sys.executable}' '{os.path.abspath(__file__)}' \"$@\"\n"
    if not os.path.exists(script) or open(script).read() != text:
        tmp = f"{script}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, script)  # atomic: parallel workers may write it at once
    return script, "zig cc from the ziglang wheel"


def main(argv):
    args, out = [], "-"
    it = iter(argv)
    for a in it:
        if a.startswith("--target="):  # clang's triple x86_64-none-unknown-elf -> zig's x86_64-freestanding-none
            args += ["-target", a.split("=", 1)[1].split("-")[0] + "-freestanding-none"]
        elif a == "-o":
            out = next(it)
        else:
            args.append(a)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "kernel.o") if out == "-" else out
        rc = subprocess.run([_zig(), "cc", "-g0", *args, "-o", path]).returncode
        if rc == 0 and out == "-":
            with open(path, "rb") as f:
                sys.stdout.buffer.write(f.read())
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
