import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** packages/core/src, where every writer of `jobs.status` would live. */
const SOURCE_ROOT = join(import.meta.dirname, '..');
/** The one file allowed to write a job's status. */
const STATE_MACHINE = 'workloads/job-state.ts';

/** Every non-test TypeScript file under `dir`, relative to SOURCE_ROOT. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')
      ? [relative(SOURCE_ROOT, path)]
      : [];
  });
}

/** The source with comments blanked out (same length, so offsets still map to lines). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\/|(?<![:'"`\\])\/\/[^\n]*/g, (comment) =>
    comment.replace(/[^\n]/g, ' '),
  );
}

/** From `open` (an opening bracket), the text up to its matching closing bracket. */
function balanced(source: string, open: number): string {
  let depth = 0;
  for (let index = open; index < source.length; index++) {
    const char = source[index];
    if (char === '(' || char === '{' || char === '[') depth++;
    else if (char === ')' || char === '}' || char === ']') {
      depth--;
      if (depth === 0) return source.slice(open, index + 1);
    }
  }
  return source.slice(open);
}

/** The Kysely chain that starts at `start`: up to the `;` that ends the statement, outside brackets. */
function statementFrom(source: string, start: number): string {
  let depth = 0;
  for (let index = start; index < source.length; index++) {
    const char = source[index];
    if (char === '(' || char === '{' || char === '[') depth++;
    else if (char === ')' || char === '}' || char === ']') {
      depth--;
      if (depth < 0) return source.slice(start, index);
    } else if (char === ';' && depth === 0) return source.slice(start, index);
  }
  return source.slice(start);
}

/** Whether the argument of a `.set(…)` call writes a `status` column. */
function setsStatus(argument: string): boolean {
  return (
    /^\(\s*['"`]status['"`]/.test(argument) || // .set('status', value)
    /\bstatus\s*:/.test(argument) || // .set({ status: value })
    /[{,]\s*status\s*[,}]/.test(argument) // .set({ status })
  );
}

/**
 * The lines of `source` that write `status` on the `jobs` table: a `.set(…)` in a statement that starts with
 * `updateTable('jobs')` (or `'jobs as j'`), or raw SQL `UPDATE jobs SET … status =`.
 */
function jobStatusWrites(source: string): number[] {
  const code = withoutComments(source);
  const lineOf = (offset: number) => code.slice(0, offset).split('\n').length;
  const lines: number[] = [];
  for (const match of code.matchAll(/\.updateTable\(\s*(['"`])jobs(\s+as\s+\w+)?\1\s*\)/g)) {
    const statement = statementFrom(code, match.index);
    for (const set of statement.matchAll(/\.set\s*\(/g)) {
      const argument = balanced(statement, set.index + set[0].length - 1);
      if (setsStatus(argument)) lines.push(lineOf(match.index + set.index));
    }
  }
  for (const match of code.matchAll(/\bupdate\s+"?jobs"?\s+(as\s+\w+\s+)?set\b[^;`]*?\bstatus\s*=/gi))
    lines.push(lineOf(match.index));
  return lines;
}

describe('the job state machine is the only writer of jobs.status', () => {
  it('finds a status write on jobs in every form, and nothing on other tables', () => {
    const writes = `
      await trx.updateTable('jobs').set({ status: 'admitted', reasons: '[]' }).where('id', '=', id).execute();
      await db
        .updateTable('jobs')
        .set({ ...changes, status })
        .execute();
      let update = trx.updateTable("jobs as j").set('status', 'cancelled');
      await sql\`UPDATE jobs SET ended_at = \${now}, status = 'lost' WHERE id = \${id}\`.execute(db);
    `;
    expect(jobStatusWrites(writes)).toEqual([2, 5, 7, 8]);
    const others = `
      // .updateTable('jobs').set({ status: 'running' }) in a comment is not a write
      await trx.updateTable('approvals').set({ status: 'denied' }).where('id', '=', id).execute();
      await trx.updateTable('endpoints').set({ status }).execute();
      await db.updateTable('jobs').set({ metered_until: at }).where('status', '=', 'running').execute();
      await db.updateTable('jobs').set({ reasons: JSON.stringify([{ code: 'x' }]) }).execute();
      await db.updateTable('jobs_archive').set({ status: 'gone' }).execute();
      await sql\`UPDATE approvals SET status = 'expired'\`.execute(db);
    `;
    expect(jobStatusWrites(others)).toEqual([]);
  });

  it('finds no writer outside workloads/job-state.ts in packages/core/src', () => {
    const files = sourceFiles(SOURCE_ROOT);
    // The scan reads the real tree: it sees the admission code and the state machine's own writes.
    expect(files).toContain('admission/job-service.ts');
    expect(jobStatusWrites(readFileSync(join(SOURCE_ROOT, STATE_MACHINE), 'utf8')).length).toBeGreaterThan(0);
    const offenders = files
      .filter((file) => file !== STATE_MACHINE)
      .flatMap((file) =>
        jobStatusWrites(readFileSync(join(SOURCE_ROOT, file), 'utf8')).map((line) => `${file}:${line}`),
      );
    // Each of these writes jobs.status itself: use moveJob/moveJobs from workloads/job-state.ts instead.
    expect(offenders).toEqual([]);
  });
});
