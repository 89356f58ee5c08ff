import type { Bill, TeamsBill } from '@aicloud/contracts';

/** One CSV field, quoted as RFC 4180 asks when it holds a comma, a quote or a line break. */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 text: CRLF line ends, a header row first. */
export function toCsv(rows: (string | number | null)[][]): string {
  return `${rows.map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`;
}

/** Integer micro-dollars as a plain decimal with six places (exact: no floating point). */
export function microsText(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.round(micros));
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

/** USD with at least two decimals, as finance tools read it. */
const usdText = (usd: number) => microsText(Math.round(usd * 1_000_000));

/** A quantity as a plain number (no exponent), up to six decimals. */
function quantityText(quantity: number | null): string {
  if (quantity === null) return '';
  return quantity.toFixed(6).replace(/0{1,4}$/, '');
}

/** The bill's breakdown for finance: one row per line, plain numbers. */
export function billCsv(bill: Bill): string {
  const header = [
    'team',
    'from',
    'to',
    'group_by',
    'key',
    'label',
    'category',
    'user',
    'resource',
    'source_kind',
    'source_id',
    'quantity',
    'unit',
    'rows',
    'training_usd',
    'inference_usd',
    'notebooks_usd',
    'storage_usd',
    'cost_usd',
  ];
  const team = bill.team ?? bill.teams.join(' ');
  return toCsv([
    header,
    ...bill.breakdown.map((line) => [
      team,
      bill.from,
      bill.to,
      bill.by,
      line.key,
      line.label,
      line.category,
      line.user,
      line.resource,
      line.sourceKind,
      line.sourceId,
      quantityText(line.quantity),
      line.unit,
      line.rows,
      usdText(line.byCategory.training),
      usdText(line.byCategory.inference),
      usdText(line.byCategory.notebooks),
      usdText(line.byCategory.storage),
      microsText(line.costMicros),
    ]),
  ]);
}

/** Every team side by side for finance: one row per team. */
export function teamsBillCsv(bill: TeamsBill): string {
  return toCsv([
    [
      'team',
      'from',
      'to',
      'training_usd',
      'inference_usd',
      'notebooks_usd',
      'storage_usd',
      'cost_usd',
      'max_budget_usd',
      'budget_used_percent',
      'committed_usd',
      'forecast_period_usd',
      'runs_out_at',
    ],
    ...bill.teams.map((team) => [
      team.team,
      bill.from,
      bill.to,
      usdText(team.byCategory.training),
      usdText(team.byCategory.inference),
      usdText(team.byCategory.notebooks),
      usdText(team.byCategory.storage),
      microsText(team.totalMicros),
      team.budget ? usdText(team.budget.maxBudget) : null,
      team.budget ? team.budget.usedPercent.toFixed(2) : null,
      team.budget ? usdText(team.budget.committed) : null,
      team.forecast?.projectedPeriodSpend == null ? null : usdText(team.forecast.projectedPeriodSpend),
      team.forecast?.runsOutAt ?? null,
    ]),
  ]);
}
