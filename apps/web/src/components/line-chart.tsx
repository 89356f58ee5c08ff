import { useLayoutEffect, useRef, useState } from 'react';
import './line-chart.css';

/**
 * One line of a chart: its name (the legend) and its points, in any order. A point with a `label` or a `color`
 * is also drawn as a dot of that colour (the line's by default) with the label as its tooltip, e.g. to mark
 * which model version each point belongs to.
 */
export interface ChartSeries {
  name: string;
  points: { x: number; y: number; label?: string; color?: string }[];
  color?: string;
}

/** Distinct colours, in the order series take them. */
export const chartColors = [
  '#1f4fd1',
  '#e08a00',
  '#12a36f',
  '#b42318',
  '#7a3fd1',
  '#0e8fa3',
  '#7a8594',
  '#c2185b',
];

const MARGIN = { top: 10, right: 28, bottom: 34, left: 60 };

/** About `count` round tick values (1, 2, 2.5 or 5 × 10^n apart) that cover [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step =
    [1, 2, 2.5, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max + step * 1e-9; tick += step)
    ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

const TIME_STEPS_MS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400,
].map((seconds) => seconds * 1000);

/** About `count` ticks on a time axis (ms since the epoch), at whole seconds, minutes, hours or days. */
export function timeTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count - 1);
  const step =
    TIME_STEPS_MS.find((candidate) => candidate >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max; tick += step) ticks.push(tick);
  return ticks;
}

/** A number in at most 4 significant digits: `0.3127`, `1.25e-5`, `1024`. */
export function shortNumber(value: number): string {
  return String(Number(value.toPrecision(4)));
}

/** The smallest and largest of some numbers, widened when equal so a flat line sits mid-chart. */
function extent(values: number[]): [number, number] {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

/** The width its element is drawn at (640 until measured), so the chart's text keeps its size at any width. */
function useWidth() {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(640);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () => {
      const measured = Math.round(element.clientWidth);
      if (measured > 0) setWidth(measured);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

/**
 * A small inline-SVG line chart: one path per series over shared axes, with round ticks and a legend.
 * No chart library: the same picture in every browser, and every line is an element tests can count.
 */
export function LineChart({
  series,
  label,
  xLabel,
  yLabel,
  height = 220,
  formatX = shortNumber,
  formatY = shortNumber,
  yDomain,
  timeAxis = false,
  testId,
}: {
  series: ChartSeries[];
  /** What the chart shows, for screen readers. */
  label: string;
  xLabel: string;
  yLabel?: string;
  height?: number;
  formatX?: (value: number) => string;
  formatY?: (value: number) => string;
  /** A fixed y range (e.g. 0–100 for percentages); default: the data's. */
  yDomain?: [number, number];
  /** x values are times (ms since the epoch): ticks at whole seconds, minutes, hours. */
  timeAxis?: boolean;
  testId?: string;
}) {
  const [ref, width] = useWidth();
  const drawn = series.filter((line) => line.points.length > 0);
  const all = drawn.flatMap((line) => line.points);
  if (all.length === 0)
    return (
      <figure className="line-chart" data-testid={testId} ref={ref}>
        <p className="muted">Nothing to draw yet.</p>
      </figure>
    );
  const [xMin, xMax] = extent(all.map((point) => point.x));
  const [yMin, yMax] = yDomain ?? extent(all.map((point) => point.y));
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const x = (value: number) => MARGIN.left + ((value - xMin) / (xMax - xMin)) * plotWidth;
  const y = (value: number) => MARGIN.top + (1 - (value - yMin) / (yMax - yMin)) * plotHeight;
  const xTicks = (timeAxis ? timeTicks : niceTicks)(xMin, xMax, 5);
  const yTicks = niceTicks(yMin, yMax, 5);
  return (
    <figure className="line-chart" data-testid={testId} ref={ref}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        {yTicks.map((tick) => (
          <g key={`y${tick}`} className="line-chart-grid">
            <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(tick)} y2={y(tick)} />
            <text x={MARGIN.left - 6} y={y(tick)} textAnchor="end" dominantBaseline="middle">
              {formatY(tick)}
            </text>
          </g>
        ))}
        {xTicks.map((tick) => (
          <text
            key={`x${tick}`}
            className="line-chart-tick"
            x={x(tick)}
            y={height - MARGIN.bottom + 16}
            textAnchor="middle"
          >
            {formatX(tick)}
          </text>
        ))}
        <line
          className="line-chart-axis"
          x1={MARGIN.left}
          x2={width - MARGIN.right}
          y1={MARGIN.top + plotHeight}
          y2={MARGIN.top + plotHeight}
        />
        <text className="line-chart-tick" x={MARGIN.left + plotWidth / 2} y={height - 2} textAnchor="middle">
          {xLabel}
        </text>
        {yLabel && (
          <text
            className="line-chart-tick"
            transform={`translate(12 ${MARGIN.top + plotHeight / 2}) rotate(-90)`}
            textAnchor="middle"
          >
            {yLabel}
          </text>
        )}
        {drawn.map((line, index) => {
          const color = line.color ?? chartColors[index % chartColors.length]!;
          const points = [...line.points].sort((a, b) => a.x - b.x);
          const d = points
            .map((point, at) => `${at === 0 ? 'M' : 'L'}${x(point.x).toFixed(1)},${y(point.y).toFixed(1)}`)
            .join(' ');
          return (
            <g key={line.name}>
              <path className="line-chart-line" data-series={line.name} d={d} stroke={color}>
                <title>{line.name}</title>
              </path>
              {points.map((point) =>
                point.label !== undefined || point.color !== undefined ? (
                  <circle
                    key={`${point.x},${point.y},${point.label}`}
                    className="line-chart-point"
                    data-series={line.name}
                    data-label={point.label}
                    cx={x(point.x)}
                    cy={y(point.y)}
                    r={4}
                    fill={point.color ?? color}
                    stroke="#fff"
                  >
                    {point.label !== undefined && <title>{point.label}</title>}
                  </circle>
                ) : points.length === 1 ? (
                  <circle key="only" cx={x(point.x)} cy={y(point.y)} r={3} fill={color} />
                ) : null,
              )}
            </g>
          );
        })}
      </svg>
      {drawn.length > 1 && (
        <figcaption className="line-chart-legend">
          {drawn.map((line, index) => (
            <span key={line.name}>
              <i style={{ background: line.color ?? chartColors[index % chartColors.length] }} />
              {line.name}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}
