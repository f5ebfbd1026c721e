"""A C compiler for tinygrad's CPU device that comes from PyPI: `zig cc` (the `ziglang` wheel, clang inside).

tinygrad 0.14 compiles every CPU kernel (and its device's own worker programs) by running
`$CC -c -x c ... --target=x86_64-none-unknown-elf ... - -o -`, with CC defaulting to `clang`.
`zig cc` takes the same flags except two: the target is spelled `x86_64-freestanding-none`, and it
cannot write the object to stdout. `compiler()` finds a usable compiler and says how, or why there is
none; without clang it writes a small shell script (no Python per kernel) that translates those two
flags and runs zig.
"""
import hashlib
import os
import shlex
import shutil
import tempfile

HOW_TO_GET = ("it compiles kernels with a C compiler: `pip install ziglang` (in the bench extra) or "
              "`apt-get install clang`")

_SCRIPT = """#!/bin/sh
# zig cc with the two clang flags tinygrad passes translated (benchmarks/runners/zig_cc.py)
out=-; next_is_out=0
for a do
  shift
  if [ $next_is_out = 1 ]; then out=$a; next_is_out=0; continue; fi
  case $a in
    -o) next_is_out=1 ;;
    --target=*) t=${a#--target=}; set -- "$@" -target "${t%%%%-*}-freestanding-none" ;;
    *) set -- "$@" "$a" ;;
  esac
done
if [ "$out" != - ]; then exec %(zig)s cc -g0 "$@" -o "$out"; fi
dir=$(mktemp -d) || exit 1
%(zig)s cc -g0 "$@" -o "$dir/kernel.o" && cat "$dir/kernel.o"; rc=$?
rm -rf "$dir"; exit $rc
"""


def _zig():
    try:
        import ziglang
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(ziglang.__file__), "zig")
    return path if os.access(path, os.X_OK) else None


def script_text(zig):
    return _SCRIPT % {"zig": shlex.quote(zig)}


def compiler():
    """(path of the C compiler tinygrad should run, how it was chosen), or (None, why there is none)."""
    cc = os.environ.get("CC", "")
    if "clang" in os.path.basename(cc):  # tinygrad passes clang's flags: a CC such as gcc would fail
        return cc, f"CC={cc}"
    if shutil.which("clang"):
        return "clang", "the system's clang"
    zig = _zig()
    if zig is None:
        return None, "no clang and no ziglang here; " + HOW_TO_GET
    text = script_text(zig)
    # one script per zig (its path is in the text): checkouts and venvs side by side never share one
    tag = hashlib.sha256(text.encode()).hexdigest()[:12]
    script = os.path.join(tempfile.gettempdir(), f"tinygrad_chain_zigcc_{os.getuid()}_{tag}", "cc")
    if not os.path.exists(script):
        os.makedirs(os.path.dirname(script), exist_ok=True)
        tmp = f"{script}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, script)  # atomic: parallel workers may write it at once
    return script, "zig cc from the ziglang wheel"
