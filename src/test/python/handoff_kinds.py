"""Runs blockterm_torch's modules for FactoredKindsTest: for each job of the JSON list in argv[1], builds
the layer from its factors file, runs it on the job's input, then perturbs every parameter (seeded),
runs it again and saves the tuned factors with `save`, for the Java side to compare with ONNX Runtime."""
import json
import sys

import numpy as np
import torch

sys.path.insert(0, "handoff")
import blockterm_torch as bt  # noqa: E402


def apply(module, how, x):
    if how == "embedding":  # a rebuilt table, read by a Gather
        return torch.nn.functional.embedding(x, module())
    return module(x)


def main():
    torch.manual_seed(7)
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        manifest, tensors = bt.read_safetensors(job["factors"])
        layers = bt.build(manifest, tensors)
        module = layers[job["layer"]]
        x = torch.from_numpy(np.load(job["input"]))
        with torch.no_grad():
            np.save(job["output"], apply(module, job["apply"], x).numpy().astype(np.float32))
            for p in module.parameters():
                p.add_(0.2 * p.abs().mean() * torch.randn_like(p))
            np.save(job["tuned_output"], apply(module, job["apply"], x).numpy().astype(np.float32))
        bt.save(job["tuned"], layers, manifest)
    print("ran", len(jobs), "jobs")


if __name__ == "__main__":
    main()
