#!/usr/bin/python3
"""Times eigenformer's text-encoder against ONNX Runtime on the same BERT weights and inputs.

For every configuration (model, batch x seq, threads) it runs both programs alternately for
--rounds rounds of --runs timed runs each, then prints a markdown table of medians and the
ratio eigenformer / ONNX Runtime. Before timing, each model's outputs are checked: ONNX
Runtime against the torch reference (make_model.py), and text-encoder too when it has the
--dump-hidden flag (see eigenformer_agreement). Without the text-encoder binary only the
ONNX Runtime column is filled.
"""

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
ORT_BENCH = os.path.join(HERE, "ort_bench.js")
MAKE_MODEL = os.path.join(HERE, "make_model.py")

# (model, batch, seq, threads), in table order.
CONFIGS = [
    ("minilm", 1, 128, 1), ("minilm", 1, 128, 2),
    ("minilm", 8, 128, 1), ("minilm", 8, 128, 2),
    ("bert-base", 1, 128, 1), ("bert-base", 1, 128, 2),
    ("bert-base", 8, 128, 2),
    ("bert-base", 1, 512, 2),
]
RUN_TIMEOUT_S = 1800


def config_id(config):
    model, batch, seq, threads = config
    return f"{model}:{batch}x{seq}:t{threads}"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-encoder",
                        default=os.path.join(REPO_ROOT, "build", "examples", "text-encoder"),
                        help="eigenformer's text-encoder binary (default: %(default)s)")
    parser.add_argument("--scratch", default="/tmp/eigenformer-compare",
                        help="where models, ONNX files and dumps go (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds per configuration (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=10,
                        help="timed runs per program and round (default: %(default)s)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="max abs difference of last_hidden_state (default: %(default)s)")
    parser.add_argument("--only", nargs="+", metavar="ID",
                        help="configurations to run, e.g. minilm:1x128:t1 bert-base:1x128:t2; "
                             "all: " + " ".join(config_id(c) for c in CONFIGS))
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 1:
        parser.error("--rounds and --runs must be >= 1")
    if args.only:
        unknown = set(args.only) - {config_id(c) for c in CONFIGS}
        if unknown:
            parser.error(f"unknown configuration(s) {sorted(unknown)}")
    return args


def log(message):
    print(message, file=sys.stderr, flush=True)


def check_setup():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        sys.exit(f"compare: onnxruntime-node is not installed; run {HERE}/setup.sh first")


def prepare_model(model, scratch):
    """Builds scratch/<model> unless an up-to-date build is there (make_model.py decides)."""
    subprocess.run(["/usr/bin/python3", MAKE_MODEL, "--model", model, "--out-dir", scratch],
                   check=True)
    return os.path.join(scratch, model)


def max_abs_error_over_real_tokens(dump_path, reference_dir):
    """Compares a raw float32 last_hidden_state dump with the torch reference, on the
    positions whose attention_mask is 1 (padded rows carry no meaning)."""
    with open(os.path.join(reference_dir, "reference.json")) as source:
        description = json.load(source)
    shape = description["last_hidden_state"]["shape"]
    expected = np.fromfile(os.path.join(reference_dir, "last_hidden_state.f32"), "<f4")
    actual = np.fromfile(dump_path, "<f4")
    if actual.size != expected.size:
        raise ValueError(f"{dump_path}: {actual.size} floats, expected {expected.size} "
                         f"(last_hidden_state {shape})")
    mask = np.fromfile(os.path.join(reference_dir, "attention_mask.i64"), "<i8")
    real = mask.reshape(shape[:2]) == 1
    difference = np.abs(actual.reshape(shape) - expected.reshape(shape))[real]
    return float(difference.max())


def ort_agreement(model_dir, dump_dir):
    dump = os.path.join(dump_dir, "ort_last_hidden_state.f32")
    subprocess.run(["node", ORT_BENCH, "--model", os.path.join(model_dir, "model.onnx"),
                    "--reference-dir", os.path.join(model_dir, "reference"),
                    "--dump-hidden", dump], check=True, stdout=subprocess.DEVNULL)
    return max_abs_error_over_real_tokens(dump, os.path.join(model_dir, "reference"))


def text_encoder_supports(text_encoder, flag):
    try:
        result = subprocess.run([text_encoder, "--help"], capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return flag in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------
# HOOK: eigenformer agreement check.
# Assumed interface (same as ort_bench.js, not yet in text-encoder):
#   text-encoder --model DIR --reference-dir DIR/reference --dump-hidden OUT
# reads input_ids / attention_mask / token_type_ids as described by reference.json (raw
# little-endian int64, row-major, batch x seq), runs the forward pass once and writes
# last_hidden_state to OUT as raw little-endian float32, batch x seq x hidden. Adapt the
# command below if text-encoder spells it differently. Returns None when unsupported.
# ---------------------------------------------------------------------------------------
def eigenformer_agreement(text_encoder, model_dir, dump_dir):
    if not text_encoder_supports(text_encoder, "--dump-hidden"):
        log("compare: NOTE text-encoder has no --dump-hidden flag; eigenformer's outputs "
            "are not checked against the reference")
        return None
    dump = os.path.join(dump_dir, "eigenformer_last_hidden_state.f32")
    subprocess.run([text_encoder, "--model", model_dir,
                    "--reference-dir", os.path.join(model_dir, "reference"),
                    "--dump-hidden", dump], check=True, stdout=subprocess.DEVNULL)
    return max_abs_error_over_real_tokens(dump, os.path.join(model_dir, "reference"))


def check_agreement(name, runner, tolerance):
    """Runs one agreement check; returns (line for the report, passed)."""
    try:
        error = runner()
    except (subprocess.CalledProcessError, OSError, ValueError) as failure:
        return f"- {name}: FAILED to run ({failure})", False
    if error is None:
        return f"- {name}: skipped (text-encoder lacks --dump-hidden)", True
    passed = error <= tolerance
    verdict = "ok" if passed else "MISMATCH"
    return f"- {name}: max abs error {error:.3g} (tolerance {tolerance:g}) {verdict}", passed


def ort_command(model_dir, batch, seq, threads, runs):
    return ["node", ORT_BENCH, "--model", os.path.join(model_dir, "model.onnx"),
            "--batch", str(batch), "--seq", str(seq), "--threads", str(threads),
            "--runs", str(runs)]


def eigenformer_command(text_encoder, model_dir, batch, seq, threads, runs):
    return [text_encoder, "--model", model_dir, "--benchmark", "--batch", str(batch),
            "--seq", str(seq), "--threads", str(threads), "--runs", str(runs)]


def run_timed(command, batch, seq, threads):
    """Runs one benchmark program; returns its JSON result or raises RuntimeError."""
    # An inherited OMP_NUM_THREADS must not cap (or inflate) the thread count under test.
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=environment,
                                timeout=RUN_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise RuntimeError(f"{command[0]}: {failure}") from failure
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: "
                           f"{result.stderr.strip()[-500:]}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict) or not {"median_ms", "min_ms"} <= report.keys():
        raise RuntimeError(f"{' '.join(command)}: expected one JSON line with median_ms and "
                           f"min_ms, got {result.stdout.strip()[-300:]!r}")
    echoed = (report.get("batch"), report.get("seq"), report.get("threads"))
    if echoed != (batch, seq, threads):
        raise RuntimeError(f"{' '.join(command)}: reported batch/seq/threads {echoed}, "
                           f"asked for {(batch, seq, threads)}")
    return report


def benchmark_config(config, model_dir, args, with_eigenformer):
    """Alternates the programs (ABBA...) so slow drifts in machine load hit both alike."""
    _, batch, seq, threads = config
    sides = {"ort": ort_command(model_dir, batch, seq, threads, args.runs)}
    if with_eigenformer:
        sides["eigenformer"] = eigenformer_command(args.text_encoder, model_dir, batch, seq,
                                                   threads, args.runs)
    medians = {side: [] for side in sides}
    errors = {}
    order = list(sides)
    for round_index in range(args.rounds):
        for side in order:
            if side in errors:
                continue
            try:
                report = run_timed(sides[side], batch, seq, threads)
            except RuntimeError as failure:
                errors[side] = str(failure)
                log(f"compare: {config_id(config)} {side}: {failure}")
                continue
            medians[side].append(report["median_ms"])
            log(f"compare: {config_id(config)} round {round_index + 1}/{args.rounds} {side}: "
                f"median {report['median_ms']:.2f} ms, min {report['min_ms']:.2f} ms")
        order.reverse()
    return {side: (None if side in errors else statistics.median(values))
            for side, values in medians.items()}, errors


def format_ms(value):
    return "n/a" if value is None else f"{value:.2f}"


def table_row(config, result):
    model, batch, seq, threads = config
    ort, eigenformer = result.get("ort"), result.get("eigenformer")
    ratio = "n/a" if ort is None or eigenformer is None else f"{eigenformer / ort:.2f}"
    return (f"| {model} | {batch} x {seq} | {threads} | {format_ms(ort)} | "
            f"{format_ms(eigenformer)} | {ratio} |")


def load_average():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def describe_machine(args, with_eigenformer):
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                    if line.startswith("model name")), platform.processor())
    ort_version = subprocess.run(
        ["node", "-p", "require('onnxruntime-node/package.json').version"], cwd=HERE,
        capture_output=True, text=True).stdout.strip()
    eigenformer = args.text_encoder if with_eigenformer else f"not found at {args.text_encoder}"
    return [f"CPU: {cpu}, {os.cpu_count()} logical cores; load average at start "
            f"{load_average()}",
            f"ONNX Runtime: onnxruntime-node {ort_version} (CPU EP, graph optimization 'all', "
            f"intra-op threads = threads, inter-op 1)",
            f"eigenformer: {eigenformer}",
            f"{args.rounds} alternating rounds x {args.runs} timed runs per program; "
            f"cell = median over rounds of each round's median; token ids all valid, "
            f"attention mask all ones"]


