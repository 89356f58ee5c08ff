// Type declarations for model.mjs (the example programs are plain JavaScript so they run with no build).

export const RUNTIME: 'aicloud-tiny';
export const SPECIAL_TOKENS: readonly string[];
export const PAD: number;
export const UNK: number;
export const BOS: number;
export const SEP: number;
export const EOS: number;

export interface Example {
  prompt: string;
  completion: string;
}

export interface ModelConfig {
  embed_dim: number;
  context_size: number;
  hidden_size: number;
  seed?: number;
  runtime: 'aicloud-tiny';
  vocab_size: number;
  [key: string]: unknown;
}

export interface GenerationConfig {
  temperature?: number;
  top_p?: number;
  max_new_tokens?: number;
}

export const DEFAULT_CONFIG: { embed_dim: number; context_size: number; hidden_size: number };
export const DEFAULT_GENERATION_CONFIG: Required<GenerationConfig>;

export function mulberry32(seed: number): () => number;
export function mixSeed(a: number, b: number): number;

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): void;
export function readSafetensors(path: string): {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
};

export class Tokenizer {
  constructor(vocab: string[]);
  readonly vocab: string[];
  static fromTexts(texts: Iterable<string>): Tokenizer;
  static split(text: string): string[];
  get size(): number;
  tokenId(word: string): number;
  encode(text: string): number[];
  piece(id: number, prev?: number): string;
  decode(ids: number[]): string;
  toJSON(): Record<string, unknown>;
  static fromJSON(json: unknown): Tokenizer;
}

export interface StepRecord {
  step: number;
  loss: number;
  learningRate: number;
  tokens: number;
  evalLoss?: number;
}

export interface TrainOptions {
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  warmupSteps?: number;
  minLearningRateRatio?: number;
  clipNorm?: number;
  seed?: number;
  evalExamples?: Example[];
  evalEvery?: number;
  onStep?: (record: StepRecord) => void;
}

export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** 'answer' (default) answers the prompt as a question; 'continue' continues a "question\nanswer…" text. */
  mode?: 'answer' | 'continue';
  /** Never end at `<eos>`: generate until `maxTokens` or a stop sequence (vLLM's `ignore_eos`). */
  ignoreEos?: boolean;
}

export type StreamEvent =
  | { done: false; text: string }
  | {
      done: true;
      text: '';
      finishReason: 'stop' | 'length';
      promptTokens: number;
      completionTokens: number;
    };

export interface Generation {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

export interface CreateOptions {
  seed?: number;
  embedDim?: number;
  contextSize?: number;
  hiddenSize?: number;
}

export class TinyLM {
  constructor(
    config: Partial<ModelConfig>,
    tokenizer: Tokenizer,
    params: Record<string, Float32Array>,
    generationConfig?: GenerationConfig,
  );
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly params: Record<string, Float32Array>;
  readonly shapes: Record<string, number[]>;
  generationConfig: GenerationConfig;
  static create(examples: Example[], options?: CreateOptions): TinyLM;
  static load(dir: string): TinyLM;
  get vocabSize(): number;
  get embedDim(): number;
  get parameterCount(): number;
  /** Mean cross-entropy (nats per token) over the answer tokens of the examples. */
  loss(examples: Example[]): number;
  train(
    examples: Example[],
    options?: TrainOptions,
  ): { history: StepRecord[]; initialEvalLoss?: number; finalEvalLoss?: number };
  stream(prompt: string, options?: GenerateOptions): Generator<StreamEvent, void, undefined>;
  generate(prompt: string, options?: GenerateOptions): Generation;
  countTokens(text: string): number;
  embed(text: string): Float32Array;
  save(dir: string, options?: { name?: string; extraConfig?: Record<string, unknown> }): void;
}

export class Trainer {
  constructor(model: TinyLM, examples: Example[], options?: TrainOptions);
  readonly model: TinyLM;
  step: number;
  readonly totalSteps: number;
  seed: number;
  get tokensPerEpoch(): number;
  learningRateAt(step: number): number;
  trainStep(): StepRecord;
  saveCheckpoint(dir: string, extra?: Record<string, unknown>): void;
  loadCheckpoint(dir: string): Record<string, unknown> & { step: number };
}
