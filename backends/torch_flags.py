"""torch.backends' switches, under torch's names, beside the device registry in tc.backends.

    tc.backends.cudnn.benchmark = True            # accepted, remembered
    tc.backends.cuda.matmul.allow_tf32 = True     # likewise
    tc.backends.mps.is_available()                # False: there is no Metal device

Scripts written for torch set these in their first lines. None of them changes what
tinygrad_chain computes: it uses no cuDNN, no TF32 and no MPS (float32 stays full
float32 on every device, and its kernels are deterministic). Each namespace is a module,
so `import tinygrad_chain.backends.cudnn as cudnn` works as torch's does.
"""
import sys
import types


def _module(name, doc, **attrs):
    m = types.ModuleType(f"{__package__}.{name}", doc)
    m.__dict__.update(attrs)
    sys.modules[m.__name__] = m
    return m


class _Matmul:
    """torch.backends.cuda.matmul: its flags, and no others (a misspelt one is an error, as in torch)."""
    __slots__ = ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction")

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


cudnn = _module("cudnn", "cuDNN switches (accepted; tinygrad_chain does not use cuDNN).",
                enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
                is_available=lambda: False, version=lambda: None)



def cuda_namespace(is_built):
    """torch.backends.cuda; is_built() is the registry's answer (whether the cupy device loads here)."""
    return _module("cuda", "CUDA math switches (accepted; GPU matmuls stay in full float32).",
                   matmul=_Matmul(), is_built=is_built)


mps = _module("mps", "Apple's Metal devices: none here (tinygrad_chain has no MPS backend).",
              is_available=lambda: False, is_built=lambda: False)
