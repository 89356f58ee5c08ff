// aicloud-tiny: a small word-level neural language model that trains on a CPU in seconds.
//
// Architecture: each next token is predicted from
//   - the embeddings of the previous `context_size` tokens (left-padded), and
//   - the mean embedding of the prompt tokens seen so far (a bag-of-words view of the question),
// concatenated and fed through one tanh hidden layer and a softmax over the vocabulary.
// Training is softmax cross-entropy with Adam, written by hand over Float32Arrays.
// Everything is deterministic given a seed. No dependencies beyond Node's standard library.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUNTIME = 'aicloud-tiny';
export const SPECIAL_TOKENS = ['<pad>', '<unk>', '<bos>', '<sep>', '<eos>'];
export const PAD = 0;
export const UNK = 1;
export const BOS = 2;
export const SEP = 3;
export const EOS = 4;
const FIRST_WORD = SPECIAL_TOKENS.length;

/** Words (letters/digits, with inner apostrophes or hyphens) or single punctuation characters. */
const TOKEN_PATTERN = "[\\p{L}\\p{N}]+(?:['’\\-][\\p{L}\\p{N}]+)*|[^\\s\\p{L}\\p{N}]";
const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '!', '?', ')', ']', '}', '%', "'", '’']);
const NO_SPACE_AFTER = new Set(['(', '[', '{', '$']);

// ---------------------------------------------------------------------------------------------
// Randomness

/** A small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes two integers into a 32-bit seed (used to derive per-step seeds, so training resumes exactly). */
export function mixSeed(a, b) {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x21f0aaad);
  h ^= h >>> 15;
  h = Math.imul(h, 0x735a2d97);
  h ^= h >>> 15;
  return h >>> 0;
}

function gaussian(rng) {
  const u = Math.max(rng(), 1e-12);
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

export class Tokenizer {
  /** @param {string[]} vocab tokens by id; the first entries are SPECIAL_TOKENS */
  constructor(vocab) {
    for (let i = 0; i < FIRST_WORD; i++) {
      if (vocab[i] !== SPECIAL_TOKENS[i])
        throw new Error(`tokenizer: token ${i} must be ${SPECIAL_TOKENS[i]}`);
    }
    this.vocab = vocab;
    this.ids = new Map(vocab.map((token, id) => [token, id]));
  }

  /** Builds a vocabulary from texts: every distinct token, most frequent first (ties alphabetical). */
  static fromTexts(texts) {
    const counts = new Map();
    for (const text of texts) {
      for (const word of Tokenizer.split(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    const words = [...counts.entries()]
      .filter(([word]) => !SPECIAL_TOKENS.includes(word))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([word]) => word);
    return new Tokenizer([...SPECIAL_TOKENS, ...words]);
  }

  static split(text) {
    return String(text).match(new RegExp(TOKEN_PATTERN, 'gu')) ?? [];
  }

  get size() {
    return this.vocab.length;
  }

  /** The id of a word: exact, else lower-cased, else capitalised, else <unk>. */
  tokenId(word) {
    const exact = this.ids.get(word);
    if (exact !== undefined) return exact;
    const lower = word.toLowerCase();
    const lowerId = this.ids.get(lower);
    if (lowerId !== undefined) return lowerId;
    const capitalised = this.ids.get(lower.charAt(0).toUpperCase() + lower.slice(1));
    return capitalised ?? UNK;
  }

  /** Text to token ids (no special tokens added). */
  encode(text) {
    return Tokenizer.split(text).map((word) => this.tokenId(word));
  }

  /** The text a token adds after the token `prev`: a leading space where words need one. */
  piece(id, prev) {
    if (id === SEP) return '\n';
    if (id < FIRST_WORD) return '';
    const text = this.vocab[id] ?? '';
    if (prev === undefined || prev === BOS || prev === SEP || prev === PAD) return text;
    if (NO_SPACE_BEFORE.has(text) || NO_SPACE_AFTER.has(this.vocab[prev] ?? '')) return text;
    return ` ${text}`;
  }

  decode(ids) {
    let text = '';
    let prev;
    for (const id of ids) {
      text += this.piece(id, prev);
      prev = id;
    }
    return text;
  }

  toJSON() {
    return {
      type: 'aicloud-tiny-word',
      version: 1,
      pattern: TOKEN_PATTERN,
      special_tokens: { pad: PAD, unk: UNK, bos: BOS, sep: SEP, eos: EOS },
      vocab: this.vocab,
    };
  }

  static fromJSON(json) {
    if (json?.type !== 'aicloud-tiny-word' || !Array.isArray(json.vocab)) {
      throw new Error('tokenizer.json: not an aicloud-tiny-word tokenizer');
    }
    return new Tokenizer(json.vocab.map(String));
  }
}

// ---------------------------------------------------------------------------------------------
// safetensors (https://github.com/huggingface/safetensors#format)

/**
 * Writes tensors in the safetensors format: u64 little-endian header size, a JSON header
 * ({name: {dtype, shape, data_offsets}}, plus `__metadata__` of strings) padded with spaces to a
 * multiple of 8 bytes, then the raw little-endian data.
 * @param {string} path
 * @param {Record<string, {shape: number[], data: Float32Array}>} tensors
 * @param {Record<string, string>} [metadata]
 */
export function writeSafetensors(path, tensors, metadata = {}) {
  const names = Object.keys(tensors).sort();
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`tensor ${name}: shape ${shape} does not hold ${data.length}`);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name];
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], at + i * 4);
    at += data.length * 4;
  }
  writeFileSync(path, out);
}

