#!/usr/bin/env python3
"""Train the bundled digits MLP and export it to ONNX.

Uses only Debian's packages: python3-torch, python3-onnx, python3-sklearn, python3-numpy.
Writes models/digits_mlp.onnx and testdata/digits_{x,y}.npy (the held-out test split) and
testdata/digits_calib_x.npy (the training split, for calibration).
Run from the repository root:  /usr/bin/python3 models/train_digits_mlp.py
"""
import os
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20261128
torch.manual_seed(SEED)
np.random.seed(SEED)

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)           # 1797 x 64, pixels in [0, 1]
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)

model = torch.nn.Sequential(
    torch.nn.Linear(64, 512), torch.nn.ReLU(),
    torch.nn.Linear(512, 512), torch.nn.ReLU(),
    torch.nn.Linear(512, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(60):
    perm = torch.randperm(len(xt))
    for i in range(0, len(xt), 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
model.eval()
with torch.no_grad():
    acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
print(f"test accuracy {acc:.4f} on {len(y_test)} samples")

os.makedirs("models", exist_ok=True)
os.makedirs("testdata", exist_ok=True)
kwargs = dict(input_names=["input"], output_names=["logits"],
              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
try:
    torch.onnx.export(model, torch.zeros(1, 64), "models/digits_mlp.onnx", dynamo=False, **kwargs)
except TypeError:   # older torch without the dynamo switch
    torch.onnx.export(model, torch.zeros(1, 64), "models/digits_mlp.onnx", **kwargs)
np.save("testdata/digits_x.npy", x_test)
np.save("testdata/digits_y.npy", y_test)
np.save("testdata/digits_calib_x.npy", x_train)  # the whole training split, for calibration
