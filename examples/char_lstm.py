"""A character-level LSTM language model on Python's own standard-library source (offline everywhere).

Reports held-out cross-entropy (nats/char) against the unigram baseline, and prints a generated sample.

    python examples/char_lstm.py
"""
import importlib
import math
import random
from collections import Counter
from pathlib import Path

from _common import Run, parser

import tinygrad_chain as tc
from tinygrad_chain import nn

# pure-Python stdlib modules present in every CPython >= 3.10
MODULES = ("textwrap", "shlex", "fnmatch", "glob", "heapq", "bisect", "colorsys", "string", "calendar", "difflib",
           "pprint", "queue", "sched", "getopt", "gettext", "netrc", "tabnanny", "reprlib", "keyword", "numbers")


def corpus(limit=None):
    """The modules' source, ASCII only, concatenated in a fixed order."""
    text = "\n".join(Path(importlib.import_module(m).__file__).read_text(encoding="utf-8") for m in MODULES)
    text = text.encode("ascii", "replace").decode("ascii").replace("\t", "    ")
    return text[:limit] if limit else text


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state


def windows(data, starts, length):
    """Rows data[s : s + length] for each start s (one gather)."""
    return data[starts[:, None] + tc.arange(length)]


def heldout_loss(model, data, length, loss_fn):
    """Mean next-character loss over consecutive windows of the held-out text."""
    n = (data.shape[0] - 1) // length
    starts = tc.arange(n) * length
    model.eval()
    with tc.no_grad():
        x, y = windows(data, starts, length), windows(data, starts + 1, length)
        logits, _ = model(x)
        loss = float(loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
    model.train()
    return loss


def sample(model, stoi, itos, prompt, n, temperature, seed):
    """Generate n characters after `prompt`, carrying the LSTM state one character at a time."""
    rng = random.Random(seed)
    model.eval()
    out, state = prompt, None
    with tc.no_grad():
        x = tc.tensor([[stoi[c] for c in prompt]])
        for _ in range(n):
            logits, state = model(x, state)
            probs = (logits[0, -1] / temperature).softmax(-1).tolist()
            nxt = rng.choices(range(len(probs)), weights=probs)[0]
            out += itos[nxt]
            x = tc.tensor([[nxt]])
    model.train()
    return out


def main():
    p = parser(__doc__.splitlines()[0], steps=800, batch_size=32, lr=3e-3)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--layers", type=int, default=1)
    args = p.parse_args()
    if args.smoke:
        args.steps, args.hidden = 5, 32
    run = Run(args)

    text = corpus(limit=40_000 if args.smoke else None)
    chars = sorted(set(text))
    stoi, itos = {c: i for i, c in enumerate(chars)}, dict(enumerate(chars))
    split = int(0.9 * len(text))
    train_text, held_text = text[:split], text[split:]
    train = tc.tensor([stoi[c] for c in train_text])
    held = tc.tensor([stoi[c] for c in held_text])

    # unigram baseline: held-out cross-entropy of the training set's character frequencies (add-one smoothed)
    counts = Counter(train_text)
    total = len(train_text) + len(chars)
    unigram = -sum(math.log((counts[c] + 1) / total) for c in held_text) / len(held_text)
    print(f"corpus: {len(text):,} chars from {len(MODULES)} stdlib modules, vocab {len(chars)}; "
          f"unigram baseline {unigram:.3f} nats/char")

    model = CharLSTM(len(chars), 48, args.hidden, args.layers).to(run.device)
    opt = tc.optim.Adam(model.parameters(), lr=args.lr)
    sched = tc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    loss_fn = nn.CrossEntropyLoss()
    L = args.seq_len

    @run.compiled
    def train_step(x, y):
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        return loss

    for step in run.progress(range(args.steps), desc="steps"):
        starts = tc.randint(0, train.shape[0] - L - 1, (args.batch_size,))
        loss = train_step(windows(train, starts, L), windows(train, starts + 1, L))
        run.log(loss, step, every=10)
        if (step + 1) % max(args.steps // 8, 1) == 0 or step + 1 == args.steps:
            run.record("held-out loss (nats/char)", step + 1, heldout_loss(model, held, 256, loss_fn))

    held_loss = heldout_loss(model, held, 256, loss_fn)
    text_out = sample(model, stoi, itos, "def ", 300 if not args.smoke else 40, 0.8, args.seed)
    print("---- sample (temperature 0.8) ----\n" + text_out + "\n----------------------------------")
    (run.out / "sample.txt").write_text(text_out)
    metrics = {"heldout_loss": held_loss, "unigram_baseline": unigram, "ratio_to_unigram": held_loss / unigram,
               "heldout_bits_per_char": held_loss / math.log(2), "steps": args.steps}
    run.finish(metrics, model, opt)


if __name__ == "__main__":
    main()
