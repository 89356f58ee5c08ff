// Type declarations for structured-output.mjs (the example programs are plain JavaScript).
import type { TinyLM } from '../tiny-lm/model.mjs';

export interface WordSource {
  next(hint?: string): string;
  fraction(hint?: string): number;
}

export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export function createWordSource(
  model: TinyLM,
  prompt: string,
  options?: { temperature?: number; topP?: number; seed?: number },
): WordSource;
export function generateValue(
  schema: unknown,
  source: WordSource,
  options?: { root?: unknown; depth?: number; hint?: string },
): unknown;
export function structuredText(
  format: { type: string; json_schema?: { name?: string; schema?: unknown } },
  source: WordSource,
): string;
export function chooseTool(tools: ToolSpec[], toolChoice: unknown, prompt: string): ToolSpec;
