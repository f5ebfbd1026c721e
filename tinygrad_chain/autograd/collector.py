"""The cyclic garbage collector, paused while tapes are walked.

A walk makes and drops many small objects, all freed by reference counting; the cyclic
collector would only re-traverse the live graph (a third of the cost of a backward through
small ops). Walks may run in several threads at once: the collector stays paused while any of
them runs, and the last one to finish turns it back on if it was on when the first began.
"""
import gc
import os
import threading

_lock = threading.Lock()
_walks = 0
_resume = False


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
    """Only the forking thread lives on in a child: walks other threads had begun never end there."""
    global _lock, _walks
    _lock = threading.Lock()
    if _walks and _resume and not gc.isenabled():
        gc.enable()
    _walks = 0


os.register_at_fork(after_in_child=_after_fork_in_child)
