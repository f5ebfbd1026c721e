"""Programs that tests/test_distributed.py runs under mpirun (run.py is the entry point)."""
