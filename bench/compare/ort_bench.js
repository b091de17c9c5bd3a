#!/usr/bin/env node
// The ONNX Runtime side of the comparison: times a BERT encoder exported by make_model.py.
//
// Benchmark (prints one JSON line shaped like text-encoder's --benchmark output):
//   node ort_bench.js --model DIR/model.onnx --batch B --seq L [--threads T] [--runs N]
//                     [--warmup W] [--seed S]
// Agreement (runs the fixed reference input once, writes last_hidden_state):
//   node ort_bench.js --model DIR/model.onnx --reference-dir DIR/reference --dump-hidden OUT
//   OUT is raw little-endian float32, batch x seq x hidden, row-major.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const USAGE = 'usage: ort_bench.js --model FILE.onnx (--batch B --seq L [--threads T] ' +
    '[--runs N] [--warmup W] [--seed S] | --reference-dir DIR --dump-hidden OUT)';
const INPUT_NAMES = ['input_ids', 'attention_mask', 'token_type_ids'];
const FIRST_ORDINARY_TOKEN_ID = 1000;  // skips [PAD], [CLS], ... and [unusedN] in BERT vocabs

function parseArgs(argv) {
  const options = {threads: 1, runs: 10, warmup: 2, seed: 1};
  const integerOptions = new Set(['batch', 'seq', 'threads', 'runs', 'warmup', 'seed']);
  const stringOptions = new Set(['model', 'reference-dir', 'dump-hidden']);
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (!argv[i].startsWith('--') || value === undefined ||
        !(integerOptions.has(name) || stringOptions.has(name))) {
      throw new Error(`bad argument '${argv[i]}'\n${USAGE}`);
    }
    if (integerOptions.has(name)) {
      const number = Number(value);
      if (!Number.isInteger(number) || number < 0) {
        throw new Error(`--${name} expects a non-negative integer, got '${value}'`);
      }
      options[name] = number;
    } else {
      options[name] = value;
    }
  }
  if (!options.model) throw new Error(`--model is required\n${USAGE}`);
  return options;
}

async function createSession(modelPath, threads) {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
}

// mulberry32: a tiny seeded generator, so every run times the same ids.
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function vocabSize(modelDir) {
  const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  return config.vocab_size;
}

// All tokens valid (mask all ones) and one segment, as text-encoder --benchmark does.
function benchmarkFeeds(batch, seq, vocab, seed) {
  const count = batch * seq;
  const random = seededRandom(seed);
  const ids = new BigInt64Array(count);
  for (let i = 0; i < count; ++i) {
    ids[i] = BigInt(FIRST_ORDINARY_TOKEN_ID +
                    Math.floor(random() * (vocab - FIRST_ORDINARY_TOKEN_ID)));
  }
  const dims = [batch, seq];
  return {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(count).fill(1n), dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(count), dims),
  };
}

function median(sorted) {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function benchmark(options) {
  for (const name of ['batch', 'seq']) {
    if (!options[name]) throw new Error(`--${name} must be given and positive\n${USAGE}`);
  }
  if (options.runs < 1 || options.threads < 1) throw new Error('--runs and --threads must be >= 1');
  const session = await createSession(options.model, options.threads);
  const feeds = benchmarkFeeds(options.batch, options.seq,
                               vocabSize(path.dirname(options.model)), options.seed);
  for (let i = 0; i < options.warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < options.runs; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 1000) / 1000;
  console.log(JSON.stringify({
    batch: options.batch, seq: options.seq, threads: options.threads,
    median_ms: round(median(times)), min_ms: round(times[0]), runs: options.runs,
  }));
}

function readInt64(file, shape) {
  const bytes = fs.readFileSync(file);
  const expected = shape.reduce((a, b) => a * b, 1) * 8;
  if (bytes.length !== expected) {
    throw new Error(`${file}: expected ${expected} bytes for int64 ${JSON.stringify(shape)}, ` +
                    `found ${bytes.length}`);
  }
  const copy = new BigInt64Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < copy.length; ++i) copy[i] = bytes.readBigInt64LE(i * 8);
  return new ort.Tensor('int64', copy, shape);
}

async function dumpHidden(options) {
  const description =
      JSON.parse(fs.readFileSync(path.join(options['reference-dir'], 'reference.json'), 'utf8'));
  const feeds = {};
  for (const name of INPUT_NAMES) {
    const {file, shape} = description[name];
    feeds[name] = readInt64(path.join(options['reference-dir'], file), shape);
  }
  const session = await createSession(options.model, options.threads);
  const {last_hidden_state: output} = await session.run(feeds);
  const data = Float32Array.from(output.data);
  const bytes = Buffer.alloc(data.length * 4);
  data.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  fs.writeFileSync(options['dump-hidden'], bytes);
  console.log(JSON.stringify({dump_hidden: options['dump-hidden'], shape: output.dims}));
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options['dump-hidden'] || options['reference-dir']) {
    if (!options['dump-hidden'] || !options['reference-dir']) {
      throw new Error(`--reference-dir and --dump-hidden go together\n${USAGE}`);
    }
    await dumpHidden(options);
  } else {
    await benchmark(options);
  }
}

main().catch((error) => {
  console.error(`ort_bench: ${error.message}`);
  process.exit(1);
});
