#!/usr/bin/env python3
"""PyTorch (CPU, float32) on the book's SimpleConvNet and DeepConvNet, timed as
`scratchnet train --net simple-cnn | deep-cnn` times itself: training steps only (batch
gather, forward, backward, Adam update), evaluation excluded. For side-by-side runs with
`scratchnet train --summary-json`.

Usage (in a virtualenv with torch and numpy; scratchnet itself never depends on Python):

    python3 benches/torch_train_cnn.py --net simple-cnn --threads 1 --epochs 1 \
        --data ../shared/datasets/mnist

    simple-cnn  conv 30 5×5 → relu → max-pool 2 → affine 100 → relu → affine 10;
                W ~ N(0, 0.01²), biases 0 (the book's weight_init_std = 0.01)
    deep-cnn    conv 16, 16 (3×3, pad 1) → pool → conv 32 (pad 1), 32 (pad 2) → pool →
                conv 64, 64 (pad 1) → pool → affine 50 → relu → dropout 0.5 → affine 10 →
                dropout 0.5; every conv followed by relu; He init, biases 0; dropout is
                PyTorch's nn.Dropout unless --dropout book (the book's form, as scratchnet)
Both: Adam lr 0.001 (torch.optim.Adam unless --adam book), batch 100, shuffled epochs.

Prints one JSON line: net, threads, epochs, train_seconds, test_acc.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

# The IDX reader and file lookup are the MLP script's (same folder).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import find, load_idx  # noqa: E402


def build(net, torch, book_dropout=False):
    nn = torch.nn

    class BookDropout(nn.Module):
        """The textbook's (and scratchnet's) non-inverted dropout: training zeroes with
        probability p and does not rescale, evaluation scales by 1 - p. nn.Dropout instead
        scales the kept values by 1 / (1 - p) in training and passes them through in eval."""

        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if self.training:
                return x * (torch.rand_like(x) >= self.p)
            return x * (1 - self.p)

    dropout = BookDropout if book_dropout else nn.Dropout
    if net == "simple-cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
            nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        return model
    layers = []
    c_in = 1
    for i, (c_out, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=pad), nn.ReLU()]
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2, 2))
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(), dropout(0.5),
               nn.Linear(50, 10), dropout(0.5)]
    model = nn.Sequential(*layers)
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, std=(2.0 / fan_in) ** 0.5)
            nn.init.zeros_(m.bias)
    return model


def book_adam(torch, params, lr=0.001, beta1=0.9, beta2=0.999):
    """The book's Adam (and scratchnet's): lr_t = lr·√(1 − β2ᵗ)/(1 − β1ᵗ),
    p −= lr_t·m / (√v + 1e-7), i.e. the 1e-7 added to the uncorrected √v, where
    torch.optim.Adam adds 1e-8 to the bias-corrected one."""

    class BookAdam(torch.optim.Optimizer):
        def __init__(self):
            super().__init__(params, {})
            self.t = 0

        @torch.no_grad()
        def step(self):
            self.t += 1
            lr_t = lr * (1 - beta2 ** self.t) ** 0.5 / (1 - beta1 ** self.t)
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    if not state:
                        state["m"] = torch.zeros_like(p)
                        state["v"] = torch.zeros_like(p)
                    m, v, g = state["m"], state["v"], p.grad
                    m.add_(g - m, alpha=1 - beta1)
                    v.add_(g * g - v, alpha=1 - beta2)
                    p.sub_(lr_t * m / (v.sqrt() + 1e-7))

    return BookAdam()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["simple-cnn", "deep-cnn"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--data", default="../shared/datasets/mnist")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--adam", choices=["torch", "book"], default="torch",
                    help="torch.optim.Adam (the default) or the book's form of Adam, which "
                         "scratchnet implements (see book_adam)")
    ap.add_argument("--dropout", choices=["inverted", "book"], default="inverted",
                    help="deep-cnn's dropout: PyTorch's nn.Dropout (inverted, the default) or "
                         "the book's non-inverted form, which scratchnet implements")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train = torch.from_numpy(load_idx(find(args.data, "train-images-idx3-ubyte"))
                               .reshape(60000, 1, 28, 28).astype(np.float32) / 255)
    t_train = torch.from_numpy(load_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x_test = torch.from_numpy(load_idx(find(args.data, "t10k-images-idx3-ubyte"))
                              .reshape(10000, 1, 28, 28).astype(np.float32) / 255)
    t_test = torch.from_numpy(load_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))

    model = build(args.net, torch, args.dropout == "book")
    if args.adam == "book":
        opt = book_adam(torch, model.parameters())
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.from_numpy(rng.permutation(60000))
        for pos in range(0, 60000, 100):
            idx = order[pos:pos + 100]
            xb, tb = x_train[idx], t_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), tb)
            loss.backward()
            opt.step()
    train_seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for pos in range(0, 10000, 1000):
            correct += (model(x_test[pos:pos + 1000]).argmax(1) == t_test[pos:pos + 1000]).sum().item()
    print(json.dumps({"net": args.net, "threads": args.threads, "epochs": args.epochs,
                      "train_seconds": round(train_seconds, 3), "test_acc": correct / 10000}))


if __name__ == "__main__":
    main()
