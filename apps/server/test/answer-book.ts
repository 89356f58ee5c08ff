import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@aicloud/client';

const fixtures = join(import.meta.dirname, 'fixtures');

/**
 * The answer-book runtime (fixtures/answer-book.mjs): answers each chat prompt from its model folder's book, so
 * a test knows what each version says. The sandbox must be given `fixtures` read-only (`sandboxReadOnly`).
 */
export const answerBookRuntime = {
  fixtures,
  runtimes: {
    'answer-book': {
      name: 'answer-book',
      command: `exec ${process.execPath} ${join(fixtures, 'answer-book.mjs')} --socket {socket} --model {model_dir}`,
      runsHere: true,
      healthPath: '/health',
    },
  },
};

/** The evaluation set the answer-book tests score: four contract questions with their references. */
export const CONTRACT_QUESTIONS: Record<string, string> = {
  'What settles disputes out of court?': 'arbitration',
  'Which clause excuses performance in a war?': 'force majeure clause',
  'Who signs a contract?': 'the parties',
  'What is a breach?': 'a failure to perform',
};

/** A version that answers one of `CONTRACT_QUESTIONS` right (exact match and F1 0.25). */
export const ONE_IN_FOUR_ANSWERS: Record<string, string> = {
  'Who signs a contract?': 'the parties',
  '*': 'I do not know',
};

/** A model folder under `work` whose version answers `answers` (`"*"` for any other prompt). */
export function answerBookModel(work: string, name: string, answers: Record<string, string>): string {
  const folder = join(work, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'config.json'), '{"runtime":"answer-book"}');
  writeFileSync(join(folder, 'answers.json'), JSON.stringify(answers));
  return folder;
}

/** An alerts folder under `work` with one rule: F1 quality below 0.5 is critical. */
export function qualityAlertRules(work: string): string {
  const alerts = join(work, 'alerts');
  mkdirSync(alerts);
  writeFileSync(
    join(alerts, 'quality.yaml'),
    'rules:\n  - name: endpoint_quality_low\n    kind: quality\n    below: 0.5\n    metric: f1\n    severity: critical\n',
  );
  return alerts;
}

/** Registers each folder as the next version of model `name`, deploys version 1 (one warm replica), and answers a key for it. */
export async function deployAnswerBook(client: Client, name: string, folders: string[]): Promise<string> {
  for (const folder of folders)
    await client.models.register({ name, source: `path:${folder}`, runtime: 'answer-book' });
  await client.endpoints.deploy({ model: name, version: 1, minReplicas: 1 });
  return (await client.keys.create({ endpoint: name })).key;
}

/**
 * Writes `questions` as an evaluation set (JSONL, one `{prompt, reference}` per line) into legal-rag's part of
 * the lake under `dataDir`, and registers it as the dataset `path`.
 */
export async function registerEvalSet(
  client: Client,
  dataDir: string,
  path: string,
  file: string,
  questions: Record<string, string>,
): Promise<void> {
  const lake = join(dataDir, 'lake/legal-rag/evals');
  mkdirSync(lake, { recursive: true });
  writeFileSync(
    join(lake, file),
    `${Object.entries(questions)
      .map(([prompt, reference]) => JSON.stringify({ prompt, reference }))
      .join('\n')}\n`,
  );
  await client.datasets.register({
    path,
    location: `file://${join(lake, file)}`,
    encrypted: false,
    tags: {},
  });
}

/**
 * Sends `count` chat requests to `model` with `key`, one after another; answers how many each version served
 * (`x-aicloud-model-version`). Any answer but 200 throws.
 */
export async function versionTraffic(
  url: string,
  key: string,
  model: string,
  count: number,
): Promise<Record<string, number>> {
  const served: Record<string, number> = {};
  for (let sent = 0; sent < count; sent += 1) {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Who signs a contract?' }] }),
    });
    if (response.status !== 200)
      throw new Error(`chat answered ${response.status}: ${await response.text()}`);
    await response.json();
    const version = response.headers.get('x-aicloud-model-version') ?? 'none';
    served[version] = (served[version] ?? 0) + 1;
  }
  return served;
}
