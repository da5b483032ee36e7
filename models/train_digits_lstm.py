#!/usr/bin/env python3
"""Train the bundled digits LSTM classifier and export it to ONNX (Debian's python3-torch/onnx/sklearn/numpy).

Each 8x8 digit is read as a sequence of 8 rows of 8 pixels. Writes models/digits_lstm.onnx and
testdata/digits_seq_{x,y}.npy (the held-out split, float32 [450, 8, 8] batch-first).
Run from the repository root:  /usr/bin/python3 models/train_digits_lstm.py
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20261128
torch.manual_seed(SEED)
np.random.seed(SEED)

digits = load_digits()
x = (digits.images / 16.0).astype(np.float32)          # 1797 x 8 x 8: 8 steps of 8 features
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size=8, hidden_size=128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, seq):
        out, _ = self.lstm(seq)
        return self.head(out[:, -1, :])


model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
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

kwargs = dict(input_names=["sequence"], output_names=["logits"],
              dynamic_axes={"sequence": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
try:
    torch.onnx.export(model, torch.zeros(1, 8, 8), "models/digits_lstm.onnx", dynamo=False, **kwargs)
except TypeError:
    torch.onnx.export(model, torch.zeros(1, 8, 8), "models/digits_lstm.onnx", **kwargs)
np.save("testdata/digits_seq_x.npy", x_test)
np.save("testdata/digits_seq_y.npy", y_test)
