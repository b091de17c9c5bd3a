"""A plain-torch BertModel with HuggingFace's parameter names, and a safetensors reader/writer.

transformers and safetensors are not installable here (Debian packages only), so this module
reproduces HF `BertModel` in eval mode: embeddings (word + position + token type, LayerNorm),
post-norm encoder layers with erf GELU, tanh pooler. Its state_dict() keys are exactly the
ones `save_pretrained` writes (embeddings.word_embeddings.weight,
encoder.layer.0.attention.self.query.weight, ...). make_model.py checks it against the HF
fixture in tests/data/bert before using it.
"""

import json
import math
import struct

import numpy as np
import torch
from torch import nn


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])
        # Not persistent: HF's save_pretrained does not write position_ids either.
        positions = torch.arange(config["max_position_embeddings"]).unsqueeze(0)
        self.register_buffer("position_ids", positions, persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq_len = input_ids.shape[1]
        position_ids = self.position_ids[:, :seq_len]
        summed = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) +
                  self.position_embeddings(position_ids))
        return self.LayerNorm(summed)


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.num_heads = config["num_attention_heads"]
        self.head_dim = hidden // self.num_heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split_heads(self, x):
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden_states, additive_mask):
        q = self.split_heads(self.query(hidden_states))
        k = self.split_heads(self.key(hidden_states))
        v = self.split_heads(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + additive_mask, dim=-1)
        context = torch.matmul(probs, v).transpose(1, 2)
        return context.reshape(hidden_states.shape)


class DenseResidualNorm(nn.Module):
    """HF's BertSelfOutput / BertOutput: LayerNorm(dense(x) + residual) (post-norm)."""

    def __init__(self, in_features, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.dense = nn.Linear(in_features, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = DenseResidualNorm(config["hidden_size"], config)

    def forward(self, hidden_states, additive_mask):
        return self.output(self.self(hidden_states, additive_mask), hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["intermediate_size"])

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))  # erf GELU, HF's "gelu"


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = DenseResidualNorm(config["intermediate_size"], config)

    def forward(self, hidden_states, additive_mask):
        attended = self.attention(hidden_states, additive_mask)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config["num_hidden_layers"]))

    def forward(self, hidden_states, additive_mask):
        for layer in self.layer:
            hidden_states = layer(hidden_states, additive_mask)
        return hidden_states


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["hidden_size"])

    def forward(self, hidden_states):
        return torch.tanh(self.dense(hidden_states[:, 0]))


class BertModel(nn.Module):
    """forward(input_ids, attention_mask, token_type_ids) -> (last_hidden_state, pooler_output).

    attention_mask: 1 = real token, 0 = padding (HF convention). Padded keys get the dtype's
    most negative value added to their scores, as HF's eager attention does.
    """

    def __init__(self, config):
        super().__init__()
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)

    def forward(self, input_ids, attention_mask, token_type_ids):
        dtype = self.embeddings.word_embeddings.weight.dtype
        keep = attention_mask[:, None, None, :].to(dtype)
        additive_mask = (1.0 - keep) * torch.finfo(dtype).min
        hidden_states = self.encoder(self.embeddings(input_ids, token_type_ids), additive_mask)
        return hidden_states, self.pooler(hidden_states)


class LastHiddenState(nn.Module):
    """The ONNX export target: only last_hidden_state, which is what both runtimes time."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(input_ids, attention_mask, token_type_ids)[0]


_NUMPY_TO_SAFETENSORS = {np.dtype("float32"): "F32", np.dtype("float64"): "F64",
                         np.dtype("int64"): "I64", np.dtype("uint8"): "U8"}
_SAFETENSORS_TO_NUMPY = {name: dtype for dtype, name in _NUMPY_TO_SAFETENSORS.items()}


def write_safetensors(path, arrays, metadata=None):
    """Writes the public layout: u64 LE header length, JSON header, raw LE tensor data."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    ordered = []
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": _NUMPY_TO_SAFETENSORS[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        ordered.append(array)
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # the reference writer aligns data to 8
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(header_bytes)))
        out.write(header_bytes)
        for array in ordered:
            out.write(array.tobytes())


def read_safetensors(path):
    with open(path, "rb") as source:
        (header_len,) = struct.unpack("<Q", source.read(8))
        header = json.loads(source.read(header_len))
        data = source.read()
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_TO_NUMPY[info["dtype"]]).newbyteorder("<")
        arrays[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return arrays


def save_state_dict(model, path):
    arrays = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    write_safetensors(path, arrays)


def load_state_dict(model, path):
    arrays = read_safetensors(path)
    tensors = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    model.load_state_dict(tensors, strict=True)
