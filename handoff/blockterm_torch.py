"""Block-term layers for PyTorch from a blockterm factors file (`blockterm compress --factors F.safetensors`).

Fine-tune the factors in PyTorch, write them back with `save`, and put them into the compressed model
with `blockterm import-factors MODEL.bt.onnx TUNED.safetensors -o OUT.onnx`. Needs torch and numpy
only (the safetensors format is read and written here, a page of code).

    manifest, tensors = read_safetensors("factors.safetensors")
    layers = build(manifest, tensors)          # {layer name: module}, one per compressed layer
    y = layers["/0/Gemm"](x)                   # FactoredLinear, x: [..., input_size]
    y = layers["/conv1/Conv"](x)               # ConvChain, x: [batch, C_in, spatial...]
    w = layers["lstm.R"]()                     # RebuiltWeight: the weight itself, of weight_shape
    ...train...
    save("tuned.safetensors", layers, manifest)
"""
import json
import struct

import numpy as np
import torch

_DTYPES = {"F32": np.float32, "F64": np.float64}


def read_safetensors(path):
    """(manifest dict or None, {name: numpy array}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        tensors[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=_DTYPES[e["dtype"]]).reshape(e["shape"])
    manifest = json.loads(meta["blockterm.manifest"]) if "blockterm.manifest" in meta else None
    return manifest, tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: numpy array} (float32 or float64) with string metadata."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype = "F64" if a.dtype == np.float64 else "F32"
        blob = a.astype(_DTYPES[dtype]).astype("<" + ("f8" if dtype == "F64" else "f4")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def contract(equation, path, operands):
    """torch.einsum along an opt_einsum-style pairwise path (the plan blockterm found; torch alone
    would contract left to right, which for these networks can cost orders of magnitude more)."""
    if not path:
        return torch.einsum(equation, *operands)
    inputs, output = equation.split("->")
    terms, ops = inputs.split(","), list(operands)
    for i, j in path:
        tb, ta = ops.pop(j), ops.pop(i)
        sb, sa = terms.pop(j), terms.pop(i)
        rest = "".join(terms) + output
        keep = "".join(dict.fromkeys(c for c in sa + sb if c in rest))
        ops.append(torch.einsum(f"{sa},{sb}->{keep}", ta, tb))
        terms.append(keep)
    return torch.einsum(f"{terms[0]}->{output}", ops[0])


def _parameters(names, tensors):
    return torch.nn.ParameterList(
        [torch.nn.Parameter(torch.from_numpy(np.array(tensors[n], dtype=np.float32))) for n in names])


class FactoredLinear(torch.nn.Module):
    """y = x W (+ bias) with W held as the layer's factors and contracted by the manifest's einsum."""

    def __init__(self, entry, tensors):
        super().__init__()
        if entry["kind"] != "linear":
            raise ValueError(f"{entry['name']}: kind {entry['kind']} is not a linear layer")
        self.entry = entry
        self.names = [n for n in entry["operands"] if n != "x"]
        self.factors = _parameters(self.names, tensors)
        bias = entry.get("bias")
        self.bias = None
        if bias is not None and bias in tensors:
            self.bias = torch.nn.Parameter(torch.from_numpy(np.array(tensors[bias], dtype=np.float32)))
        self.padded_in = int(np.prod(entry["input_factors"]))
        self.padded_out = int(np.prod(entry["output_factors"]))

    def forward(self, x):
        e = self.entry
        if e["transpose_input"]:
            x = x.t()
        lead = x.shape[:-1]
        x = x.reshape(-1, e["input_size"])
        if self.padded_in > e["input_size"]:
            x = torch.nn.functional.pad(x, (0, self.padded_in - e["input_size"]))
        x = x.reshape(-1, *e["input_factors"])
        operands = iter(self.factors)
        args = [x if n == "x" else next(operands) for n in e["operands"]]
        y = contract(e["einsum"], e.get("path"), args).reshape(-1, self.padded_out)[:, :e["output_size"]]
        if self.bias is not None:
            y = y + e.get("bias_scale", 1.0) * self.bias
        return y.reshape(*lead, e["output_size"])

    def tensors(self):
        """{name: numpy array} of the current factors (and bias) under their exported names."""
        out = {n: p.detach().cpu().numpy() for n, p in zip(self.names, self.factors)}
        if self.bias is not None:
            out[self.entry["bias"]] = self.bias.detach().cpu().numpy()
        return out


class RebuiltWeight(torch.nn.Module):
    """W itself, a weight the model rebuilds at load (an LSTM's W or R, an embedding table, ...): the
    factors contracted by the manifest's einsum, [input_size, output_size] with the zero padding cut,
    reshaped to weight_shape. Call it with no input and use the result where the weight was used."""

    def __init__(self, entry, tensors):
        super().__init__()
        if entry["kind"] != "rebuilt":
            raise ValueError(f"{entry['name']}: kind {entry['kind']} is not a rebuilt weight")
        self.entry = entry
        self.names = list(entry["operands"])
        self.factors = _parameters(self.names, tensors)

    def forward(self):
        e = self.entry
        w = contract(e["einsum"], e.get("path"), list(self.factors))
        w = w.reshape(int(np.prod(e["input_factors"])), int(np.prod(e["output_factors"])))
        return w[:e["input_size"], :e["output_size"]].reshape(e["weight_shape"])

    def tensors(self):
        """{name: numpy array} of the current factors under their exported names."""
        return {n: p.detach().cpu().numpy() for n, p in zip(self.names, self.factors)}


def onnx_conv(x, weight, bias, step):
    """ONNX Conv (1-, 2- or 3-D) with the attributes of a `convs` step: kernel_shape, strides, pads
    (every axis's begin, then every end, asymmetric allowed), dilations, group, auto_pad."""
    spatial = x.dim() - 2
    strides, dilations = step["strides"], step["dilations"]
    kernel, auto_pad = step["kernel_shape"], step.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(spatial):
            size = x.shape[2 + i]
            total = max(0, (-(-size // strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
            small = total // 2  # SAME_UPPER puts the odd one at the end, SAME_LOWER at the beginning
            begin.append(small if auto_pad == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
    elif auto_pad == "VALID":
        begin, end = [0] * spatial, [0] * spatial
    else:
        begin, end = step["pads"][:spatial], step["pads"][spatial:]
    widths = []
    for i in reversed(range(spatial)):  # torch pads the last axis first
        widths += [begin[i], end[i]]
    if any(widths):
        x = torch.nn.functional.pad(x, widths)
    conv = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[spatial - 1]
    return conv(x, weight, bias, stride=tuple(strides), dilation=tuple(dilations), groups=step["group"])


class ConvChain(torch.nn.Module):
    """y = conv_m(... conv_1(x)): a Conv's replacement as the manifest's `convs` list describes it, whatever
    its form (channel low rank, the 1x1 / grouped / 1x1 block-term chain, spatial SVD, ...).
    x: [batch, C_in, spatial...]."""

    def __init__(self, entry, tensors):
        super().__init__()
        if entry["kind"] != "conv" or "convs" not in entry:
            raise ValueError(f"{entry['name']}: not a conv with its chain of convolutions (kind {entry['kind']}; "
                             f"a file of manifest version 1 describes convs in prose: export it again)")
        self.steps = entry["convs"]
        self.names = []
        for step in self.steps:
            for name in (step["weight"], step.get("bias")):
                if name is None or name in self.names:
                    continue
                if name not in tensors:
                    raise ValueError(f"{entry['name']}: '{name}' is not in the file (a bias computed in the graph?)")
                self.names.append(name)
        self.params = _parameters(self.names, tensors)

    def forward(self, x):
        index = {n: p for n, p in zip(self.names, self.params)}
        for step in self.steps:
            bias = step.get("bias")
            x = onnx_conv(x, index[step["weight"]], index[bias] if bias is not None else None, step)
        return x

    def tensors(self):
        """{name: numpy array} of the current weights and biases under their exported names."""
        return {n: p.detach().cpu().numpy() for n, p in zip(self.names, self.params)}


_KINDS = {"linear": FactoredLinear, "rebuilt": RebuiltWeight, "conv": ConvChain}


def build(manifest, tensors):
    """{layer name: module} for every layer of the manifest: FactoredLinear, RebuiltWeight or ConvChain."""
    layers = {}
    for e in manifest["layers"]:
        if e["kind"] not in _KINDS:
            raise ValueError(f"{e['name']}: unknown kind {e['kind']}")
        layers[e["name"]] = _KINDS[e["kind"]](e, tensors)
    return layers


def save(path, layers, manifest):
    """Writes the layers' current factors, with the manifest, for `blockterm import-factors`."""
    tensors = {}
    for layer in layers.values():
        tensors.update(layer.tensors())
    write_safetensors(path, tensors, {"blockterm.manifest": json.dumps(manifest), "format": "pt"})
