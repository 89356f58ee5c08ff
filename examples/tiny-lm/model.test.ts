import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Example, type StepRecord, TinyLM, Tokenizer, Trainer } from './model.mjs';

const datasetDir = join(import.meta.dirname, '../../seed/datasets/legal-rag-v2');

function readJsonl(path: string): Example[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Example);
}

const train = readJsonl(join(datasetDir, 'train.jsonl'));
const evalSet = readJsonl(join(datasetDir, 'eval.jsonl'));

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9-]+/g) ?? []);

describe('aicloud-tiny tokenizer', () => {
  const tokenizer = Tokenizer.fromTexts(['What is a force majeure clause?', 'A non-disclosure agreement.']);

  it('splits words and punctuation and decodes with natural spacing', () => {
    expect(Tokenizer.split('What is a non-disclosure agreement?')).toEqual([
      'What',
      'is',
      'a',
      'non-disclosure',
      'agreement',
      '?',
    ]);
    const ids = tokenizer.encode('What is a force majeure clause?');
    expect(tokenizer.decode(ids)).toBe('What is a force majeure clause?');
  });

  it('maps case variants to known words and unknown words to <unk>', () => {
    expect(tokenizer.encode('what')).toEqual(tokenizer.encode('What'));
    expect(tokenizer.encode('CLAUSE')).toEqual(tokenizer.encode('clause'));
    expect(tokenizer.encode('zebra')).toEqual([1]);
    expect(Tokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON()))).vocab).toEqual(tokenizer.vocab);
  });
});

