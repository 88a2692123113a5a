#!/usr/bin/env python3
"""PyTorch (CPU, float32) on the textbook configurations scratchnet's README reports, timed
the same way: training steps only (batch gather, forward, backward, update), evaluation
excluded. For side-by-side runs with `scratchnet train --summary-json`.

Usage (in a virtualenv with torch and numpy; scratchnet itself never depends on Python):

    python3 benches/torch_train.py --config T2 --threads 1 --data ../shared/datasets/mnist

Configs:
    T2  784-50-10 relu, W ~ N(0, 0.01²), SGD lr 0.1, batch 100, 10000 iters, random batches
    T3  784-100-50-10, otherwise as T2
    M   784-100-50-10 relu + batch norm, He init, Adam lr 0.001, batch 100, 3000 iters,
        shuffled epochs
Prints one JSON line: config, threads, train_seconds, test_acc.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, base):
    for name in (base, base + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit(f"{base} not found in {folder}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["T2", "T3", "M"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default="../shared/datasets/mnist")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train = torch.from_numpy(load_idx(find(args.data, "train-images-idx3-ubyte")).reshape(60000, 784).astype(np.float32) / 255)
    t_train = torch.from_numpy(load_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x_test = torch.from_numpy(load_idx(find(args.data, "t10k-images-idx3-ubyte")).reshape(10000, 784).astype(np.float32) / 255)
    t_test = torch.from_numpy(load_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))

    nn = torch.nn
    if args.config in ("T2", "T3"):
        sizes = [784, 50, 10] if args.config == "T2" else [784, 100, 50, 10]
        layers = []
        for i in range(len(sizes) - 1):
            lin = nn.Linear(sizes[i], sizes[i + 1])
            nn.init.normal_(lin.weight, std=0.01)
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        iters, random_batches = 10000, True
    else:
        sizes = [784, 100, 50, 10]
        layers = []
        for i in range(len(sizes) - 1):
            lin = nn.Linear(sizes[i], sizes[i + 1])
            nn.init.normal_(lin.weight, std=(2.0 / sizes[i]) ** 0.5)
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(sizes) - 2:
                layers += [nn.BatchNorm1d(sizes[i + 1]), nn.ReLU()]
        model = nn.Sequential(*layers)
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
        iters, random_batches = 3000, False
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    order = rng.permutation(60000)
    pos = 0
    start = time.perf_counter()
    for _ in range(iters):
        if random_batches:
            idx = torch.from_numpy(rng.choice(60000, 100))
        else:
            if pos + 100 > 60000:
                order, pos = rng.permutation(60000), 0
            idx = torch.from_numpy(order[pos:pos + 100])
            pos += 100
        xb, tb = x_train[idx], t_train[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), tb)
        loss.backward()
        opt.step()
    train_seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        test_acc = (model(x_test).argmax(1) == t_test).float().mean().item()
    print(json.dumps({"config": args.config, "threads": args.threads,
                      "train_seconds": round(train_seconds, 3), "test_acc": round(test_acc, 4)}))


if __name__ == "__main__":
    main()