/**
 * Reads a safetensors file of F32 tensors, checking the header and that the offsets tile the data.
 * @returns {{tensors: Record<string, {shape: number[], data: Float32Array}>, metadata: Record<string, string>}}
 */
export function readSafetensors(path) {
  const buffer = readFileSync(path);
  if (buffer.length < 8) throw new Error(`${path}: too short for safetensors`);
  const headerSize = Number(buffer.readBigUInt64LE(0));
  if (headerSize <= 0 || 8 + headerSize > buffer.length) throw new Error(`${path}: bad header size`);
  const header = JSON.parse(buffer.subarray(8, 8 + headerSize).toString('utf8'));
  const base = 8 + headerSize;
  const dataLength = buffer.length - base;
  const tensors = {};
  const spans = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${path}: tensor ${name} has dtype ${info.dtype}, want F32`);
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end <= dataLength && end - begin === count * 4)) {
      throw new Error(`${path}: tensor ${name} has bad data_offsets`);
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = buffer.readFloatLE(base + begin + i * 4);
    tensors[name] = { shape: info.shape, data };
    spans.push([begin, end]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let expected = 0;
  for (const [begin, end] of spans) {
    if (begin !== expected) throw new Error(`${path}: tensor data is not contiguous`);
    expected = end;
  }
  if (expected !== dataLength) throw new Error(`${path}: trailing bytes after tensor data`);
  return { tensors, metadata: header.__metadata__ ?? {} };
}

// ---------------------------------------------------------------------------------------------
// Model

const PARAM_NAMES = ['embed.weight', 'hidden.weight', 'hidden.bias', 'output.weight', 'output.bias'];

/** Sampling defaults saved as generation_config.json; servers use them when a request names none. */
export const DEFAULT_GENERATION_CONFIG = { temperature: 0.7, top_p: 0.9, max_new_tokens: 256 };

export const DEFAULT_CONFIG = {
  embed_dim: 32,
  context_size: 6,
  hidden_size: 64,
};

const TRAILING_PUNCTUATION = new Set(['?', '.', '!', ':', ';', ',']);

/** A question's token ids without trailing punctuation, so "what is x" and "What is x?" read alike. */
function questionIds(tokenizer, prompt) {
  const ids = tokenizer.encode(prompt);
  while (ids.length > 0 && TRAILING_PUNCTUATION.has(tokenizer.vocab[ids[ids.length - 1]])) ids.pop();
  return ids;
}

/**
 * The model's input for a prompt. 'answer': <bos> question <sep>. 'continue': the prompt is a document
 * in the training format, "question\nanswer": the first line is the question, the rest (if any) the
 * beginning of the answer to continue.
 */
function promptSequence(tokenizer, prompt, mode) {
  const text = String(prompt);
  if (mode === 'answer') return [BOS, ...questionIds(tokenizer, text), SEP];
  const newline = text.indexOf('\n');
  if (newline < 0) return [BOS, ...questionIds(tokenizer, text)];
  return [
    BOS,
    ...questionIds(tokenizer, text.slice(0, newline)),
    SEP,
    ...tokenizer.encode(text.slice(newline + 1)),
  ];
}

/** Token ids of a training example: <bos> question <sep> completion <eos>. */
function exampleIds(tokenizer, example) {
  return [BOS, ...questionIds(tokenizer, example.prompt), SEP, ...tokenizer.encode(example.completion), EOS];
}

export class TinyLM {
  /**
   * @param {object} config config.json contents
   * @param {Tokenizer} tokenizer
   * @param {Record<string, Float32Array>} params by PARAM_NAMES
   * @param {{temperature?: number, top_p?: number, max_new_tokens?: number}} [generationConfig]
   */
  constructor(config, tokenizer, params, generationConfig = DEFAULT_GENERATION_CONFIG) {
    this.generationConfig = { ...generationConfig };
    this.config = { ...config, runtime: RUNTIME, vocab_size: tokenizer.size };
    this.tokenizer = tokenizer;
    const V = tokenizer.size;
    const { embed_dim: D, context_size: K, hidden_size: H } = this.config;
    this.inputSize = (K + 1) * D;
    const shapes = {
      'embed.weight': [V, D],
      'hidden.weight': [this.inputSize, H],
      'hidden.bias': [H],
      'output.weight': [H, V],
      'output.bias': [V],
    };
    this.shapes = shapes;
    for (const name of PARAM_NAMES) {
      const want = shapes[name].reduce((a, b) => a * b, 1);
      if (!params[name] || params[name].length !== want)
        throw new Error(`model: parameter ${name} missing or wrong size`);
    }
    this.params = params;
    this.scratch = this.makeScratch();
  }

  /**
   * A freshly initialised model whose vocabulary covers the given examples' prompts and completions.
   * @param {{prompt: string, completion: string}[]} examples
   */
  static create(examples, options = {}) {
    const seed = options.seed ?? 0;
    const tokenizer = Tokenizer.fromTexts(examples.flatMap((e) => [e.prompt, e.completion]));
    const config = {
      embed_dim: options.embedDim ?? DEFAULT_CONFIG.embed_dim,
      context_size: options.contextSize ?? DEFAULT_CONFIG.context_size,
      hidden_size: options.hiddenSize ?? DEFAULT_CONFIG.hidden_size,
      seed,
    };
    const V = tokenizer.size;
    const { embed_dim: D, context_size: K, hidden_size: H } = config;
    const rng = mulberry32(mixSeed(seed, 0x5eed));
    const fill = (n, scale) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = gaussian(rng) * scale;
      return a;
    };
    const inputSize = (K + 1) * D;
    return new TinyLM(config, tokenizer, {
      'embed.weight': fill(V * D, 0.3),
      'hidden.weight': fill(inputSize * H, 1 / Math.sqrt(inputSize)),
      'hidden.bias': new Float32Array(H),
      'output.weight': fill(H * V, 0.1 / Math.sqrt(H)),
      'output.bias': new Float32Array(V),
    });
  }

  get vocabSize() {
    return this.tokenizer.size;
  }

  get embedDim() {
    return this.config.embed_dim;
  }

  /** Number of trainable parameters. */
  get parameterCount() {
    return PARAM_NAMES.reduce((n, name) => n + this.params[name].length, 0);
  }

  makeScratch() {
    const H = this.config.hidden_size;
    const V = this.tokenizer.size;
    return {
      x: new Float64Array(this.inputSize),
      h: new Float64Array(H),
      probs: new Float64Array(V),
      dh: new Float64Array(H),
      dx: new Float64Array(this.inputSize),
      bagCount: 0,
    };
  }

  /**
   * Forward pass predicting seq[t] from seq[0..t-1]; the bag covers prompt tokens before min(t, sepIndex).
   * Leaves logits in s.probs (not yet normalised) and activations in s.x, s.h.
   */
  forward(seq, t, sepIndex, s) {
    const { embed_dim: D, context_size: K, hidden_size: H } = this.config;
    const V = this.tokenizer.size;
    const E = this.params['embed.weight'];
    const W1 = this.params['hidden.weight'];
    const b1 = this.params['hidden.bias'];
    const W2 = this.params['output.weight'];
    const b2 = this.params['output.bias'];
    const { x, h, probs } = s;
    for (let k = 0; k < K; k++) {
      const index = t - K + k;
      const id = index >= 0 ? seq[index] : PAD;
      const row = id * D;
      for (let d = 0; d < D; d++) x[k * D + d] = E[row + d];
    }
    const bagAt = K * D;
    for (let d = 0; d < D; d++) x[bagAt + d] = 0;
    const end = Math.min(t, sepIndex);
    let n = 0;
    for (let i = 1; i < end; i++) {
      const id = seq[i];
      if (id < FIRST_WORD) continue;
      const row = id * D;
      for (let d = 0; d < D; d++) x[bagAt + d] += E[row + d];
      n++;
    }
    if (n > 0) for (let d = 0; d < D; d++) x[bagAt + d] /= n;
    s.bagCount = n;

    for (let j = 0; j < H; j++) h[j] = b1[j];
    const inputSize = this.inputSize;
    for (let i = 0; i < inputSize; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const row = i * H;
      for (let j = 0; j < H; j++) h[j] += xi * W1[row + j];
    }
    for (let j = 0; j < H; j++) h[j] = Math.tanh(h[j]);

    for (let v = 0; v < V; v++) probs[v] = b2[v];
    for (let i = 0; i < H; i++) {
      const hi = h[i];
      const row = i * V;
      for (let v = 0; v < V; v++) probs[v] += hi * W2[row + v];
    }
  }

  /** Softmax in place over s.probs; returns log-sum-exp. */
  static softmax(probs) {
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < probs.length; v++) if (probs[v] > max) max = probs[v];
    let sum = 0;
    for (let v = 0; v < probs.length; v++) {
      probs[v] = Math.exp(probs[v] - max);
      sum += probs[v];
    }
    for (let v = 0; v < probs.length; v++) probs[v] /= sum;
    return max + Math.log(sum);
  }

  /**
   * Backward pass for one position after forward + softmax: accumulates scale * dLoss/dParam into grads.
   */
  backward(seq, t, sepIndex, target, scale, s, grads) {
    const { embed_dim: D, context_size: K, hidden_size: H } = this.config;
    const V = this.tokenizer.size;
    const W1 = this.params['hidden.weight'];
    const W2 = this.params['output.weight'];
    const gE = grads['embed.weight'];
    const gW1 = grads['hidden.weight'];
    const gb1 = grads['hidden.bias'];
    const gW2 = grads['output.weight'];
    const gb2 = grads['output.bias'];
    const { x, h, probs, dh, dx } = s;
    // dLogits = (p - onehot) * scale, in place in probs
    for (let v = 0; v < V; v++) probs[v] *= scale;
    probs[target] -= scale;
    for (let v = 0; v < V; v++) gb2[v] += probs[v];
    for (let i = 0; i < H; i++) {
      const hi = h[i];
      const row = i * V;
      let acc = 0;
      for (let v = 0; v < V; v++) {
        const g = probs[v];
        gW2[row + v] += hi * g;
        acc += W2[row + v] * g;
      }
      dh[i] = acc * (1 - hi * hi);
    }
    for (let j = 0; j < H; j++) gb1[j] += dh[j];
    const inputSize = this.inputSize;
    for (let i = 0; i < inputSize; i++) {
      const xi = x[i];
      const row = i * H;
      let acc = 0;
      for (let j = 0; j < H; j++) {
        gW1[row + j] += xi * dh[j];
        acc += W1[row + j] * dh[j];
      }
      dx[i] = acc;
    }
    for (let k = 0; k < K; k++) {
      const index = t - K + k;
      const id = index >= 0 ? seq[index] : PAD;
      const row = id * D;
      for (let d = 0; d < D; d++) gE[row + d] += dx[k * D + d];
    }
    const n = s.bagCount;
    if (n > 0) {
      const bagAt = K * D;
      const end = Math.min(t, sepIndex);
      for (let i = 1; i < end; i++) {
        const id = seq[i];
        if (id < FIRST_WORD) continue;
        const row = id * D;
        for (let d = 0; d < D; d++) gE[row + d] += dx[bagAt + d] / n;
      }
    }
  }

  /** Encodes examples into training sequences and the list of predicted positions. */
  prepare(examples) {
    const seqs = examples.map((e) => {
      const ids = exampleIds(this.tokenizer, e);
      return { ids, sep: ids.indexOf(SEP) };
    });
    // Supervised fine-tuning: the loss covers the <sep> that ends the question, the answer and <eos>;
    // the question's own words are context only (they are not predictable from anything before them).
    const positions = [];
    seqs.forEach((s, i) => {
      for (let t = s.sep; t < s.ids.length; t++) positions.push([i, t]);
    });
    return { seqs, positions };
  }

  /** Mean cross-entropy (nats per token) over every position of the examples. */
  loss(examples) {
    const { seqs, positions } = this.prepare(examples);
    if (positions.length === 0) return Number.NaN;
    const s = this.makeScratch();
    let total = 0;
    for (const [i, t] of positions) {
      const seq = seqs[i];
      this.forward(seq.ids, t, seq.sep, s);
      const target = seq.ids[t];
      TinyLM.softmax(s.probs);
      total += -Math.log(Math.max(s.probs[target], 1e-30));
    }
    return total / positions.length;
  }

  /**
   * Trains in place with Adam; calls options.onStep({step, loss, learningRate, tokens, evalLoss?}) per step.
   * @returns {{history: {step: number, loss: number, learningRate: number, evalLoss?: number}[], initialEvalLoss?: number, finalEvalLoss?: number}}
   */
  train(examples, options = {}) {
    const trainer = new Trainer(this, examples, options);
    const evalExamples = options.evalExamples;
    const evalEvery = options.evalEvery ?? 0;
    const history = [];
    const initialEvalLoss = evalExamples ? this.loss(evalExamples) : undefined;
    while (trainer.step < trainer.totalSteps) {
      const record = trainer.trainStep();
      if (
        evalExamples &&
        evalEvery > 0 &&
        (record.step % evalEvery === 0 || record.step === trainer.totalSteps)
      ) {
        record.evalLoss = this.loss(evalExamples);
      }
      history.push(record);
      options.onStep?.(record);
    }
    const finalEvalLoss = evalExamples ? this.loss(evalExamples) : undefined;
    return { history, initialEvalLoss, finalEvalLoss };
  }

  /**
   * Generates text token by token. Yields {text} deltas (possibly empty while a stop sequence may be
   * forming) and finally {done: true, text: '', finishReason, promptTokens, completionTokens}.
   * mode 'answer' (default) treats the prompt as a question and answers it; 'continue' continues the text.
   */
  *stream(prompt, options = {}) {
    const defaults = this.generationConfig;
    const maxTokens = options.maxTokens ?? defaults.max_new_tokens ?? 256;
    const temperature = options.temperature ?? defaults.temperature ?? 1;
    const topP = options.topP ?? defaults.top_p ?? 1;
    const stops = (options.stop ?? []).filter((s) => typeof s === 'string' && s.length > 0);
    const rng = mulberry32(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    const seq = promptSequence(this.tokenizer, prompt, options.mode ?? 'answer');
    let sepIndex = seq.indexOf(SEP) >= 0 ? seq.indexOf(SEP) : Number.POSITIVE_INFINITY;
    const promptTokens = seq.length;
    const s = this.makeScratch();
    const V = this.tokenizer.size;
    let prev = seq[seq.length - 1];
    let completionTokens = 0;
    let finishReason = 'length';
    let buffer = '';
    while (completionTokens < maxTokens) {
      this.forward(seq, seq.length, sepIndex, s);
      const logits = s.probs;
      logits[PAD] = Number.NEGATIVE_INFINITY;
      logits[UNK] = Number.NEGATIVE_INFINITY;
      logits[BOS] = Number.NEGATIVE_INFINITY;
      if (Number.isFinite(sepIndex)) logits[SEP] = Number.NEGATIVE_INFINITY;
      // vLLM's ignore_eos: generate until maxTokens (benchmarks, tests of long answers).
      if (options.ignoreEos) logits[EOS] = Number.NEGATIVE_INFINITY;
      let id = 0;
      if (temperature <= 0) {
        for (let v = 1; v < V; v++) if (logits[v] > logits[id]) id = v;
      } else {
        for (let v = 0; v < V; v++) logits[v] /= temperature;
        TinyLM.softmax(logits);
        id = sample(logits, topP, rng);
      }
      if (id === EOS) {
        finishReason = 'stop';
        break;
      }
      seq.push(id);
      if (id === SEP) sepIndex = seq.length - 1;
      completionTokens++;
      buffer += this.tokenizer.piece(id, prev);
      prev = id;
      let cut = -1;
      for (const stop of stops) {
        const at = buffer.indexOf(stop);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        const text = buffer.slice(0, cut);
        buffer = '';
        finishReason = 'stop';
        if (text) yield { text, done: false };
        break;
      }
      let hold = 0;
      for (const stop of stops) {
        for (let len = Math.min(stop.length - 1, buffer.length); len > hold; len--) {
          if (buffer.endsWith(stop.slice(0, len))) {
            hold = len;
            break;
          }
        }
      }
      const text = buffer.slice(0, buffer.length - hold);
      buffer = buffer.slice(buffer.length - hold);
      yield { text, done: false };
    }
    if (buffer) yield { text: buffer, done: false };
    yield { text: '', done: true, finishReason, promptTokens, completionTokens };
  }

  /** Generates a whole completion. */
  generate(prompt, options = {}) {
    let text = '';
    for (const event of this.stream(prompt, options)) {
      text += event.text;
      if (event.done) {
        return {
          text,
          finishReason: event.finishReason,
          promptTokens: event.promptTokens,
          completionTokens: event.completionTokens,
        };
      }
    }
    throw new Error('unreachable');
  }

  /** Number of tokens the model reads for a text (no special tokens). */
  countTokens(text) {
    return this.tokenizer.encode(text).length;
  }

  /** A sentence embedding: the mean of the learned token embeddings, L2-normalised. */
  embed(text) {
    const D = this.config.embed_dim;
    const E = this.params['embed.weight'];
    let ids = this.tokenizer.encode(text).filter((id) => id >= FIRST_WORD);
    if (ids.length === 0) ids = [UNK];
    const out = new Float64Array(D);
    for (const id of ids) for (let d = 0; d < D; d++) out[d] += E[id * D + d];
    let norm = 0;
    for (let d = 0; d < D; d++) norm += out[d] * out[d];
    norm = Math.sqrt(norm) || 1;
    const vector = new Float32Array(D);
    for (let d = 0; d < D; d++) vector[d] = out[d] / norm;
    return vector;
  }

  /** Writes model.safetensors, tokenizer.json, config.json (and MODEL when a name is given) into dir. */
  save(dir, options = {}) {
    mkdirSync(dir, { recursive: true });
    const tensors = {};
    for (const name of PARAM_NAMES) tensors[name] = { shape: this.shapes[name], data: this.params[name] };
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: RUNTIME });
    writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(this.tokenizer.toJSON())}\n`);
    const config = {
      ...this.config,
      ...(options.extraConfig ?? {}),
      runtime: RUNTIME,
      architecture: 'window-mlp-lm',
      vocab_size: this.tokenizer.size,
      special_tokens: { pad: PAD, unk: UNK, bos: BOS, sep: SEP, eos: EOS },
    };
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(join(dir, 'generation_config.json'), `${JSON.stringify(this.generationConfig, null, 2)}\n`);
    if (options.name) writeFileSync(join(dir, 'MODEL'), `${options.name}\n`);
  }

  /** Loads a model saved by save(). */
  static load(dir) {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    if (config.runtime !== RUNTIME)
      throw new Error(`${dir}: config.json runtime is ${config.runtime}, want ${RUNTIME}`);
    const tokenizer = Tokenizer.fromJSON(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')));
    const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
    const params = {};
    for (const name of PARAM_NAMES) {
      if (!tensors[name]) throw new Error(`${dir}: model.safetensors lacks ${name}`);
      params[name] = tensors[name].data;
    }
    const generationPath = join(dir, 'generation_config.json');
    const generationConfig = existsSync(generationPath)
      ? JSON.parse(readFileSync(generationPath, 'utf8'))
      : DEFAULT_GENERATION_CONFIG;
    return new TinyLM(config, tokenizer, params, generationConfig);
  }
}

