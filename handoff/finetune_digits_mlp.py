"""Fine-tunes the factors of a compressed digits MLP in PyTorch (the handoff experiment of the README).

    /usr/bin/python3 handoff/finetune_digits_mlp.py DENSE.onnx FACTORS.safetensors TUNED.safetensors \
        [--epochs 5] [--lr 1e-3] [--random-start]

The network is rebuilt from the dense ONNX graph (a chain of Gemm and Relu): each Gemm that the
factors file holds becomes a block-term layer (handoff/blockterm_torch.py), the others stay dense
and frozen, as they are in the compressed model. Only the factors and the biases of the factored
layers train, on the digits training split (models/digits_common.py). --random-start replaces the
fitted factors by random ones (He-scaled weight, zero bias): the same structure, trained from scratch.
The tuned factors go back with `blockterm import-factors`.
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "models"))
import blockterm_torch as bt  # noqa: E402
import digits_common  # noqa: E402


def build(dense_path, manifest, tensors):
    graph = onnx.load(dense_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    factored = bt.build(manifest, tensors)
    modules = []
    for node in graph.node:
        if node.op_type == "Relu":
            modules.append(torch.nn.ReLU())
        elif node.op_type == "Gemm" and node.name in factored:
            modules.append(factored[node.name])
        elif node.op_type == "Gemm":
            attrs = {a.name: a for a in node.attribute}
            w = inits[node.input[1]]
            w = w if attrs.get("transB") and attrs["transB"].i else w.T
            linear = torch.nn.Linear(w.shape[1], w.shape[0])
            linear.weight.data = torch.from_numpy(np.array(w, dtype=np.float32))
            linear.bias.data = torch.from_numpy(np.array(inits[node.input[2]], dtype=np.float32))
            linear.requires_grad_(False)  # dense in the compressed model too: not part of the handoff
            modules.append(linear)
        else:
            raise SystemExit(f"{dense_path}: node {node.name} ({node.op_type}) is not part of a Gemm/Relu chain")
    return torch.nn.Sequential(*modules), factored


def randomize(layer):
    """Random factors, scaled so that the weight they make has He initialization's standard deviation."""
    with torch.no_grad():
        for p in layer.factors:
            p.normal_()
        if layer.bias is not None:
            layer.bias.zero_()
        n = layer.entry["input_size"]
        w = layer(torch.eye(n))
        layer.factors[-1].mul_(np.sqrt(2.0 / n) / w.std().item())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dense")
    ap.add_argument("factors")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--random-start", action="store_true")
    args = ap.parse_args()
    digits_common.seed_all()
    manifest, tensors = bt.read_safetensors(args.factors)
    model, factored = build(args.dense, manifest, tensors)
    if args.random_start:
        for layer in factored.values():
            randomize(layer)
    x_train, x_test, y_train, y_test = digits_common.split((64,))
    digits_common.train(model, x_train, y_train, args.epochs, args.lr)
    digits_common.report_accuracy(model, x_test, y_test)
    bt.save(args.out, factored, manifest)


if __name__ == "__main__":
    main()
