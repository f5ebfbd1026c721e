"""Process groups: the world and its subgroups, each with its own communicator and transport.

Ranks meet through MPI: mpirun (or any MPI launcher) starts the processes and MPI tells each
its rank, so there is no rendezvous address to set. The launcher's variables (Open MPI's
OMPI_COMM_WORLD_*, or RANK/WORLD_SIZE as torch's launcher sets them) and explicit rank= /
world_size= arguments are checked against what MPI says.
"""
import os

from . import faults, mpi_transport

BACKENDS = ("mpi", "nccl")


class ProcessGroup:
    """A set of ranks (global rank numbers, in group order). On a process outside the set,
    comm and transport are None: collectives on it return None, as torch's do."""

    def __init__(self, ranks, comm, backend, timeout):
        self.ranks = list(ranks)
        self.comm = comm  # the group's MPI communicator: objects, barriers, the NCCL rendezvous
        self.backend = backend
        self.timeout = timeout  # seconds, or None: wait forever (blocking MPI calls)
        self.transport = None
        if comm is not None:
            self.transport = (mpi_transport.MpiTransport(comm) if backend == "mpi"
                              else _nccl_transport()(comm))

    @property
    def is_member(self):
        return self.comm is not None

    def rank(self):
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self):
        return len(self.ranks)

    def name(self):
        return self.backend

    def group_rank(self, global_rank, who):
        """The rank in this group of a global rank (src=, dst= are global ranks, as in torch)."""
        if global_rank not in self.ranks:
            raise ValueError(f"{who}: rank {global_rank} is not in the group (ranks {self.ranks})")
        return self.ranks.index(global_rank)

    def destroy(self):
        if self.transport is not None:
            self.transport.close()
        if self.comm is not None:
            self.comm.Free()
        self.comm = self.transport = None

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


def _nccl_transport():
    from .nccl_transport import NcclTransport
    return NcclTransport


class group:  # noqa: N801  (torch's spelling: dist.group.WORLD)
    WORLD = None


GroupMember = group
_ns = group  # functions below take a `group=` argument (torch's name), which hides the class
_subgroups = []


def is_available():
    """True when mpi4py can be imported (an MPI library is then loaded at init_process_group)."""
    try:
        import mpi4py  # noqa: F401  (the package only: importing mpi4py.MPI would start MPI)
    except ImportError:
        return False
    return True


def is_mpi_available():
    return is_available()


def is_nccl_available():
    try:
        from cupy.cuda import nccl
    except Exception:  # ImportError, or a cupy without its CUDA libraries
        return False
    return bool(getattr(nccl, "available", True))


def is_initialized():
    return _ns.WORLD is not None


def _world():
    if _ns.WORLD is None:
        raise RuntimeError("Default process group has not been initialized, please make sure to call "
                           "init_process_group.")
    return _ns.WORLD


def resolve(pg):
    """The group a collective runs on: `pg`, or the world when None."""
    return _world() if pg is None else pg


def launcher_env():
    """(rank, world size, where from) as the launcher set them, or None."""
    for rank_var, size_var in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"),
                               ("RANK", "WORLD_SIZE")):
        if rank_var in os.environ and size_var in os.environ:
            return int(os.environ[rank_var]), int(os.environ[size_var]), f"{rank_var}/{size_var}"
    return None


def local_rank_and_size():
    """This process's index among the ranks on its machine, and their number."""
    for r, s in (("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"), ("LOCAL_RANK", "LOCAL_WORLD_SIZE"),
                 ("MPI_LOCALRANKID", "MPI_LOCALNRANKS")):
        if r in os.environ and s in os.environ:
            return int(os.environ[r]), int(os.environ[s])
    return 0, 1


def _check_launch(comm, rank, world_size):
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    env = launcher_env()
    if env is not None and (env[0], env[1]) != (mpi_rank, mpi_size):
        raise RuntimeError(f"init_process_group: the launcher says rank {env[0]} of {env[1]} ({env[2]}) but MPI "
                           f"says rank {mpi_rank} of {mpi_size}: tc.distributed's ranks meet through MPI, so "
                           f"start them with an MPI launcher: mpirun -np {env[1]} python script.py")
    if world_size not in (-1, None) and int(world_size) != mpi_size:
        raise RuntimeError(f"init_process_group: world_size={world_size} but MPI started {mpi_size} processes "
                           f"(mpirun -np {world_size} ...)")
    if rank not in (-1, None) and int(rank) != mpi_rank:
        raise RuntimeError(f"init_process_group: rank={rank} but MPI gave this process rank {mpi_rank}; ranks "
                           f"are assigned by the launcher")


