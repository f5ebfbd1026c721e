"""A small Transformer encoder learns to sort sequences of digits: >= 99% token accuracy on held-out sequences.

Each position reads the whole input through multi-head self-attention (with LayerNorm and residual
connections inside tc.nn.TransformerEncoderLayer) and predicts the digit that belongs there once sorted.

    python examples/transformer_sort.py
"""
from _common import Run, parser

import tinygrad_chain as tc
from tinygrad_chain import nn


class Sorter(nn.Module):
    def __init__(self, vocab, length, d_model, nhead, layers, ff):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(tc.randn(length, d_model) * 0.02)  # learned positions
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=ff, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, x):
        return self.head(self.norm(self.encoder(self.embed(x) + self.pos)))


def batch(n, length, vocab):
    """Random digit sequences and their sorted versions, by counting: position i of the sorted row holds
    the number of digits d whose cumulative count is <= i."""
    x = tc.randint(0, vocab, (n, length))
    counts = (x[:, :, None] == tc.arange(vocab)).long().sum(1)          # (n, vocab)
    below = counts.cumsum(-1)                                           # how many digits are <= d
    y = (below[:, None, :] <= tc.arange(length)[None, :, None]).long().sum(-1)
    return x, y


def token_accuracy(model, x, y):
    model.eval()
    with tc.no_grad():
        acc = float((model(x).argmax(dim=-1) == y).float().mean())
    model.train()
    return acc


def main():
    p = parser(__doc__.splitlines()[0], steps=600, batch_size=128, lr=1e-3)
    p.add_argument("--length", type=int, default=8)
    p.add_argument("--vocab", type=int, default=10, help="digits 0..vocab-1")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    args = p.parse_args()
    if args.smoke:
        args.steps = 5
    run = Run(args)

    # held-out sequences come from their own seed, so they are fixed whatever the training run does
    tc.manual_seed(10_000 + args.seed)
    held_x, held_y = batch(2000, args.length, args.vocab)
    tc.manual_seed(args.seed)
    model = Sorter(args.vocab, args.length, args.d_model, 4, args.layers, 2 * args.d_model).to(run.device)
    opt = tc.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = tc.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss()

    @run.compiled
    def train_step(x, y):
        loss = loss_fn(model(x).reshape(-1, args.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return loss

    for step in run.progress(range(args.steps), desc="steps"):
        loss = train_step(*batch(args.batch_size, args.length, args.vocab))
        run.log(loss, step, every=10)
        if (step + 1) % max(args.steps // 10, 1) == 0:
            run.record("held-out token accuracy", step + 1, token_accuracy(model, held_x, held_y))

    model.eval()
    with tc.no_grad():
        pred = model(held_x).argmax(dim=-1)
    example = f"{held_x[0].tolist()} -> {pred[0].tolist()}"
    print("held-out example:", example)
    metrics = {"heldout_token_accuracy": float((pred == held_y).float().mean()),
               "heldout_sequence_accuracy": float((pred == held_y).all(dim=-1).float().mean()),
               "example": example, "steps": args.steps}
    run.finish(metrics, model, opt)


if __name__ == "__main__":
    main()
