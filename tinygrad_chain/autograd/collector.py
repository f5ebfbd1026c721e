"""The cyclic garbage collector, paused while tapes are walked.

A walk makes and drops many small objects, all freed by reference counting; the cyclic
collector would only re-traverse the live graph (a third of the cost of a backward through
small ops). Walks may run in several threads at once: the collector stays paused while any of
them runs, and the last one to finish turns it back on if it was on when the first began.
"""
import gc
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

