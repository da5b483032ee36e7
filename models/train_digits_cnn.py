#!/usr/bin/env python3
"""Train the bundled digits CNN and export it to ONNX (Debian's python3-torch/onnx/sklearn/numpy).

Kept apart from digits_common.py on purpose: written with it, the same training gives other (seeded,
repeatable) weights than the committed model, whose figures the README quotes.

Writes models/digits_cnn.onnx and testdata/digits_img_{x,y}.npy (the held-out split as 1x8x8 images).
Run from the repository root:  /usr/bin/python3 models/train_digits_cnn.py
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20261128
torch.manual_seed(SEED)
np.random.seed(SEED)

digits = load_digits()
x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]   # 1797 x 1 x 8 x 8
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)

model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
    torch.nn.MaxPool2d(2),
    torch.nn.Flatten(),
    torch.nn.Linear(64 * 4 * 4, 128), torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(40):
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

kwargs = dict(input_names=["image"], output_names=["logits"],
              dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
try:
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), "models/digits_cnn.onnx", dynamo=False, **kwargs)
except TypeError:
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), "models/digits_cnn.onnx", **kwargs)
np.save("testdata/digits_img_x.npy", x_test)
np.save("testdata/digits_img_y.npy", y_test)
