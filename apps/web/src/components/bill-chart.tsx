import type { Bill } from '@aicloud/contracts';
import {
  Bar,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { usd } from './format.ts';

/** The colour of each spend category, the same in the chart and the totals. */
export const categoryColors = {
  training: '#1f4fd1',
  inference: '#12a36f',
  notebooks: '#e08a00',
  storage: '#7a8594',
} as const;

const DAY_MS = 86_400_000;

interface Point {
  day: string;
  training?: number;
  inference?: number;
  notebooks?: number;
  storage?: number;
  spent?: number;
  forecast?: number;
}

/** Daily spend stacked by category, cumulative spend, the forecast to the window's end, and the budget. */
export function chartPoints(bill: Bill): Point[] {
  const points: Point[] = [];
  let cumulative = 0;
  for (const day of bill.daily) {
    cumulative += day.total;
    points.push({
      day: day.day,
      training: day.training,
      inference: day.inference,
      notebooks: day.notebooks,
      storage: day.storage,
      spent: Math.round(cumulative * 100) / 100,
    });
  }
  const forecast = bill.forecast;
  const end = Date.parse(bill.to);
  const now = Date.parse(bill.generatedAt);
  const last = points.at(-1);
  if (forecast && last && end > now) {
    // From now on, spend grows at the burn rate; the line starts where spend is today.
    last.forecast = last.spent;
    const lastDay = Date.parse(`${last.day}T00:00:00.000Z`);
    for (let day = lastDay + DAY_MS; day < end && points.length < 93; day += DAY_MS) {
      const until = Math.min(day + DAY_MS, end);
      points.push({
        day: new Date(day).toISOString().slice(0, 10),
        forecast: Math.round((cumulative + (forecast.burnRatePerDay * (until - now)) / DAY_MS) * 100) / 100,
      });
    }
  }
  return points;
}

/** 1, 2, 2.5 or 5 × a power of ten at or above `value`: a round top for the cumulative axis. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((candidate) => candidate * power >= value) ?? 10;
  return step * power;
}

/** The bill's chart (recharts). */
export function BillChart({ bill }: { bill: Bill }) {
  const points = chartPoints(bill);
  const budget = bill.budget;
  const showBudget = budget !== null && bill.from === budget.periodStart && bill.to === budget.periodEnd;
  const cumulativeMax = niceCeiling(
    Math.max(
      ...points.map((point) => Math.max(point.spent ?? 0, point.forecast ?? 0)),
      showBudget ? budget.maxBudget * 1.05 : 0,
    ),
  );
  return (
    <figure className="bill-chart" data-testid="bill-chart" aria-label="Spend per day by category">
      <ResponsiveContainer width="100%" height={340}>
        <ComposedChart data={points} margin={{ top: 16, right: 24, bottom: 8, left: 8 }}>
          <CartesianGrid stroke="#e3e6ea" vertical={false} />
          <XAxis dataKey="day" tickFormatter={(day: string) => day.slice(5)} minTickGap={16} />
          <YAxis
            yAxisId="daily"
            tickFormatter={(value: number) => `$${value}`}
            label={{ value: 'per day', angle: -90, position: 'insideLeft', offset: 4 }}
          />
          <YAxis
            yAxisId="cumulative"
            orientation="right"
            domain={[0, cumulativeMax]}
            ticks={[0, 1, 2, 3, 4].map((step) => (cumulativeMax * step) / 4)}
            tickFormatter={(value: number) => `$${value}`}
            label={{ value: 'cumulative', angle: 90, position: 'insideRight', offset: 4 }}
          />
          <Tooltip formatter={(value) => (typeof value === 'number' ? usd(value) : String(value))} />
          <Legend itemSorter={null} />
          {(['training', 'inference', 'notebooks', 'storage'] as const).map((category) => (
            <Bar
              key={category}
              yAxisId="daily"
              dataKey={category}
              stackId="spend"
              fill={categoryColors[category]}
              isAnimationActive={false}
            />
          ))}
          <Line
            yAxisId="cumulative"
            type="monotone"
            dataKey="spent"
            name="spent (cumulative)"
            stroke="#14213d"
            strokeWidth={2}
            dot={false}
            isAnimationActive={false}
          />
          <Line
            yAxisId="cumulative"
            type="linear"
            dataKey="forecast"
            name="forecast"
            stroke="#b42318"
            strokeDasharray="6 4"
            strokeWidth={2}
            dot={false}
            connectNulls
            isAnimationActive={false}
          />
          {showBudget ? (
            <ReferenceLine
              yAxisId="cumulative"
              y={budget.maxBudget}
              stroke="#b42318"
              label={{ value: `budget ${usd(budget.maxBudget)}`, position: 'insideTopLeft', fill: '#b42318' }}
            />
          ) : null}
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}
