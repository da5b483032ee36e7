"""Shared by the digits training scripts: data split, training loop, accuracy, ONNX export.

Debian's python3-torch, python3-onnx, python3-sklearn and python3-numpy only.
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20261128


def seed_all():
    torch.manual_seed(SEED)
    np.random.seed(SEED)


def split(shape):
    """The digits as float32 in [0, 1], reshaped to `shape` per sample; a stratified 75/25 split."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape((-1,) + tuple(shape))
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)


def train(model, x_train, y_train, epochs, lr, weight_decay=0.0, batch=64):
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()


def report_accuracy(model, x_test, y_test):
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    print(f"test accuracy {acc:.4f} on {len(y_test)} samples")


def export(model, example, path, input_name):
    kwargs = dict(input_names=[input_name], output_names=["logits"],
                  dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    try:
        torch.onnx.export(model, example, path, dynamo=False, **kwargs)
    except TypeError:   # older torch without the dynamo switch
        torch.onnx.export(model, example, path, **kwargs)
