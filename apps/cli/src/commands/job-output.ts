import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table } from '../output.ts';

/** `aicloud jobs logs ID [-f]`. */
export function jobLogsCommand(): Command {
  return new Command('logs')
    .description("a job's log (secrets masked); -f follows it until the job ends")
    .argument('<id>')
    .option('-f, --follow', 'keep printing as the job writes, until it ends', false)
    .action(async (id: string, options: { follow: boolean }) => {
      for await (const chunk of client().jobs.logs(id, { follow: options.follow }))
        process.stdout.write(chunk);
      if (options.follow) {
        const job = await client().jobs.get(id);
        process.stderr.write(
          `job ${id} ${job.status}${job.exitCode !== null ? ` (exit ${job.exitCode})` : ''}\n`,
        );
      }
    });
}

/** `aicloud jobs metrics ID`: the last value of each metric, or every point with -o json. */
export function jobMetricsCommand(): Command {
  return new Command('metrics')
    .description("a job's metrics (from the SDK or JSON lines on stdout)")
    .argument('<id>')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const metrics = await client().jobs.metrics(id);
      print(format, metrics, () => {
        const names = Object.keys(metrics.series).sort();
        if (names.length === 0) return `job ${id} has reported no metrics yet`;
        return table(
          ['METRIC', 'POINTS', 'FIRST', 'LAST', 'MIN', 'MAX', 'LAST STEP'],
          names.map((name) => {
            const points = metrics.series[name] ?? [];
            const values = points.map((point) => point.value);
            const last = points.at(-1);
            return [
              name,
              points.length,
              values[0],
              last?.value,
              Math.min(...values),
              Math.max(...values),
              last?.step,
            ];
          }),
        );
      });
    });
}
