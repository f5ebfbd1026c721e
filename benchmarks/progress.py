"""A progress bar: tqdm when installed, else one plain line per finished case."""
import sys

try:
    from tqdm import tqdm
except ImportError:  # tqdm is optional (the `bench` extra)
    tqdm = None


class Bar:
    def __init__(self, total):
        self.total, self.done = total, 0
        self._bar = tqdm(total=total, unit="case", dynamic_ncols=True, file=sys.stderr) if tqdm else None

    def update(self, n, text):
        self.done += n
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(n)
        else:
            print(f"[{self.done}/{self.total}] {text}", file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
