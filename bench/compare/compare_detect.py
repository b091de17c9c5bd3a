#!/usr/bin/env python3
"""Times eigenformer-bench detect against ONNX Runtime on the same detector weights and input.

Detection rows of bench/compare: the speed fixtures' HF RT-DETR r18vd folder and ultralytics
rtdetr-l.pt, each with its ONNX export and input tensor (unpack the fixtures' archives into
--fixtures). Rounds alternate the two runtimes and the thread counts; the table gives each
runtime's median over rounds of per-round medians, and eigenformer / ONNX Runtime.

  compare_detect.py [--fixtures DIR] [--bench build/bench/eigenformer-bench] [--rounds R]
                    [--runs N] [--threads 1,2] [--only r18vd|rtdetr-l]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

MODELS = {
    # name: (eigenformer model path, ONNX file, input tensor file), relative to --fixtures
    "r18vd": ("rtdetr_r18vd_640", "rtdetr_r18vd_640/model.onnx", "rtdetr_r18vd_640/io.safetensors"),
    "rtdetr-l": ("rtdetr-l_640/rtdetr-l.pt", "rtdetr-l_640/model.onnx",
                 "rtdetr-l_640/images.safetensors"),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", default="/work/cache",
                        help="folder holding the unpacked speed fixtures (default: %(default)s)")
    parser.add_argument("--bench", default=os.path.join(REPO_ROOT, "build", "bench", "eigenformer-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--only", nargs="*", default=list(MODELS))
    return parser.parse_args()


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"compare_detect: {' '.join(command)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    times = {}  # (model, threads, runtime) -> per-round medians
    for round_index in range(args.rounds):
        for name in args.only:
            model, onnx, tensor = (os.path.join(args.fixtures, p) for p in MODELS[name])
            for t in threads:
                commands = {
                    "eigenformer": [args.bench, "detect", "--model", model, "--input-tensor", tensor,
                                    "--threads", str(t), "--runs", str(args.runs)],
                    "onnxruntime": ["node", os.path.join(HERE, "ort_detect.js"), "--model", onnx,
                                    "--input-tensor", tensor, "--threads", str(t),
                                    "--runs", str(args.runs)],
                }
                # Alternate which runtime goes first from round to round.
                order = list(commands) if round_index % 2 == 0 else list(reversed(commands))
                for runtime in order:
                    line = run_json(commands[runtime])
                    times.setdefault((name, t, runtime), []).append(line["median_ms"])
                    print(f"round {round_index + 1}: {name} t{t} {runtime} "
                          f"{line['median_ms']:.1f} ms", file=sys.stderr, flush=True)
    print("| model | threads | eigenformer ms | ONNX Runtime ms | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.only:
        for t in threads:
            ours = statistics.median(times[(name, t, "eigenformer")])
            theirs = statistics.median(times[(name, t, "onnxruntime")])
            print(f"| {name} | {t} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
