"""tinygrad_chain's benchmark suite: `python -m benchmarks --help`.

Each (library, device) pair runs in its own subprocess, with its thread pools
sized by --threads before anything is imported, so libraries never compete for
cores. Results go to --out as results.json, results.md and PNG charts.
"""
