import { OpenAIError } from './openai-error.ts';

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer', 'function']);

function invalid(message: string, param: string | null): OpenAIError {
  return new OpenAIError(400, message, 'invalid_request_error', null, param);
}

/** The operations the gateway serves. */
export type Operation = 'chat' | 'text_completion' | 'embeddings';

/** Checks a request body the way OpenAI does before any replica is woken; returns the model and a prompt-size estimate. */
export function validateOpenAIRequest(
  operation: Operation,
  body: unknown,
): { model: string; promptText: string; stream: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('The request body must be a JSON object.', null);
  const request = body as Record<string, unknown>;
  if (typeof request.model !== 'string' || request.model.length === 0)
    throw invalid('you must provide a model parameter', 'model');
  const stream = request.stream === true;
  if (request.stream !== undefined && typeof request.stream !== 'boolean')
    throw invalid("'stream' must be a boolean", 'stream');
  if (operation === 'chat') {
    const messages = request.messages;
    if (!Array.isArray(messages) || messages.length === 0)
      throw invalid("'messages' must be a non-empty array", 'messages');
    const parts: string[] = [];
    messages.forEach((message, index) => {
      if (typeof message !== 'object' || message === null || Array.isArray(message))
        throw invalid(`'messages.${index}' must be an object`, `messages.${index}`);
      const { role, content } = message as Record<string, unknown>;
      if (typeof role !== 'string' || !ROLES.has(role))
        throw invalid(
          `'messages.${index}.role' must be one of ${[...ROLES].join(', ')}`,
          `messages.${index}.role`,
        );
      if (typeof content === 'string') parts.push(content);
      else if (Array.isArray(content)) {
        for (const part of content) {
          if (
            typeof part !== 'object' ||
            part === null ||
            typeof (part as { type?: unknown }).type !== 'string'
          )
            throw invalid(
              `'messages.${index}.content' parts must be objects with a type`,
              `messages.${index}.content`,
            );
          if (typeof (part as { text?: unknown }).text === 'string')
            parts.push((part as { text: string }).text);
        }
      } else if (!(content === null && role === 'assistant'))
        throw invalid(
          `'messages.${index}.content' must be a string or an array of parts`,
          `messages.${index}.content`,
        );
    });
    return { model: request.model, promptText: parts.join('\n'), stream };
  }
  if (operation === 'text_completion') {
    const prompt = request.prompt;
    if (typeof prompt === 'string') return { model: request.model, promptText: prompt, stream };
    if (Array.isArray(prompt) && prompt.every((item) => typeof item === 'string'))
      return { model: request.model, promptText: prompt.join('\n'), stream };
    throw invalid("'prompt' must be a string or an array of strings", 'prompt');
  }
  const input = request.input;
  if (typeof input === 'string' && input.length > 0)
    return { model: request.model, promptText: input, stream: false };
  if (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'string'))
    return { model: request.model, promptText: input.join('\n'), stream: false };
  throw invalid("'input' must be a non-empty string or array of strings", 'input');
}