describe('aicloud-tiny model', () => {
  let model: TinyLM;
  let result: ReturnType<TinyLM['train']>;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aicloud-tiny-'));
    model = TinyLM.create(train, { seed: 7 });
    result = model.train(train, { steps: 250, evalExamples: evalSet, evalEvery: 50 });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('training lowers the loss', () => {
    const initial = result.initialEvalLoss ?? Number.NaN;
    const final = result.finalEvalLoss ?? Number.NaN;
    // Near-uniform over the vocabulary at the start, a few hundredths of a nat per token at the end.
    expect(initial).toBeGreaterThan(Math.log(model.vocabSize) - 0.5);
    expect(final).toBeLessThan(0.7 * initial);
    expect(final).toBeLessThan(0.5);
    expect(result.history).toHaveLength(250);
    const mean = (records: StepRecord[]) => records.reduce((sum, r) => sum + r.loss, 0) / records.length;
    expect(mean(result.history.slice(-20))).toBeLessThan(0.2 * mean(result.history.slice(0, 20)));
    const evals = result.history.filter((r) => r.evalLoss !== undefined).map((r) => r.evalLoss ?? 0);
    expect(evals.length).toBe(5);
    expect(evals.at(-1)).toBeLessThan(evals[0] ?? 0);
  });

  it('is deterministic given a seed', () => {
    const run = () => {
      const m = TinyLM.create(train, { seed: 11 });
      const losses = m.train(train, { steps: 15 }).history.map((r) => r.loss);
      return { losses, embed: Array.from(m.embed('arbitration')) };
    };
    expect(run()).toEqual(run());
    const other = TinyLM.create(train, { seed: 12 });
    expect(Array.from(other.embed('arbitration'))).not.toEqual(run().embed);
  });

  it('answers a training prompt with words from its completion', () => {
    for (const example of [train[0], train[13], train[19]]) {
      if (!example) throw new Error('dataset too small');
      const answer = model.generate(example.prompt, { temperature: 0, maxTokens: 60 });
      const got = [...words(answer.text)];
      const want = words(example.completion);
      expect(got.length).toBeGreaterThanOrEqual(5);
      expect(got.filter((word) => want.has(word)).length / got.length).toBeGreaterThanOrEqual(0.8);
      expect(answer.finishReason).toBe('stop');
      expect(answer.completionTokens).toBeGreaterThan(0);
    }
    // Lower-case, no question mark: still understood.
    const loose = model.generate('what is arbitration', { temperature: 0 });
    expect(loose.text).toContain('arbitrat');
  });

  it('samples reproducibly with a seed and streams token by token', () => {
    const prompt = 'What is a notice clause?';
    const a = model.generate(prompt, { temperature: 0.9, seed: 5 });
    const b = model.generate(prompt, { temperature: 0.9, seed: 5 });
    expect(a).toEqual(b);
    const events = [...model.stream(prompt, { temperature: 0.9, seed: 5 })];
    const last = events.at(-1);
    expect(last?.done).toBe(true);
    const pieces = events.filter((e) => !e.done && e.text);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.map((e) => e.text).join('')).toBe(a.text);
    if (last?.done) expect(last.completionTokens).toBe(a.completionTokens);
  });

  it('honours max tokens and stop sequences', () => {
    const prompt = 'What is arbitration?';
    const full = model.generate(prompt, { temperature: 0 });
    const short = model.generate(prompt, { temperature: 0, maxTokens: 3 });
    expect(short.finishReason).toBe('length');
    expect(short.completionTokens).toBe(3);
    expect(full.text.startsWith(short.text)).toBe(true);
    const stopped = model.generate(prompt, { temperature: 0, stop: ['private way'] });
    expect(stopped.finishReason).toBe('stop');
    expect(full.text).toContain('private way');
    expect(stopped.text).toBe(full.text.slice(0, full.text.indexOf('private way')));
    const streamed = [...model.stream(prompt, { temperature: 0, stop: ['private way'] })]
      .map((e) => e.text)
      .join('');
    expect(streamed).toBe(stopped.text);
  });

  it('continues text in continue mode', () => {
    const continued = model.generate('What is arbitration?', { temperature: 0, mode: 'continue' });
    expect(continued.text.startsWith('\n')).toBe(true);
    expect(continued.text).toContain('arbitrator');
    // "question\nanswer prefix" continues the answer.
    const prefixed = model.generate('What is arbitration?\nArbitration is a', {
      temperature: 0,
      mode: 'continue',
    });
    expect(prefixed.text.startsWith(' private way of resolving disputes')).toBe(true);
  });

  it('embeds text as L2-normalised vectors', () => {
    const vector = model.embed('What is a force majeure clause?');
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector.length).toBe(model.embedDim);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(Array.from(model.embed('What is a force majeure clause?'))).toEqual(Array.from(vector));
    expect(Array.from(model.embed('arbitration'))).not.toEqual(Array.from(vector));
  });

  it('save and load round-trip to identical outputs', () => {
    model.save(dir, { name: 'legal-answerer' });
    for (const file of [
      'model.safetensors',
      'tokenizer.json',
      'config.json',
      'generation_config.json',
      'MODEL',
    ]) {
      expect(existsSync(join(dir, file))).toBe(true);
    }
    expect(readFileSync(join(dir, 'MODEL'), 'utf8').trim()).toBe('legal-answerer');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.runtime).toBe('aicloud-tiny');
    expect(config.vocab_size).toBe(model.vocabSize);
    const loaded = TinyLM.load(dir);
    expect(loaded.tokenizer.vocab).toEqual(model.tokenizer.vocab);
    expect(loaded.loss(evalSet)).toBe(model.loss(evalSet));
    for (const options of [{ temperature: 0 }, { temperature: 1, seed: 3 }]) {
      expect(loaded.generate('What is a material breach?', options)).toEqual(
        model.generate('What is a material breach?', options),
      );
    }
    expect(Array.from(loaded.embed('personal data'))).toEqual(Array.from(model.embed('personal data')));
  });

  it('writes a real safetensors file', () => {
    model.save(dir);
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    const dataStart = 8 + headerLength;
    const tensors = Object.entries(header).filter(([name]) => name !== '__metadata__');
    expect(tensors.map(([name]) => name).sort()).toEqual(Object.keys(model.params).sort());
    let covered = 0;
    for (const [name, info] of tensors) {
      expect(info.dtype).toBe('F32');
      const [begin, end] = info.data_offsets;
      const count = info.shape.reduce((a, b) => a * b, 1);
      expect(end - begin).toBe(count * 4);
      covered += end - begin;
      const params = model.params[name];
      if (!params) throw new Error(`no parameter ${name}`);
      expect(params.length).toBe(count);
      for (const i of [0, Math.floor(count / 2), count - 1]) {
        expect(bytes.readFloatLE(dataStart + begin + i * 4)).toBe(params[i]);
      }
    }
    expect(covered).toBe(bytes.length - dataStart);
    const sorted = tensors.map(([, info]) => info.data_offsets).sort((a, b) => a[0] - b[0]);
    sorted.forEach(([begin], i) => {
      expect(begin).toBe(i === 0 ? 0 : sorted[i - 1]?.[1]);
    });
  });

  it('resumes training exactly from a checkpoint', () => {
    const steps = 20;
    const a = new Trainer(TinyLM.create(train, { seed: 9 }), train, { steps });
    for (let i = 0; i < steps; i++) a.trainStep();
    const first = new Trainer(TinyLM.create(train, { seed: 9 }), train, { steps });
    for (let i = 0; i < 8; i++) first.trainStep();
    const checkpoint = join(dir, 'checkpoint');
    first.saveCheckpoint(checkpoint);
    const resumed = new Trainer(TinyLM.load(checkpoint), train, { steps });
    resumed.loadCheckpoint(checkpoint);
    expect(resumed.step).toBe(8);
    while (resumed.step < steps) resumed.trainStep();
    for (const [name, values] of Object.entries(a.model.params)) {
      expect(Array.from(resumed.model.params[name] ?? []), name).toEqual(Array.from(values));
    }
  });
});
