import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createClient } from '@aicloud/client';
import { Command } from 'commander';
import { UsageError } from '../output.ts';
import { readProfile } from '../profile.ts';

const bin = resolve(import.meta.dirname, '../../bin/aicloud.mjs');
const repoRoot = resolve(import.meta.dirname, '../../../..');

/** Runs one `aicloud …` step as a user would type it, showing its output; returns stdout. */
function step(
  title: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { quiet?: boolean; allow?: number[] } = {},
): Promise<string> {
  process.stdout.write(
    `\n== ${title}\n$ aicloud ${args.map((arg) => (/[\s"$]/.test(arg) ? `'${arg}'` : arg)).join(' ')}\n`,
  );
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!options.quiet) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    child.on('exit', (code) => {
      if (code === 0 || options.allow?.includes(code ?? -1)) resolvePromise(stdout);
      else reject(new Error(`step failed (exit ${code}): aicloud ${args.join(' ')}`));
    });
  });
}

/** `aicloud demo`: the seed's developer journey against the running platform, as alice. */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'walk the golden path as alice: fine-tune → metrics → model version → lineage → deploy → key → chat (openai SDK) → spend',
    )
    .option('--url <url>', 'the platform (default: AICLOUD_URL, your profile, or http://127.0.0.1:8787)')
    .option(
      '--data-dir <dir>',
      "where `aicloud up` keeps credentials.json (for alice's demo token)",
      './.aicloud',
    )
    .action(async (options: { url?: string; dataDir: string }) => {
      const url = options.url ?? process.env.AICLOUD_URL ?? readProfile()?.url ?? 'http://127.0.0.1:8787';
      const credentials = join(options.dataDir, 'credentials.json');
      if (!existsSync(credentials))
        throw new UsageError(`no ${credentials}: start the platform with \`npm start\` (or pass --data-dir)`);
      const token = (JSON.parse(readFileSync(credentials, 'utf8')) as Record<string, { token: string }>).alice
        ?.token;
      if (!token) throw new UsageError(`${credentials} has no token for alice`);
      const env = { ...process.env, AICLOUD_URL: url, AICLOUD_TOKEN: token };
      const api = createClient({ url, token });
      const started = Date.now();
      process.stdout.write(`aicloud demo against ${url}, as alice (team legal-rag)\n`);
      await step('Who am I', ['whoami'], env);

      const train = `exec node ${join(repoRoot, 'examples/fine-tune/train.mjs')}`;
      const submitted = JSON.parse(
        await step(
          'Fine-tune on the approved dataset (policy, quota and budget decide before it runs)',
          [
            'create',
            'job',
            '--type',
            'fine-tune',
            '--gpus',
            '2',
            '--dataset',
            'projects/legal-rag/datasets/v2',
            '--max-runtime',
            '30m',
            '--name',
            'legal-answerer-ft',
            '--command',
            train,
            '--yes',
            '-o',
            'json',
          ],
          env,
          { quiet: true },
        ),
      ) as { job: { id: string }; admission: { outcome: string; estimatedCost: number } };
      const jobId = submitted.job.id;
      process.stdout.write(
        `job ${jobId}: ${submitted.admission.outcome}, estimated at most $${submitted.admission.estimatedCost.toFixed(2)}\n`,
      );
      // A job that ended badly exits 15-18 here; the check below names its status.
      await step('Follow its log until it ends', ['jobs', 'logs', jobId, '-f'], env, {
        quiet: true,
        allow: [15, 16, 17, 18],
      });
      const job = await api.jobs.get(jobId);
      if (job.status !== 'succeeded')
        throw new Error(`the fine-tune job ended ${job.status}; see aicloud jobs logs ${jobId}`);
      await step('Its metrics', ['jobs', 'metrics', jobId], env);

      let version: number | undefined;
      for (let waited = 0; waited < 30_000 && version === undefined; waited += 500) {
        const versions = await api.models.versions('legal-answerer').catch(() => ({ items: [] }));
        version = versions.items.find((item) => item.source === `job:${jobId}`)?.version;
        if (version === undefined) await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
      }
      if (version === undefined) throw new Error(`job ${jobId} succeeded but registered no model version`);
      await step(
        'The new model version (scanned at registration)',
        ['models', 'versions', 'legal-answerer'],
        env,
      );
      await step(
        'Its lineage: dataset → job → model version → endpoints',
        ['lineage', 'model', `legal-answerer@${version}`],
        env,
      );

      const existing = (await api.endpoints.list()).items.find(
        (endpoint) => endpoint.name === 'legal-answerer',
      );
      if (existing)
        await step(
          'Replace the endpoint of an earlier demo run',
          ['endpoints', 'delete', 'legal-answerer'],
          env,
        );
      await step(
        'Deploy it: private, scale to zero',
        [
          'deploy',
          'model',
          '--name',
          'legal-answerer',
          '--version',
          String(version),
          '--endpoint-type',
          'real-time',
          '--scale-to-zero',
        ],
        env,
      );
      const key = JSON.parse(
        await step(
          'A key for it',
          ['keys', 'create', '--endpoint', 'legal-answerer', '--name', 'demo', '--rpm', '60', '-o', 'json'],
          env,
          { quiet: true },
        ),
      ) as { key: string; id: string };
      process.stdout.write(`created key (shown once): ${key.key.slice(0, 12)}…\n`);

      const { default: OpenAI } = await import('openai');
      const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: key.key });
      process.stdout.write(
        `\n== Chat through the openai SDK (first request wakes a replica)\n> new OpenAI({ baseURL: '${url}/v1', apiKey }).chat.completions.create({ model: 'legal-answerer', messages: [...] })\n`,
      );
      const t0 = Date.now();
      const answer = await openai.chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'What is a force majeure clause?' }],
      });
      process.stdout.write(
        `${answer.choices[0]?.message.content}\n(${Date.now() - t0} ms, ${answer.usage?.prompt_tokens} tokens in, ${answer.usage?.completion_tokens} out)\n`,
      );
      process.stdout.write(
        `\n== Streamed\n> ...create({ model: 'legal-answerer', stream: true, stream_options: { include_usage: true }, ... })\n`,
      );
      const stream = await openai.chat.completions.create({
        model: 'legal-answerer',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'What is arbitration?' }],
      });
      for await (const chunk of stream) {
        process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
        if (chunk.usage) process.stdout.write(`\n(${chunk.usage.completion_tokens} tokens streamed)\n`);
      }
      await step(
        'The endpoint: requests, latency, cold starts',
        ['endpoints', 'show', 'legal-answerer'],
        env,
      );
      await step("The team's spend", ['bill', '--team', 'legal-rag'], env);
      process.stdout.write(
        `\nDemo complete in ${Math.round((Date.now() - started) / 1000)} s: every step above ran for real.\n`,
      );
    });
}
