#!/usr/bin/env python3
"""Train the bundled digits LSTM classifier and export it to ONNX (Debian's python3-torch/onnx/sklearn/numpy).

Each 8x8 digit is read as a sequence of 8 rows of 8 pixels. Writes models/digits_lstm.onnx and
testdata/digits_seq_{x,y}.npy (the held-out split, float32 [450, 8, 8] batch-first).
Run from the repository root:  /usr/bin/python3 models/train_digits_lstm.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_common as common  # noqa: E402


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size=8, hidden_size=128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, seq):
        out, _ = self.lstm(seq)
        return self.head(out[:, -1, :])


common.seed_all()
x_train, x_test, y_train, y_test = common.split((8, 8))
model = Classifier()
common.train(model, x_train, y_train, epochs=60, lr=2e-3)
common.report_accuracy(model, x_test, y_test)
common.export(model, torch.zeros(1, 8, 8), "models/digits_lstm.onnx", "sequence")
np.save("testdata/digits_seq_x.npy", x_test)
np.save("testdata/digits_seq_y.npy", y_test)
