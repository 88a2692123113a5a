#!/usr/bin/env python3
"""Replays a run that `scratchnet train --trace DIR` recorded, step by step, in PyTorch: from
the same initial weights, on the same batches, with the same dropout masks, with the book's
Adam (or plain SGD) and the book's dropout, in the run's precision. Prints the two losses side
by side at a few steps (stderr) and one JSON line (stdout): how far the two runs agree, and the
test accuracy PyTorch's copy reaches.

Two implementations of one function agree step after step to their rounding; a real
difference (a gradient, an update rule, a mask applied otherwise) shows as a jump at the step
where it first acts. In f32 the rounding itself grows, slowly, and after some hundreds of
steps the two runs are different draws; in f64 (`train --precision f64`) it stays near 1e-15.

Usage (in a virtualenv with torch, numpy and safetensors; scratchnet never depends on Python):

    scratchnet train --net deep-cnn --iters 600 --precision f64 --trace run/
    python3 benches/torch_replay.py run/ --data ../shared/datasets/mnist

The network is built from the checkpoint's `layers` metadata, as the README's loading snippet
does: MLPs and CNNs of affine, conv, max/avg-pool, flatten, relu, sigmoid, tanh and dropout
layers, trained with adam or sgd, without weight decay, on MNIST or Fashion-MNIST.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import find, load_idx  # noqa: E402
from torch_train_cnn import book_adam  # noqa: E402

# Where the two losses are printed; the last step is added.
SHOWN = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


def fail(message):
    sys.exit(f"torch_replay: {message}")


def build(meta, torch, masks):
    """nn.Sequential from the metadata; each dropout layer multiplies by the next mask in
    `masks` (a flat uint8 array, consumed in forward order) in training, by 1 − p in eval."""
    nn = torch.nn
    cursor = [0]

    class ReplayedDropout(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training:
                return x * (1 - self.p)
            n = x.numel()
            if cursor[0] + n > masks.size:
                fail("masks.bin ends before the run does")
            mask = torch.from_numpy(masks[cursor[0]:cursor[0] + n]).to(x.dtype).reshape(x.shape)
            cursor[0] += n
            return x * mask

    layers = []
    for spec in meta["layers"].split(";"):
        kind, *a = spec.split()
        n = [float(v) if kind == "dropout" else int(v) for v in a]
        make = {
            "affine": lambda: nn.Linear(n[0], n[1]),
            "conv": lambda: nn.Conv2d(n[0], n[1], (n[2], n[3]), stride=n[4], padding=n[5]),
            "maxpool": lambda: nn.MaxPool2d(n[0], n[1], n[2]),
            "avgpool": lambda: nn.AvgPool2d(n[0], n[1], n[2]),
            "flatten": lambda: nn.Flatten(),
            "dropout": lambda: ReplayedDropout(n[0]),
            "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
        }.get(kind)
        if make is None:
            fail(f"the replay does not model a '{kind}' layer")
        layers.append(make())
    return nn.Sequential(*layers), cursor


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", help="the folder `scratchnet train --trace` wrote")
    ap.add_argument("--data", default="../shared/datasets/mnist",
                    help="the folder with the dataset's IDX files")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compare", metavar="CHECKPOINT",
                    help="the run's end as `train --trace DIR --save CHECKPOINT` saved it: "
                         "print each tensor's largest difference from PyTorch's")
    args = ap.parse_args()
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    init = os.path.join(args.trace, "init.safetensors")
    try:
        with safe_open(init, "pt") as f:
            meta = f.metadata()
        steps = [line.rstrip("\n").split(",") for line in
                 open(os.path.join(args.trace, "steps.csv")).readlines()[1:]]
        masks = np.fromfile(os.path.join(args.trace, "masks.bin"), dtype=np.uint8)
    except OSError as e:
        fail(f"cannot read the trace in {args.trace}: {e}")
    run = json.loads(meta["run"])
    if run["dataset"] not in ("mnist", "fashion-mnist"):
        fail(f"the replay reads MNIST or Fashion-MNIST, not {run['dataset']}")
    if meta.get("weight_decay", "0") != "0":
        fail("the replay does not model weight decay")
    f64 = meta["precision"] == "f64"
    dtype = torch.float64 if f64 else torch.float32
    torch.set_num_threads(args.threads)

    shape = [-1] + [int(v) for v in meta.get("input_shape", meta["input"]).split("x")]
    def images(name, count):
        # scratchnet's datasets hold float32 pixels / 255, and an f64 run widens those.
        x = load_idx(find(args.data, name)).reshape(count, -1).astype(np.float32) / np.float32(255)
        return torch.from_numpy(x).to(dtype).reshape(shape)
    x_train = images("train-images-idx3-ubyte", 60000)
    t_train = torch.from_numpy(load_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x_test = images("t10k-images-idx3-ubyte", 10000)
    t_test = torch.from_numpy(load_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))

    model, cursor = build(meta, torch, masks)
    model = model.to(dtype)
    state = {k: v.to(dtype) for k, v in load_file(init).items() if not k.startswith("optimizer.")}
    model.load_state_dict(state, strict=True)
    lr = float(meta["lr"])
    if meta["optimizer"] == "adam":
        opt = book_adam(torch, model.parameters(), lr=lr)
    elif meta["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        fail(f"the replay runs adam or sgd, not {meta['optimizer']}")
    loss_fn = torch.nn.CrossEntropyLoss()

    model.train()
    # Relative tolerance of "still the same run": a few roundings of the loss's precision.
    tol = 1e-12 if f64 else 1e-5
    first_off, worst_before, ours_all, theirs_all = None, 0.0, [], []
    for step, loss_text, batch in steps:
        idx = torch.tensor([int(i) for i in batch.split()])
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x_train[idx]), t_train[idx])
        loss.backward()
        opt.step()
        ours, theirs = float(loss_text), loss.item()
        ours_all.append(ours)
        theirs_all.append(theirs)
        rel = abs(ours - theirs) / max(abs(ours), 1e-30)
        if first_off is None:
            if rel > tol:
                first_off = int(step)
            else:
                worst_before = max(worst_before, rel)
        if int(step) in SHOWN or int(step) == len(steps):
            print(f"step {int(step):6d}  scratchnet {ours:.12f}  torch {theirs:.12f}  "
                  f"difference {ours - theirs:+.2e}", file=sys.stderr)
    if cursor[0] != masks.size:
        fail(f"masks.bin holds {masks.size - cursor[0]} bytes more than the run's dropout layers used")

    differences = {}
    if args.compare:
        end = load_file(args.compare)
        for name, p in model.state_dict().items():
            differences[name] = (p - end[name].to(dtype)).abs().max().item()
            print(f"{name:12s} largest |scratchnet - torch| {differences[name]:.3e}", file=sys.stderr)
    model.eval()
    with torch.no_grad():
        correct = sum((model(x_test[p:p + 1000]).argmax(1) == t_test[p:p + 1000]).sum().item()
                      for p in range(0, 10000, 1000))
    last = min(100, len(steps))
    print(json.dumps({
        "steps": len(steps),
        "precision": meta["precision"],
        "tolerance": tol,
        "first_step_apart": first_off,
        "worst_relative_difference_before": worst_before,
        "mean_loss_last_100": {"scratchnet": sum(ours_all[-last:]) / last,
                               "torch": sum(theirs_all[-last:]) / last},
        "torch_test_acc": correct / 10000,
        **({"largest_parameter_difference": differences} if differences else {}),
    }))


if __name__ == "__main__":
    main()
