#!/usr/bin/env node
// The example fine-tune job: trains the aicloud-tiny language model on a {"prompt","completion"} JSONL
// dataset, reports metrics as JSON lines on stdout, checkpoints and resumes, and writes the final model.
//
// Inputs (environment, as aicloud sets them for a job; flags override for runs by hand):
//   AICLOUD_DATASETS        colon-separated dataset dirs; the first one holds train.jsonl (and eval.jsonl)
//   AICLOUD_OUTPUT_DIR      where the final model goes            (--output DIR)
//   AICLOUD_CHECKPOINT_DIR  where checkpoints go and resume from  (--checkpoint-dir DIR)
//   STEPS, EPOCHS, SEED, BATCH_SIZE, LEARNING_RATE, LOG_EVERY, EVAL_EVERY, CHECKPOINT_EVERY,
//   KEEP_CHECKPOINTS, MODEL_NAME (default legal-answerer)
// Usage: node examples/fine-tune/train.mjs [--data DIR] [--output DIR] [--checkpoint-dir DIR]

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { TinyLM, Trainer } from '../tiny-lm/model.mjs';

function fail(message) {
  process.stderr.write(`train: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) fail(`unexpected argument ${arg}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) fail(`${arg} needs a value`);
    args[match[1]] = value;
  }
  return args;
}

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

function numberEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number, got ${raw}`);
  return value;
}

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

/** Finds a file by name in dir or up to two levels below it. */
function findFile(dir, names, depth = 0) {
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  if (depth >= 2) return undefined;
  let entries = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory()) continue;
    const found = findFile(join(dir, entry.name), names, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function readJsonl(path) {
  const examples = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (!line.trim()) return;
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        fail(`${path}:${index + 1}: not JSON`);
      }
      if (typeof record?.prompt !== 'string' || typeof record?.completion !== 'string') {
        fail(`${path}:${index + 1}: want {"prompt": string, "completion": string}`);
      }
      examples.push({ prompt: record.prompt, completion: record.completion });
    });
  return examples;
}

function latestCheckpoint(dir) {
  if (!dir || !existsSync(dir)) return undefined;
  const found = readdirSync(dir)
    .map((name) => ({ name, match: /^checkpoint-(\d+)$/.exec(name) }))
    .filter(({ name, match }) => match && existsSync(join(dir, name, 'trainer_state.json')))
    .map(({ name, match }) => ({ path: join(dir, name), step: Number(match[1]) }))
    .sort((a, b) => b.step - a.step);
  return found[0];
}

/** Saves a checkpoint atomically (write a temp dir, then rename) and prunes old ones. */
function saveCheckpoint(dir, trainer, extra, keep) {
  mkdirSync(dir, { recursive: true });
  const final = join(dir, `checkpoint-${trainer.step}`);
  const temp = join(dir, `.checkpoint-${trainer.step}.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  trainer.saveCheckpoint(temp, extra);
  rmSync(final, { recursive: true, force: true });
  renameSync(temp, final);
  const all = readdirSync(dir)
    .map((name) => ({ name, match: /^checkpoint-(\d+)$/.exec(name) }))
    .filter(({ match }) => match)
    .sort((a, b) => Number(b.match[1]) - Number(a.match[1]));
  for (const old of all.slice(keep)) rmSync(join(dir, old.name), { recursive: true, force: true });
  return final;
}

