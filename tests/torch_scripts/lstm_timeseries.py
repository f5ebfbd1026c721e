#!/usr/bin/env python
"""Time-series prediction with LSTMCells in float64, as pytorch/examples/time_sequence_prediction
(Adam in place of LBFGS), then an nn.LSTM over the same waves with a causal self-attention mask."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 16)
        self.lstm2 = nn.LSTMCell(16, 16)
        self.linear = nn.Linear(16, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), 16, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 16, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 16, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 16, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


class Forecaster(nn.Module):
    """nn.LSTM (batch_first), then attention over the past only (a causal mask from triu)."""

    def __init__(self, hidden=16):
        super().__init__()
        self.rnn = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.query = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        self.rnn.flatten_parameters()
        h, _ = self.rnn(x.unsqueeze(-1))
        scores = self.query(h) @ h.transpose(1, 2) / math.sqrt(h.size(-1))
        steps = x.size(1)
        mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), diagonal=1)
        weights = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        return self.head(weights @ h).squeeze(-1)


def init_from_numpy(model, seed):
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        bound = 1.0 / math.sqrt(p.size(-1) if p.dim() > 1 else p.size(0))
        p.data.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(p.shape))).to(p.dtype))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=6, help='steps to run')
    opt = parser.parse_args()
    # the waves of generate_sine_wave.py, from a seeded NumPy generator
    T, L, N = 20, 40, 12
    rs = np.random.RandomState(2)
    x = np.empty((N, L), 'int64')
    x[:] = np.array(range(L)) + rs.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype('float64')

    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    seq = Sequence()
    seq.double()
    init_from_numpy(seq, 0)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(seq.parameters(), lr=0.02)
    for i in range(opt.steps):
        optimizer.zero_grad()
        out = seq(input)
        loss = criterion(out, target)
        print('step', i, 'loss: %.10f' % loss.item())
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            future = 10
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print('test loss: %.10f' % loss.item())
            y = pred.detach().numpy()
    print('prediction', y.shape, '%.8f' % float(y[0, -1]))

    torch.set_default_dtype(torch.float32)
    model = Forecaster()
    init_from_numpy(model, 1)
    opt2 = optim.RMSprop(model.parameters(), lr=0.01)
    xs, ys = input.float(), target.float()
    for i in range(opt.steps):
        opt2.zero_grad()
        loss = nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt2.step()
        print('lstm step {} loss {:.6f}'.format(i, loss))
