"""tc.distributed: torch.distributed's API over MPI (mpi4py, CPU tensors) and NCCL (cupy tensors).

    mpirun -np 2 python train.py          # Open MPI: pip install 'tinygrad_chain[distributed]'

    import tinygrad_chain.distributed as dist
    dist.init_process_group("mpi")        # rank and size come from the launcher, through MPI
    dist.all_reduce(t, op=dist.ReduceOp.AVG)

Importing this module starts nothing: MPI is initialised by init_process_group.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce, barrier,  # noqa: F401
                          broadcast, broadcast_object_list, gather, irecv, isend, recv, reduce,
                          reduce_scatter_tensor, scatter, send)
from .group import (GroupMember, ProcessGroup, destroy_process_group, get_backend, get_global_rank,  # noqa: F401
                    get_group_rank, get_process_group_ranks, get_rank, get_world_size, group, init_process_group,
                    is_available, is_initialized, is_mpi_available, is_nccl_available, new_group)
from .faults import get_debug_level, set_debug_level, set_debug_level_from_env  # noqa: F401
from .reduce_op import ReduceOp  # noqa: F401
from .work import Work  # noqa: F401

__all__ = ["GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "get_backend", "get_debug_level", "get_global_rank", "get_group_rank",
           "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "irecv",
           "is_available", "is_initialized", "is_mpi_available", "is_nccl_available", "isend", "new_group", "recv",
           "reduce", "reduce_scatter_tensor", "scatter", "send", "set_debug_level", "set_debug_level_from_env"]
