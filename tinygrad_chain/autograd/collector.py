"""The cyclic garbage collector, paused while tapes are walked.

A walk makes and drops many small objects, all freed by reference counting; the cyclic
collector would only re-traverse the live graph (a third of the cost of a backward through
small ops). Walks may run in several threads at once: the collector stays paused while any of
them runs, and the last one to finish turns it back on if it was on when the first began.
The lock that makes each accumulation into a .grad one step lives here too, with the other state
that concurrent walks share (both are renewed in a forked child).
"""
import gc
import os
import threading

_lock = threading.Lock()
_walks = 0
_resume = False
#: held while a backward pass adds into a leaf's .grad: threads' passes into one leaf must each read,
#: add and write it as one step (torch's AccumulateGrad holds a mutex too); the engine takes it
grad_lock = threading.Lock()


def pause():
    global _walks, _resume
    with _lock:
        if _walks == 0:
            _resume = gc.isenabled()
            gc.disable()
        _walks += 1


def resume():
    global _walks
    with _lock:
        _walks -= 1
        if _walks == 0 and _resume:
            gc.enable()


def _after_fork_in_child():
    """Only the forking thread lives on in a child: walks other threads had begun never end there,
    and locks they held stay held."""
    global _lock, _walks, grad_lock
    _lock, grad_lock = threading.Lock(), threading.Lock()
    if _walks and _resume and not gc.isenabled():
        gc.enable()
    _walks = 0


os.register_at_fork(after_in_child=_after_fork_in_child)