def _backend(backend):
    name = "mpi" if backend is None else str(backend).lower()
    if name == "cpu:mpi,cuda:nccl":
        name = "mpi"
    if name not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; tinygrad_chain has 'mpi' (CPU tensors, "
                         f"numpy and cpp devices) and 'nccl' (cupy tensors, one rank per GPU)")
    return name


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       groupname="", pg_options=None, device_id=None, *, abort_on_error=True):
    """Join the world group. Launch with mpirun; backend "mpi" (default) or "nccl".

    timeout (seconds or timedelta): a wait longer than this aborts the job, naming the op
    (default None: collectives block as MPI's do, and run at MPI's own speed).
    abort_on_error: an uncaught exception on any rank prints "[rank r]" with its traceback and
    aborts every rank, so a failing rank never leaves the others hanging.
    """
    if _ns.WORLD is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = _backend(backend)
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not supported: ranks meet through "
                         f"MPI (start them with mpirun)")
    if store is not None:
        raise ValueError("init_process_group: store= is not supported: ranks meet through MPI")
    MPI = mpi_transport.load()
    comm = MPI.COMM_WORLD.Dup()  # our own context: the user's MPI messages can't match ours
    _check_launch(comm, rank, world_size)
    if name == "nccl":
        _use_local_gpu(device_id)
    faults.set_debug_level_from_env()
    _ns.WORLD = ProcessGroup(range(comm.Get_size()), comm, name, faults.seconds(timeout))
    if abort_on_error:
        faults.install(comm.Get_rank(), comm.Get_size(), MPI.COMM_WORLD.Abort)


def _use_local_gpu(device_id):
    """One rank per GPU: the local rank picks it, unless device_id names one."""
    import cupy
    if device_id is None:
        local, _ = local_rank_and_size()
        device_id = local % cupy.cuda.runtime.getDeviceCount()
    elif not isinstance(device_id, int):
        device_id = int(str(device_id).rsplit(":", 1)[-1])
    cupy.cuda.Device(device_id).use()


def destroy_process_group(group=None):
    """Free the group's communicator; with no argument, every group and the world."""
    if group is not None and group is not _ns.WORLD:
        group.destroy()
        if group in _subgroups:
            _subgroups.remove(group)
        return
    world = _world()
    for g in _subgroups:
        g.destroy()
    _subgroups.clear()
    world.destroy()
    _ns.WORLD = None
    faults.uninstall()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              groupdesc=None):
    """A group of some of the world's ranks. Every rank of the world must call it (as in torch),
    members and not, with the same ranks; the group's rank order is the order of `ranks`."""
    world = _world()
    n = world.size()
    ranks = list(range(n)) if ranks is None else [int(r) for r in ranks]
    if len(set(ranks)) != len(ranks) or any(not 0 <= r < n for r in ranks):
        raise ValueError(f"new_group: ranks must be distinct ranks of the world (0..{n - 1}), got {ranks}")
    me = world.rank()
    MPI = mpi_transport.load()
    color = 0 if me in ranks else MPI.UNDEFINED
    comm = world.comm.Split(color, ranks.index(me) if me in ranks else 0)
    pg = ProcessGroup(ranks, None if comm == MPI.COMM_NULL else comm,
                      world.backend if backend is None else _backend(backend),
                      world.timeout if timeout is None else faults.seconds(timeout))
    _subgroups.append(pg)
    return pg


def get_rank(group=None):
    pg = resolve(group)
    return pg.rank()


def get_world_size(group=None):
    pg = resolve(group)
    return pg.size() if pg.is_member else -1


def get_backend(group=None):
    return resolve(group).backend


def get_process_group_ranks(group):
    return list(resolve(group).ranks)


def get_global_rank(group, group_rank):
    return resolve(group).ranks[group_rank]


def get_group_rank(group, global_rank):
    return resolve(group).group_rank(global_rank, "get_group_rank")
