"""python -m tinygrad_chain.torch_compat script.py [args...]: see the package's docstring."""
import sys

from tinygrad_chain.torch_compat import main

sys.exit(main())
