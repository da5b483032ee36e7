#!/usr/bin/env python3
"""Train the bundled digits MLP and export it to ONNX.

Uses only Debian's packages: python3-torch, python3-onnx, python3-sklearn, python3-numpy.
Writes models/digits_mlp.onnx, testdata/digits_{x,y}.npy (the held-out test split) and
testdata/digits_calib_x.npy (the training split, for calibration).
Run from the repository root:  /usr/bin/python3 models/train_digits_mlp.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_common as common  # noqa: E402

common.seed_all()
x_train, x_test, y_train, y_test = common.split((64,))
model = torch.nn.Sequential(
    torch.nn.Linear(64, 512), torch.nn.ReLU(),
    torch.nn.Linear(512, 512), torch.nn.ReLU(),
    torch.nn.Linear(512, 10),
)
common.train(model, x_train, y_train, epochs=60, lr=1e-3, weight_decay=1e-4)
common.report_accuracy(model, x_test, y_test)
os.makedirs("models", exist_ok=True)
os.makedirs("testdata", exist_ok=True)
common.export(model, torch.zeros(1, 64), "models/digits_mlp.onnx", "input")
np.save("testdata/digits_x.npy", x_test)
np.save("testdata/digits_y.npy", y_test)
np.save("testdata/digits_calib_x.npy", x_train)  # the whole training split, for calibration