function sample(probs, topP, rng) {
  const V = probs.length;
  if (topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b] - probs[a]);
    let mass = 0;
    let kept = 0;
    for (const id of order) {
      mass += probs[id];
      kept++;
      if (mass >= topP) break;
    }
    let r = rng() * mass;
    for (let i = 0; i < kept; i++) {
      r -= probs[order[i]];
      if (r <= 0) return order[i];
    }
    return order[kept - 1];
  }
  let r = rng();
  let last = 0;
  for (let v = 0; v < V; v++) {
    if (probs[v] <= 0) continue;
    last = v;
    r -= probs[v];
    if (r <= 0) return v;
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// Training

/** Adam over a TinyLM, one minibatch of randomly drawn positions per step; resumable from its state. */
export class Trainer {
  constructor(model, examples, options = {}) {
    this.model = model;
    this.data = model.prepare(examples);
    if (this.data.positions.length === 0) throw new Error('train: no examples');
    this.batchSize = options.batchSize ?? 16;
    this.learningRate = options.learningRate ?? 0.02;
    this.totalSteps = options.steps ?? 400;
    this.warmupSteps = options.warmupSteps ?? Math.min(20, Math.floor(this.totalSteps / 10));
    this.minLearningRateRatio = options.minLearningRateRatio ?? 0.05;
    this.clipNorm = options.clipNorm ?? 5;
    this.seed = options.seed ?? model.config.seed ?? 0;
    this.beta1 = 0.9;
    this.beta2 = 0.999;
    this.step = 0;
    this.grads = {};
    this.m = {};
    this.v = {};
    for (const name of PARAM_NAMES) {
      const n = model.params[name].length;
      this.grads[name] = new Float32Array(n);
      this.m[name] = new Float32Array(n);
      this.v[name] = new Float32Array(n);
    }
    this.scratch = model.makeScratch();
  }

  /** Positions in the training data (tokens predicted per epoch). */
  get tokensPerEpoch() {
    return this.data.positions.length;
  }

  /** Linear warm-up then cosine decay to minLearningRateRatio. */
  learningRateAt(step) {
    if (step < this.warmupSteps) return (this.learningRate * (step + 1)) / this.warmupSteps;
    const span = Math.max(1, this.totalSteps - this.warmupSteps);
    const progress = Math.min(1, (step - this.warmupSteps) / span);
    const ratio =
      this.minLearningRateRatio + (1 - this.minLearningRateRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
    return this.learningRate * ratio;
  }

  /** One optimiser step; returns {step, loss, learningRate, tokens}. */
  trainStep() {
    const { model, grads, scratch: s } = this;
    for (const name of PARAM_NAMES) grads[name].fill(0);
    const rng = mulberry32(mixSeed(this.seed, this.step + 1));
    const { seqs, positions } = this.data;
    const B = this.batchSize;
    let loss = 0;
    for (let b = 0; b < B; b++) {
      const [i, t] = positions[Math.floor(rng() * positions.length)];
      const seq = seqs[i];
      model.forward(seq.ids, t, seq.sep, s);
      TinyLM.softmax(s.probs);
      const target = seq.ids[t];
      loss += -Math.log(Math.max(s.probs[target], 1e-30));
      model.backward(seq.ids, t, seq.sep, target, 1 / B, s, grads);
    }
    let norm = 0;
    for (const name of PARAM_NAMES) {
      const g = grads[name];
      for (let i = 0; i < g.length; i++) norm += g[i] * g[i];
    }
    norm = Math.sqrt(norm);
    const clip = norm > this.clipNorm ? this.clipNorm / norm : 1;
    const lr = this.learningRateAt(this.step);
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    for (const name of PARAM_NAMES) {
      const p = model.params[name];
      const g = grads[name];
      const m = this.m[name];
      const v = this.v[name];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] * clip;
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i] + (1 - this.beta2) * gi * gi;
        p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + 1e-8);
      }
    }
    return { step: this.step, loss: loss / B, learningRate: lr, tokens: B };
  }

  /** Saves the model (and MODEL name) plus optimizer state and trainer_state.json into dir. */
  saveCheckpoint(dir, extra = {}) {
    this.model.save(dir);
    const tensors = {};
    for (const name of PARAM_NAMES) {
      tensors[`m.${name}`] = { shape: this.model.shapes[name], data: this.m[name] };
      tensors[`v.${name}`] = { shape: this.model.shapes[name], data: this.v[name] };
    }
    writeSafetensors(join(dir, 'optimizer.safetensors'), tensors, { format: 'aicloud-tiny-adam' });
    const state = {
      step: this.step,
      total_steps: this.totalSteps,
      seed: this.seed,
      batch_size: this.batchSize,
      learning_rate: this.learningRate,
      ...extra,
    };
    writeFileSync(join(dir, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  }

  /** Restores optimizer state and step from a checkpoint dir (the model must be loaded from it). */
  loadCheckpoint(dir) {
    const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8'));
    const { tensors } = readSafetensors(join(dir, 'optimizer.safetensors'));
    for (const name of PARAM_NAMES) {
      const m = tensors[`m.${name}`];
      const v = tensors[`v.${name}`];
      if (!m || !v || m.data.length !== this.m[name].length)
        throw new Error(`${dir}: optimizer state mismatch`);
      this.m[name] = m.data;
      this.v[name] = v.data;
    }
    this.step = state.step;
    return state;
  }
}
