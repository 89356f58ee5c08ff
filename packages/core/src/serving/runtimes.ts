import { AppError } from '../app-error.ts';

/**
 * How a model runtime is started: a command template with `{model_dir}`, `{socket}` and `{name}`. Replicas
 * listen on a unix socket in their own folder, which only the gateway can reach: no other workload sees
 * it, and nothing listens on a TCP port that a job could find and call without a key.
 */
export interface RuntimeTemplate {
  name: string;
  command: string;
  /** Whether it can run on this kind of machine (vLLM and llama.cpp need their binaries and GPUs). */
  runsHere: boolean;
  healthPath: string;
  /** What its OpenAI surface supports; a template that declares none gets plain completions only. */
  capabilities?: RuntimeCapabilities;
}

/**
 * The OpenAI features a runtime implements. The gateway passes these through and answers the others with
 * OpenAI's 400 `unsupported_parameter`/`unsupported_value`, instead of letting a runtime ignore them.
 */
export interface RuntimeCapabilities {
  /** `tools`, `tool_choice` (auto, none, required, a named function) and `tool` messages. */
  tools: boolean;
  /** `response_format: {"type": "json_object"}`. */
  jsonMode: boolean;
  /** `response_format: {"type": "json_schema", ...}` (structured output). */
  jsonSchema: boolean;
  /** `logprobs`/`top_logprobs` (chat) and `logprobs` (completions). */
  logprobs: boolean;
  /** `POST /v1/embeddings`. */
  embeddings: boolean;
  /** Most tokens of prompt plus output; the gateway refuses longer requests before forwarding them. */
  contextLength: number;
}

/** What a template without `capabilities` gets: text in, text out, in a small context. */
export const PLAIN_CAPABILITIES: RuntimeCapabilities = {
  tools: false,
  jsonMode: false,
  jsonSchema: false,
  logprobs: false,
  embeddings: false,
  contextLength: 4096,
};

/** The shipped runtimes; `aicloud-tiny` is the example model server in `examples/` and runs anywhere. */
export function runtimeTemplates(repoRoot: string): Record<string, RuntimeTemplate> {
  return {
    'aicloud-tiny': {
      name: 'aicloud-tiny',
      command: `exec ${process.execPath} ${repoRoot}/examples/model-server/server.mjs --model {model_dir} --socket {socket} --name {name}`,
      runsHere: true,
      healthPath: '/health',
      // examples/model-server: tools and schema-constrained JSON; its prompt is bounded, not its model.
      capabilities: {
        tools: true,
        jsonMode: true,
        jsonSchema: true,
        logprobs: false,
        embeddings: true,
        contextLength: 8192,
      },
    },
    vllm: {
      name: 'vllm',
      command:
        'python -m vllm.entrypoints.openai.api_server --model {model_dir} --uds {socket} --served-model-name {name} --max-model-len 8192 --enable-auto-tool-choice --tool-call-parser hermes',
      runsHere: false,
      healthPath: '/health',
      // Tool calls through its parser; json_object/json_schema through guided decoding (xgrammar).
      capabilities: {
        tools: true,
        jsonMode: true,
        jsonSchema: true,
        logprobs: true,
        embeddings: false,
        contextLength: 8192,
      },
    },
    'llama.cpp': {
      name: 'llama.cpp',
      // llama-server listens on a unix socket when its --host ends in .sock.
      command:
        'llama-server -m {model_dir}/model.gguf --host {socket} --alias {name} --jinja --ctx-size 8192',
      runsHere: false,
      healthPath: '/health',
      // --jinja enables tool calls; response_format becomes a GBNF grammar; embeddings need --embeddings.
      capabilities: {
        tools: true,
        jsonMode: true,
        jsonSchema: true,
        logprobs: true,
        embeddings: false,
        contextLength: 8192,
      },
    },
  };
}

/** Fills a template's placeholders. */
export function renderCommand(
  template: RuntimeTemplate,
  values: { modelDir: string; socket: string; name: string },
): string {
  if (template.command.includes('{port}')) {
    throw new AppError(
      'invalid_input',
      `runtime ${template.name} uses {port}: replicas listen on the unix socket {socket} in their sandbox (vLLM --uds {socket}, llama-server --host {socket}); change its command template`,
    );
  }
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return template.command
    .replaceAll('{model_dir}', quote(values.modelDir))
    .replaceAll('{socket}', quote(values.socket))
    .replaceAll('{name}', quote(values.name));
}