def prepare_and_check_models(models, args, with_eigenformer):
    """Builds each model if needed and checks the runtimes' outputs against its reference.
    Returns ({model: dir}, report lines, whether every check passed)."""
    model_dirs, lines, all_agree = {}, [], True
    os.makedirs(args.scratch, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dumps-", dir=args.scratch) as dump_dir:
        for model in models:
            model_dir = prepare_model(model, args.scratch)
            model_dirs[model] = model_dir
            checks = [(f"{model}: ONNX Runtime vs torch reference",
                       functools.partial(ort_agreement, model_dir, dump_dir))]
            if with_eigenformer:
                checks.append((f"{model}: eigenformer vs torch reference",
                               functools.partial(eigenformer_agreement, args.text_encoder,
                                                 model_dir, dump_dir)))
            for name, runner in checks:
                line, passed = check_agreement(name, runner, args.tolerance)
                log(f"compare: {line[2:]}")
                lines.append(line)
                all_agree &= passed
    return model_dirs, lines, all_agree


def main():
    args = parse_args()
    check_setup()
    configs = [c for c in CONFIGS if not args.only or config_id(c) in args.only]
    with_eigenformer = os.access(args.text_encoder, os.X_OK)
    if not with_eigenformer:
        log(f"compare: NOTE {args.text_encoder} not found; timing ONNX Runtime only")
    header = describe_machine(args, with_eigenformer)
    model_dirs, agreement_lines, all_agree = prepare_and_check_models(
        dict.fromkeys(c[0] for c in configs), args, with_eigenformer)

    rows = []
    all_ran = True
    started = time.time()
    for config in configs:
        result, errors = benchmark_config(config, model_dirs[config[0]], args, with_eigenformer)
        all_ran &= not errors
        rows.append(table_row(config, result))

    print("\n".join(f"- {line}" for line in header))
    print(f"- benchmark wall time: {time.time() - started:.0f} s; load average at end "
          f"{load_average()}\n")
    print("| model | batch x seq | threads | ONNX Runtime median ms | eigenformer median ms | "
          "ratio (eigenformer / ORT) |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\nOutput agreement (last_hidden_state on real tokens):")
    print("\n".join(agreement_lines))
    if not all_ran:
        print("\nSome runs failed; see the messages above (n/a cells).")
    return 0 if all_agree and all_ran else 1


if __name__ == "__main__":
    sys.exit(main())
