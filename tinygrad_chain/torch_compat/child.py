"""Imported first by a process that an aliased script starts with spawn or forkserver (see install()):
`import torch` resolves to tinygrad_chain there too."""
from tinygrad_chain.torch_compat import install

install()
