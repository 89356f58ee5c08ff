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
}

/** The shipped runtimes; `aicloud-tiny` is the example model server in `examples/` and runs anywhere. */
export function runtimeTemplates(repoRoot: string): Record<string, RuntimeTemplate> {
  return {
    'aicloud-tiny': {
      name: 'aicloud-tiny',
      command: `exec ${process.execPath} ${repoRoot}/examples/model-server/server.mjs --model {model_dir} --socket {socket} --name {name}`,
      runsHere: true,
      healthPath: '/health',
    },
    vllm: {
      name: 'vllm',
      command:
        'python -m vllm.entrypoints.openai.api_server --model {model_dir} --uds {socket} --served-model-name {name}',
      runsHere: false,
      healthPath: '/health',
    },
    'llama.cpp': {
      name: 'llama.cpp',
      // llama-server listens on a unix socket when its --host ends in .sock.
      command: 'llama-server -m {model_dir}/model.gguf --host {socket} --alias {name}',
      runsHere: false,
      healthPath: '/health',
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
