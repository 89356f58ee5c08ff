/** How a model runtime is started: a command template with `{model_dir}`, `{port}` and `{name}`. */
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
      command: `exec ${process.execPath} ${repoRoot}/examples/model-server/server.mjs --model {model_dir} --port {port} --host 127.0.0.1 --name {name}`,
      runsHere: true,
      healthPath: '/health',
    },
    vllm: {
      name: 'vllm',
      command:
        'python -m vllm.entrypoints.openai.api_server --model {model_dir} --host 127.0.0.1 --port {port} --served-model-name {name}',
      runsHere: false,
      healthPath: '/health',
    },
    'llama.cpp': {
      name: 'llama.cpp',
      command: 'llama-server -m {model_dir}/model.gguf --host 127.0.0.1 --port {port} --alias {name}',
      runsHere: false,
      healthPath: '/health',
    },
  };
}

/** Fills a template's placeholders. */
export function renderCommand(
  template: RuntimeTemplate,
  values: { modelDir: string; port: number; name: string },
): string {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return template.command
    .replaceAll('{model_dir}', quote(values.modelDir))
    .replaceAll('{port}', String(values.port))
    .replaceAll('{name}', quote(values.name));
}
