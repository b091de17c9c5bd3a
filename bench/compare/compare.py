#!/usr/bin/python3
"""Times eigenformer's text-encoder against ONNX Runtime on the same BERT weights and inputs.

For every configuration (model, batch x seq, threads) it runs both programs alternately for
--rounds rounds of --runs timed runs each, then prints a markdown table of medians and the
ratio eigenformer / ONNX Runtime. Before timing, each model's outputs are checked: ONNX
Runtime against the torch reference (make_model.py), and text-encoder too when it has the
--dump-hidden flag (see eigenformer_agreement). Without the text-encoder binary only the
ONNX Runtime column is filled.

With --paired, a configuration whose threads fit twice on the machine's cores runs both
programs at the same time instead, each pinned to its own cores, swapping the cores every
round; its ratio is then the median of the per-round ratios. Both programs see the same
moment's machine, which cancels most of the drift of a shared machine.
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
    parser.add_argument("--paired", action="store_true",
                        help="run both programs at once on separate cores where the thread "
                             "count allows (see above)")
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
    bench = os.path.join(os.path.dirname(os.path.dirname(text_encoder)), "bench",
                         "eigenformer-bench")
    return [bench, "text", "--model", model_dir, "--batch", str(batch),
            "--seq", str(seq), "--threads", str(threads), "--runs", str(runs)]


def start_timed(command, threads, cores=None):
    """Starts one benchmark program, pinned to `cores` when given."""
    # An inherited OMP_NUM_THREADS must not cap (or inflate) the thread count under test.
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    try:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=environment, preexec_fn=pin)
    except OSError as failure:
        raise RuntimeError(f"{command[0]}: {failure}") from failure


def finish_timed(process, command, batch, seq, threads):
    """Waits for a program started by start_timed; returns its JSON result or raises
    RuntimeError."""
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as failure:
        process.kill()
        process.communicate()
        raise RuntimeError(f"{command[0]}: {failure}") from failure
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: "
                           f"{stderr.strip()[-500:]}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict) or not {"median_ms", "min_ms"} <= report.keys():
        raise RuntimeError(f"{' '.join(command)}: expected one JSON line with median_ms and "
                           f"min_ms, got {stdout.strip()[-300:]!r}")
    echoed = (report.get("batch"), report.get("seq"), report.get("threads"))
    if echoed != (batch, seq, threads):
        raise RuntimeError(f"{' '.join(command)}: reported batch/seq/threads {echoed}, "
                           f"asked for {(batch, seq, threads)}")
    return report


def run_together(commands, batch, seq, threads, pins):
    """Starts every side's command, pinned to pins[side] when given, then waits for all.
    Returns ({side: report}, {side: error message})."""
    started, reports, errors = {}, {}, {}
    for side, command in commands.items():
        try:
            started[side] = start_timed(command, threads, pins.get(side))
        except RuntimeError as failure:
            errors[side] = str(failure)
    for side, process in started.items():
        try:
            reports[side] = finish_timed(process, commands[side], batch, seq, threads)
        except RuntimeError as failure:
            errors[side] = str(failure)
    return reports, errors


def run_round(commands, batch, seq, threads, pins):
    """Runs each side's command once: all at the same time when `pins` assigns their cores,
    else one after the other."""
    if pins:
        return run_together(commands, batch, seq, threads, pins)
    reports, errors = {}, {}
    for side, command in commands.items():
        side_reports, side_errors = run_together({side: command}, batch, seq, threads, {})
        reports.update(side_reports)
        errors.update(side_errors)
    return reports, errors


def paired_core_sets(threads, sides):
    """One set of `threads` cores per side, or None when the machine has too few."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < threads * sides:
        return None
    return [set(cores[i * threads:(i + 1) * threads]) for i in range(sides)]


def benchmark_config(config, model_dir, args, with_eigenformer):
    """Alternates the programs (ABBA...) so slow drifts in machine load hit both alike, or
    with --paired runs them at once on swapped cores. Returns ({side: median ms, "ratio":
    median per-round ratio when paired}, {side: error})."""
    _, batch, seq, threads = config
    commands = {"ort": ort_command(model_dir, batch, seq, threads, args.runs)}
    if with_eigenformer:
        commands["eigenformer"] = eigenformer_command(args.text_encoder, model_dir, batch, seq,
                                                      threads, args.runs)
    core_sets = paired_core_sets(threads, len(commands)) if args.paired else None
    if args.paired and not core_sets:
        log(f"compare: {config_id(config)}: too few cores to pair; alternating instead")
    medians = {side: [] for side in commands}
    ratios, errors = [], {}
    for round_index in range(args.rounds):
        pending = {side: command for side, command in commands.items() if side not in errors}
        pins = dict(zip(pending, core_sets)) if core_sets else {}
        reports, failures = run_round(pending, batch, seq, threads, pins)
        for side, failure in failures.items():
            errors[side] = failure
            log(f"compare: {config_id(config)} {side}: {failure}")
        for side, report in reports.items():
            medians[side].append(report["median_ms"])
            pinned = f" on cores {sorted(pins[side])}" if pins else ""
            log(f"compare: {config_id(config)} round {round_index + 1}/{args.rounds} {side}"
                f"{pinned}: median {report['median_ms']:.2f} ms, min {report['min_ms']:.2f} ms")
        if core_sets and {"ort", "eigenformer"} <= reports.keys():
            ratios.append(reports["eigenformer"]["median_ms"] / reports["ort"]["median_ms"])
        # Reversing the order alone also swaps the cores when paired.
        commands = dict(reversed(list(commands.items())))
    result = {side: (None if side in errors else statistics.median(values))
              for side, values in medians.items()}
    if ratios and not errors:
        result["ratio"] = statistics.median(ratios)
    return result, errors


def format_ms(value):
    return "n/a" if value is None else f"{value:.2f}"


def table_row(config, result):
    model, batch, seq, threads = config
    ort, eigenformer = result.get("ort"), result.get("eigenformer")
    if "ratio" in result:
        ratio = f"{result['ratio']:.2f} (paired)"
    else:
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
            f"{args.rounds} {'paired (where cores allow) or ' if args.paired else ''}"
            f"alternating rounds x {args.runs} timed runs per program; cell = median over "
            f"rounds of each round's median"
            f"{', a paired ratio the median of per-round ratios' if args.paired else ''}; "
            f"token ids all valid, attention mask all ones"]


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
