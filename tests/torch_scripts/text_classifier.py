#!/usr/bin/env python
"""Sequence classification as real scripts write it: variable-length token sequences padded with pad_sequence,
an Embedding(padding_idx) and a bidirectional GRU over pack_padded_sequence (enforce_sorted=False), AdamW with
weight-decay groups from named_parameters, a LinearLR warm-up then cosine (SequentialLR), clip_grad_norm_, a
GradScaler and autocast that are off on the CPU, label smoothing, and a checkpoint round trip.
Data and initial weights come from NumPy, so torch and tinygrad_chain print the same numbers."""
import argparse
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--samples", type=int, default=96)
parser.add_argument("--amp", action="store_true")
args = parser.parse_args()

VOCAB, CLASSES, PAD = 30, 3, 0
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Tokens(Dataset):
    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            length = int(rng.integers(2, 9))
            tokens = rng.integers(1, VOCAB, length)
            label = int(tokens.sum() % CLASSES)
            self.items.append((torch.tensor(tokens, dtype=torch.long), label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    return pad_sequence(seqs, batch_first=True, padding_value=PAD), lengths, torch.tensor(labels)


class Classifier(nn.Module):
    def __init__(self, dim=12, hidden=10):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim, padding_idx=PAD)
        self.rnn = nn.GRU(dim, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(2 * hidden)
        self.head = nn.Linear(2 * hidden, CLASSES)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        mask = (torch.arange(out.size(1)).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)
        pooled = (out * mask).sum(1) / lengths.unsqueeze(1)
        last = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.head(self.norm(pooled + last))


def init_from_numpy(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * 0.3).astype(np.float32)))
        model.embed.weight[PAD].fill_(0)


model = Classifier().to(device)
init_from_numpy(model, 1)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "embed" in n]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=0.02)
loader = DataLoader(Tokens(args.samples, 2), batch_size=16, shuffle=False, collate_fn=collate)
steps = args.epochs * len(loader)
scheduler = SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.2, total_iters=3),
                                     CosineAnnealingLR(optimizer, T_max=max(steps - 3, 1), eta_min=1e-4)],
                         milestones=[3])
scaler = torch.amp.GradScaler("cuda", enabled=args.amp and device.type == "cuda")

for epoch in range(1, args.epochs + 1):
    model.train()
    total, norms = 0.0, []
    for tokens, lengths, labels in loader:
        tokens, labels = tokens.to(device), labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, enabled=args.amp and device.type == "cuda"):
            loss = F.cross_entropy(model(tokens, lengths), labels, label_smoothing=0.1)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).item())
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total += loss.item() * len(labels)
    print(f"epoch {epoch} loss {total / args.samples:.6f} grad norm {np.mean(norms):.6f} "
          f"lr {scheduler.get_last_lr()[0]:.6f}")

model.eval()
buffer = io.BytesIO()
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
           buffer)
buffer.seek(0)
checkpoint = torch.load(buffer, map_location=device)
restored = Classifier().to(device)
restored.load_state_dict(checkpoint["model"])
restored.eval()
with torch.no_grad():
    correct = 0
    for tokens, lengths, labels in loader:
        logits = restored(tokens, lengths)
        assert torch.allclose(logits, model(tokens, lengths))
        correct += (logits.argmax(dim=1) == labels).sum().item()
print(f"accuracy {correct / args.samples:.6f}")
