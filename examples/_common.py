"""What every example shares: flags, seeding, the progress bar, metrics, checkpoints and plots.

Each script stays a short story about its model; the plumbing lives here, once.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import tinygrad_chain as tc

HERE = Path(__file__).resolve().parent


def parser(description, *, epochs=None, steps=None, batch_size=64, lr=1e-3):
    """The flags every example takes; a script adds its own before calling parse_args."""
    script = Path(sys.argv[0]).stem
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", help='tinygrad_chain device: "cpu", "numpy", "cpp", "cuda"')
    if epochs is not None:
        p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set")
    if steps is not None:
        p.add_argument("--steps", type=int, default=steps, help="optimizer steps")
    p.add_argument("--seed", type=int, default=0, help="one seed for initialisation, dropout and shuffling")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--out", type=Path, default=Path("runs") / script, help="folder for checkpoint, plot, metrics")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on a slice of the data (for CI)")
    p.add_argument("--compile", action="store_true", help="capture the training step with tc.compile (replayed "
                   "without per-op Python; results equal to eager)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


class Run:
    """One training run: seeds everything, owns the output folder, the curves and the progress bar."""

    def __init__(self, args):
        self.args = args
        self.start = time.perf_counter()
        tc.manual_seed(args.seed)
        tc.set_default_device(args.device)  # every tensor the script makes lands on --device
        self.device = tc.get_default_device()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.curves = {}  # name -> ([x], [y])
        self._bar = None
        self._running = None

    def compiled(self, step):
        """The training step, captured by tc.compile when --compile was given (metrics record which)."""
        return tc.compile(step) if getattr(self.args, "compile", False) else step

    # ---- progress ----
    def progress(self, iterable=None, total=None, desc="train"):
        """A tqdm bar over `iterable` (or `total` steps) whose postfix is the running loss; call .log(loss)."""
        from tqdm.auto import tqdm
        self._bar = tqdm(iterable, total=total, desc=desc, disable=self.args.no_progress, leave=False,
                         mininterval=0.5, dynamic_ncols=True, file=sys.stderr)
        return self._bar

    def log(self, loss, step=None, name="train loss", every=1):
        """Record a loss value (a float or 0-d tensor); the bar shows an exponential running mean."""
        loss = float(loss)
        self._running = loss if self._running is None else 0.95 * self._running + 0.05 * loss
        if step is not None and step % every == 0:
            self.record(name, step, loss)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{self._running:.4f}", refresh=False)

    def record(self, name, x, y):
        xs, ys = self.curves.setdefault(name, ([], []))
        xs.append(x)
        ys.append(float(y))

    # ---- results ----
    def elapsed(self):
        return time.perf_counter() - self.start

    def finish(self, metrics, model=None, optimizer=None, plot=True, extra_plot=None):
        """Save checkpoint, curves and metrics; print the metrics. Returns the metrics dict."""
        if self._bar is not None:
            self._bar.close()
        metrics = dict(metrics)
        metrics["wall_time_s"] = round(self.elapsed(), 2)
        metrics["device"] = self.device.name  # the backend that ran it: "cpp", not "cpu"
        metrics["compiled"] = bool(getattr(self.args, "compile", False))
        if model is not None:
            metrics["checkpoint"] = str(save_checkpoint(self.out / "checkpoint.pt", model, optimizer, self.args))
        if plot:
            metrics["plot"] = str(plot_curves(self.out / "curves.png", self.curves, extra_plot))
        (self.out / "curves.json").write_text(json.dumps(self.curves))
        (self.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        print_metrics(metrics)
        return metrics


def print_metrics(metrics):
    width = max(len(k) for k in metrics)
    print("final metrics:")
    for k, v in metrics.items():
        v = f"{v:.4f}" if isinstance(v, float) else v
        print(f"  {k:<{width}}  {v}")
    sys.stdout.flush()


def save_checkpoint(path, model, optimizer=None, args=None):
    """Model and optimizer state dicts in tinygrad_chain's pickle-free checkpoint format."""
    state = {"model": model.state_dict()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if args is not None:  # enough to know how the weights were made
        state["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    tc.save(state, path)
    return path


def plot_curves(path, curves, extra=None):
    """One panel per curve (train/test loss, accuracy ...); `extra(ax)` draws one more panel."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    panels = len(curves) + (extra is not None)
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(4.5 * max(panels, 1), 3.6), squeeze=False)
    for ax, (name, (xs, ys)) in zip(axes[0], curves.items()):
        ax.plot(xs, ys, marker="." if len(xs) < 40 else None)
        ax.set_title(name)
        ax.set_xlabel("epoch" if "epoch" in name else "step")
        ax.grid(alpha=0.3)
    if extra is not None:
        extra(axes[0][-1])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def accuracy(logits, target):
    """Fraction of rows whose argmax equals the target (both tensors)."""
    return float((logits.argmax(dim=-1) == target).float().mean())


def evaluate(model, batches):
    """Mean accuracy of `model` over (x, y) batches, in eval mode and without a tape."""
    was_training = model.training
    model.eval()
    correct = total = 0
    with tc.no_grad():
        for x, y in batches:
            correct += int((model(x).argmax(dim=-1) == y).sum())
            total += y.shape[0]
    model.train(was_training)
    return correct / max(total, 1)


def shuffle_split(x, y, n_holdout):
    """Shuffle (with the seeded global generator) and split off the last `n_holdout` rows."""
    perm = tc.randperm(x.shape[0])
    x, y = x[perm], y[perm]
    return (x[:-n_holdout], y[:-n_holdout]), (x[-n_holdout:], y[-n_holdout:])


def loader(x, y, batch_size, shuffle):
    """A DataLoader over two tensors (shuffling driven by the seeded global generator)."""
    from tinygrad_chain.utils.data import DataLoader, TensorDataset
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)
