"""What library code tells tc.compile while a step is traced. Outside the compile package, which
imports nn and optim: nn imports this while it loads (it imports nothing).

`tracer` is the Tracer recording a step on this process, or None (then every hook is one global
read). A validation that reads tensor values into Python (a class-index target's range) is marked
`@replayed_check`: a trace records it as a call, replayed every step on that step's tensors, and
its result (say, "no row is ignored") becomes a guard of the replay.
"""
import functools

tracer = None


def replayed_check(fn):
    @functools.wraps(fn)
    def check(*args, **kwargs):
        if tracer is None:
            return fn(*args, **kwargs)
        return tracer.check(fn, args, kwargs)
    return check
