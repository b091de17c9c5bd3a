#!/usr/bin/python3
"""Builds seeded random BERT models in HF layout, their ONNX export and reference outputs.

For each shape it writes OUT_DIR/<shape>/:
  config.json, model.safetensors, vocab.txt   the HF layout text-encoder loads
  model.onnx                                  the same module exported for ONNX Runtime
  reference/                                  a fixed input and torch's outputs for it, raw
                                              little-endian (see REFERENCE_FILES), + reference.json
  manifest.json                               written last; says what was built (a build
                                              whose manifest matches is skipped)
Before building, the torch module is checked against the HF BertModel fixture in
tests/data/bert, so the reference is known to match transformers.

Run with the system python (Debian's python3-torch): /usr/bin/python3 make_model.py --model all
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

import torch_bert

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
HF_FIXTURE_DIR = os.path.join(REPO_ROOT, "tests", "data", "bert")
VOCAB_SOURCE = os.path.join(HF_FIXTURE_DIR, "bert-base-uncased-vocab.txt")

# Bump when the generated files change meaning, so compare.py rebuilds stale scratch dirs.
GENERATOR_VERSION = 1

SHAPES = {
    "minilm": {"num_hidden_layers": 6, "hidden_size": 384, "num_attention_heads": 12,
               "intermediate_size": 1536},
    "bert-base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
                  "intermediate_size": 3072},
}
COMMON_CONFIG = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 30522,
                 "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu",
                 "layer_norm_eps": 1e-12, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
                 "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
                 "torch_dtype": "float32"}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# The fixed agreement input: row 1 ends in padding and row 0 has a second segment, so the
# check covers the attention mask and the token-type embeddings too.
REFERENCE_BATCH, REFERENCE_SEQ = 2, 64
REFERENCE_PADDED_TAIL, REFERENCE_SEGMENT_B_TAIL = 13, 9
REFERENCE_FILES = {"input_ids": "input_ids.i64", "attention_mask": "attention_mask.i64",
                   "token_type_ids": "token_type_ids.i64",
                   "last_hidden_state": "last_hidden_state.f32",
                   "pooler_output": "pooler_output.f32"}


def check_against_hf_fixture():
    """Fails unless torch_bert.BertModel reproduces the HF fixture's outputs."""
    with open(os.path.join(HF_FIXTURE_DIR, "config.json")) as source:
        config = json.load(source)
    model = torch_bert.BertModel(config).eval()
    torch_bert.load_state_dict(model, os.path.join(HF_FIXTURE_DIR, "model.safetensors"))
    io = torch_bert.read_safetensors(os.path.join(HF_FIXTURE_DIR, "io.safetensors"))
    inputs = [torch.from_numpy(io[name].astype(np.int64))
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    with torch.no_grad():
        last_hidden_state, pooler_output = model(*inputs)
    for name, actual in (("last_hidden_state", last_hidden_state),
                         ("pooler_output", pooler_output)):
        error = float(np.abs(actual.numpy() - io[name]).max())
        if error > 1e-5:
            sys.exit(f"make_model: torch_bert differs from the HF fixture {HF_FIXTURE_DIR}: "
                     f"{name} max abs error {error:.3g} (expected <= 1e-5)")
    print("make_model: torch_bert matches the HF BertModel fixture", file=sys.stderr)


def build_config(shape_name):
    return {**COMMON_CONFIG, **SHAPES[shape_name]}


def randomize_(model, seed):
    """HF-like init (normal, std 0.02), except that biases and LayerNorm parameters get
    random values too, so a runtime that drops one of them disagrees with the reference."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + 0.1 * noise)
            elif "LayerNorm.bias" in name:
                parameter.copy_(0.1 * noise)
            else:
                parameter.copy_(0.02 * noise)


def write_vocab(path, vocab_size):
    with open(VOCAB_SOURCE, encoding="utf-8") as source:
        tokens = source.read().splitlines()
    if len(tokens) != vocab_size or len(set(tokens)) != vocab_size or \
            not set(SPECIAL_TOKENS) <= set(tokens):
        sys.exit(f"make_model: {VOCAB_SOURCE} should hold {vocab_size} unique tokens "
                 f"including {SPECIAL_TOKENS}")
    shutil.copyfile(VOCAB_SOURCE, path)


def reference_inputs(vocab_size, seed):
    generator = torch.Generator().manual_seed(seed + 1)
    shape = (REFERENCE_BATCH, REFERENCE_SEQ)
    # Ids from 1000 up avoid the special and [unusedN] entries of the BERT vocabulary.
    input_ids = torch.randint(1000, vocab_size, shape, generator=generator)
    attention_mask = torch.ones(shape, dtype=torch.int64)
    attention_mask[1, -REFERENCE_PADDED_TAIL:] = 0
    input_ids[attention_mask == 0] = COMMON_CONFIG["pad_token_id"]
    token_type_ids = torch.zeros(shape, dtype=torch.int64)
    token_type_ids[0, -REFERENCE_SEGMENT_B_TAIL:] = 1
    return input_ids, attention_mask, token_type_ids


def write_reference(model, directory, vocab_size, seed):
    os.makedirs(directory, exist_ok=True)
    input_ids, attention_mask, token_type_ids = reference_inputs(vocab_size, seed)
    with torch.no_grad():
        last_hidden_state, pooler_output = model(input_ids, attention_mask, token_type_ids)
    arrays = {"input_ids": input_ids, "attention_mask": attention_mask,
              "token_type_ids": token_type_ids, "last_hidden_state": last_hidden_state,
              "pooler_output": pooler_output}
    dtypes = {".i64": "<i8", ".f32": "<f4"}
    for name, tensor in arrays.items():
        file_name = REFERENCE_FILES[name]
        tensor.numpy().astype(dtypes[os.path.splitext(file_name)[1]]).tofile(
            os.path.join(directory, file_name))
    description = {name: {"file": REFERENCE_FILES[name], "shape": list(tensor.shape)}
                   for name, tensor in arrays.items()}
    description["note"] = ("raw little-endian arrays, row-major; *.i64 int64, *.f32 float32; "
                           "attention_mask 1 = real token")
    with open(os.path.join(directory, "reference.json"), "w") as out:
        json.dump(description, out, indent=1)


def export_onnx(model, path, opset):
    dummy = reference_inputs(COMMON_CONFIG["vocab_size"], 0)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in names}
    dynamic_axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    torch.onnx.export(torch_bert.LastHiddenState(model), dummy, path, input_names=names,
                      output_names=["last_hidden_state"], dynamic_axes=dynamic_axes,
                      opset_version=opset, do_constant_folding=True)


def manifest_for(shape_name, seed, opset):
    return {"generator_version": GENERATOR_VERSION, "model": shape_name, "seed": seed,
            "opset": opset, "config": build_config(shape_name), "torch": torch.__version__}


def is_up_to_date(manifest_path, manifest):
    try:
        with open(manifest_path) as source:
            return json.load(source) == manifest
    except (OSError, ValueError):
        return False


def build(shape_name, out_dir, seed, opset, force):
    directory = os.path.join(out_dir, shape_name)
    manifest_path = os.path.join(directory, "manifest.json")
    manifest = manifest_for(shape_name, seed, opset)
    if not force and is_up_to_date(manifest_path, manifest):
        print(f"make_model: {directory} is up to date", file=sys.stderr)
        return
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # an interrupted rebuild must not look complete
    os.makedirs(directory, exist_ok=True)
    config = build_config(shape_name)
    torch.manual_seed(seed)
    model = torch_bert.BertModel(config).eval()
    randomize_(model, seed)
    with open(os.path.join(directory, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    torch_bert.save_state_dict(model, os.path.join(directory, "model.safetensors"))
    write_vocab(os.path.join(directory, "vocab.txt"), config["vocab_size"])
    write_reference(model, os.path.join(directory, "reference"), config["vocab_size"], seed)
    export_onnx(model, os.path.join(directory, "model.onnx"), opset)
    with open(manifest_path, "w") as out:
        json.dump(manifest, out, indent=1)
    print(f"make_model: wrote {directory}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--out-dir", default="/tmp/eigenformer-compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opset", type=int, default=17,
                        help="ONNX opset (17 exports LayerNormalization as one op)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even when manifest.json says the build is up to date")
    args = parser.parse_args()
    check_against_hf_fixture()
    for shape_name in (SHAPES if args.model == "all" else [args.model]):
        build(shape_name, args.out_dir, args.seed, args.opset, args.force)


if __name__ == "__main__":
    main()
