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

/** The chart's margin; the plot starts below `top`. */
const MARGIN = { top: 16, right: 24, bottom: 8, left: 8 };

/**
 * The budget line's label: inside the plot, clear of the left axis, above the line (below it when the line
 * runs too close to the top), with a white halo so bars and grid lines never hide it.
 */
function BudgetLabel({ viewBox, text }: { viewBox?: unknown; text: string }) {
  const box = viewBox as { x?: number; y?: number } | undefined;
  if (typeof box?.x !== 'number' || typeof box.y !== 'number') return null;
  const above = box.y - MARGIN.top >= 20;
  return (
    <text
      className="budget-label"
      x={box.x + 10}
      y={above ? box.y - 6 : box.y + 15}
      fill="#b42318"
      fontSize={12}
      fontWeight={600}
      stroke="#fff"
      strokeWidth={4}
      strokeLinejoin="round"
      paintOrder="stroke"
    >
      {text}
    </text>
  );
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
        <ComposedChart data={points} margin={MARGIN}>
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
              label={(props: { viewBox?: unknown }) => (
                <BudgetLabel viewBox={props.viewBox} text={`budget ${usd(budget.maxBudget)}`} />
              )}
            />
          ) : null}
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}
