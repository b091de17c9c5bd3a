#!/usr/bin/env node
// The ONNX Runtime side of the detection comparison: times a detector's ONNX export on the
// 4-D input tensor of a safetensors file (pixel_values or images) and prints one JSON line
// shaped like eigenformer-bench's: {"median_ms", "min_ms", "runs", "threads"}.
//   node ort_detect.js --model FILE.onnx --input-tensor FILE.safetensors [--threads T]
//                      [--runs N] [--warmup W] [--dump OUT.json]
// --dump writes the first output's values and dims (for agreement checks).
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const options = {threads: 1, runs: 5, warmup: 1};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${argv[i]}`);
    if (['threads', 'runs', 'warmup'].includes(name)) {
      options[name] = Number(value);
      if (!Number.isInteger(options[name]) || options[name] < 0) {
        throw new Error(`--${name} expects a non-negative integer`);
      }
    } else if (['model', 'input-tensor', 'dump'].includes(name)) {
      options[name] = value;
    } else {
      throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!options.model || !options['input-tensor']) {
    throw new Error('usage: ort_detect.js --model FILE.onnx --input-tensor FILE.safetensors');
  }
  return options;
}

// A safetensors file's one float32 4-D tensor named pixel_values or images.
function readInput(path) {
  const bytes = fs.readFileSync(path);
  const headerSize = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerSize).toString('utf8'));
  const name = header.images ? 'images' : 'pixel_values';
  const entry = header[name];
  if (!entry || entry.dtype !== 'F32' || entry.shape.length !== 4) {
    throw new Error(`${path}: no float32 4-D tensor pixel_values or images`);
  }
  const [begin, end] = entry.data_offsets;
  const data = new Float32Array(bytes.buffer.slice(
      bytes.byteOffset + 8 + headerSize + begin, bytes.byteOffset + 8 + headerSize + end));
  return new ort.Tensor('float32', data, entry.shape);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(options.model, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {[session.inputNames[0]]: readInput(options['input-tensor'])};
  let outputs;
  for (let i = 0; i < options.warmup; ++i) outputs = await session.run(feeds);
  const times = [];
  for (let i = 0; i < options.runs; ++i) {
    const start = process.hrtime.bigint();
    outputs = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  if (options.dump) {
    const first = outputs[session.outputNames[0]];
    fs.writeFileSync(options.dump, JSON.stringify({dims: first.dims, data: Array.from(first.data)}));
  }
  console.log(JSON.stringify({
    task: 'detect', runtime: 'onnxruntime', median_ms: median(times),
    min_ms: Math.min(...times), runs: options.runs, threads: options.threads,
  }));
}

main().catch((error) => {
  console.error(`ort_detect: ${error.message}`);
  process.exit(1);
});