const yieldToEventLoop = () => new Promise((resolveYield) => setImmediate(resolveYield));

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const datasetDir = args.data ?? (process.env.AICLOUD_DATASETS ?? '').split(':').find(Boolean);
  const outputDir = args.output ?? process.env.AICLOUD_OUTPUT_DIR;
  const checkpointDir = args['checkpoint-dir'] ?? process.env.AICLOUD_CHECKPOINT_DIR;
  if (!datasetDir) fail('no dataset: set AICLOUD_DATASETS or pass --data DIR');
  if (!outputDir) fail('no output dir: set AICLOUD_OUTPUT_DIR or pass --output DIR');

  const trainPath = findFile(resolve(datasetDir), ['train.jsonl']);
  if (!trainPath) fail(`no train.jsonl in ${datasetDir}`);
  const evalPath = findFile(resolve(trainPath, '..'), ['eval.jsonl', 'validation.jsonl', 'valid.jsonl'], 2);
  const train = readJsonl(trainPath);
  const evalSet = evalPath ? readJsonl(evalPath) : [];
  if (train.length === 0) fail(`${trainPath} has no examples`);

  const seed = intEnv('SEED', 42);
  const batchSize = intEnv('BATCH_SIZE', 16) || 16;
  const learningRate = numberEnv('LEARNING_RATE', 0.02);
  const logEvery = intEnv('LOG_EVERY', 10) || 10;
  const evalEvery = intEnv('EVAL_EVERY', 50);
  const checkpointEvery = intEnv('CHECKPOINT_EVERY', 50);
  const keep = intEnv('KEEP_CHECKPOINTS', 2) || 1;
  const modelName = process.env.MODEL_NAME || 'legal-answerer';

  let stopSignal = null;
  const onSignal = (signal) => {
    stopSignal = signal;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const resumeFrom = latestCheckpoint(checkpointDir);
  const model = resumeFrom ? TinyLM.load(resumeFrom.path) : TinyLM.create(train, { seed });
  const probe = new Trainer(model, train, { batchSize });
  const epochs = process.env.EPOCHS ? numberEnv('EPOCHS', 1) : undefined;
  const steps = process.env.STEPS
    ? intEnv('STEPS', 400)
    : epochs
      ? Math.max(1, Math.ceil((epochs * probe.tokensPerEpoch) / batchSize))
      : 400;
  const trainer = new Trainer(model, train, { batchSize, learningRate, steps, seed });
  let initialEvalLoss;
  if (resumeFrom) {
    const state = trainer.loadCheckpoint(resumeFrom.path);
    trainer.seed = state.seed ?? seed;
    initialEvalLoss = state.initial_eval_loss;
    log(`resumed from checkpoint ${resumeFrom.path} at step ${trainer.step}`);
    emit({ event: 'resumed', step: trainer.step, checkpoint: resumeFrom.path });
  } else {
    log(
      `training aicloud-tiny on ${train.length} examples from ${trainPath} ` +
        `(${evalSet.length} eval): vocab ${model.vocabSize}, ${model.parameterCount} parameters, ${steps} steps`,
    );
    if (evalSet.length > 0) {
      initialEvalLoss = model.loss(evalSet);
      emit({ event: 'metric', step: 0, eval_loss: round(initialEvalLoss) });
    }
  }
  const extra = () => ({ initial_eval_loss: initialEvalLoss, model_name: modelName });

  let lastCheckpointStep = resumeFrom ? trainer.step : -1;
  let windowLoss = 0;
  let windowSteps = 0;
  let windowTokens = 0;
  let windowStart = performance.now();
  let lastLoss = Number.NaN;
  let lastEvalLoss;
  while (trainer.step < trainer.totalSteps) {
    if (stopSignal) break;
    const record = trainer.trainStep();
    windowLoss += record.loss;
    windowSteps++;
    windowTokens += record.tokens;
    lastLoss = record.loss;
    const step = record.step;
    const last = step === trainer.totalSteps;
    const evaluate = evalSet.length > 0 && ((evalEvery > 0 && step % evalEvery === 0) || last);
    if (step % logEvery === 0 || last || evaluate) {
      const elapsed = (performance.now() - windowStart) / 1000;
      const metric = {
        event: 'metric',
        step,
        loss: round(windowLoss / windowSteps),
        tokens_per_s: Math.round(windowTokens / Math.max(elapsed, 1e-6)),
        learning_rate: Number(record.learningRate.toPrecision(4)),
        epoch: Number(((step * batchSize) / trainer.tokensPerEpoch).toFixed(3)),
      };
      if (evaluate) {
        lastEvalLoss = model.loss(evalSet);
        metric.eval_loss = round(lastEvalLoss);
      }
      emit(metric);
      windowLoss = 0;
      windowSteps = 0;
      windowTokens = 0;
      windowStart = performance.now();
    }
    if (checkpointDir && checkpointEvery > 0 && step % checkpointEvery === 0) {
      saveCheckpoint(checkpointDir, trainer, extra(), keep);
      lastCheckpointStep = step;
    }
    await yieldToEventLoop();
  }

  if (stopSignal) {
    let path = null;
    if (checkpointDir && trainer.step !== lastCheckpointStep)
      path = saveCheckpoint(checkpointDir, trainer, extra(), keep);
    else if (checkpointDir) path = join(checkpointDir, `checkpoint-${trainer.step}`);
    log(`received ${stopSignal} at step ${trainer.step}: checkpoint saved, exiting`);
    emit({ event: 'preempted', signal: stopSignal, step: trainer.step, checkpoint: path });
    process.exit(0);
  }

  if (checkpointDir && trainer.step !== lastCheckpointStep && trainer.step > 0) {
    saveCheckpoint(checkpointDir, trainer, extra(), keep);
  }
  const finalEvalLoss = evalSet.length > 0 ? (lastEvalLoss ?? model.loss(evalSet)) : undefined;
  const finalTrainLoss = model.loss(train);
  model.save(outputDir, {
    name: modelName,
    extraConfig: { trained_steps: trainer.step, dataset: trainPath },
  });
  const summary = {
    model_name: modelName,
    steps: trainer.step,
    train_examples: train.length,
    eval_examples: evalSet.length,
    initial_eval_loss: initialEvalLoss === undefined ? null : round(initialEvalLoss),
    final_eval_loss: finalEvalLoss === undefined ? null : round(finalEvalLoss),
    final_train_loss: round(finalTrainLoss),
    last_batch_loss: round(lastLoss),
  };
  writeFileSync(join(outputDir, 'metrics.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const sample = evalSet[0] ?? train[0];
  const answer = model.generate(sample.prompt, { temperature: 0, maxTokens: 48 }).text;
  log(`sample: ${JSON.stringify(sample.prompt)} -> ${JSON.stringify(answer)}`);
  log(`wrote ${modelName} to ${outputDir}`);
  emit({ event: 'done', ...summary, output_dir: outputDir });
}

function round(value) {
  return Number(value.toFixed(5));
}

main().catch((error) => {
  process.stderr.write(`train: ${error?.stack ?? error}\n`);
  process.exit(1);
});
