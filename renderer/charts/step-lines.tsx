import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { CHART } from '../../app/palette';
import { AXIS, GRID, SIDE_COLORS, TOOLTIP } from './colors';
import { K, type StepRow } from './chart-data';

interface DotProps {
  cx?: number;
  cy?: number;
  index?: number;
  payload?: StepRow;
}

/** Filled dot: the step ran the full UNet; hollow: DeepCache served it from the cache. */
const dot = (flag: 'Afull' | 'Bfull', color: string) => (p: DotProps) => {
  if (p.cx === undefined || p.cy === undefined) return <g key={`${flag}-${p.index}`} />;
  const full = p.payload?.[flag];
  return <circle key={`${flag}-${p.index}`} cx={p.cx} cy={p.cy} r={full ? 3.5 : 2.5} fill={full ? color : CHART.background} stroke={color} strokeWidth={1.5} />;
};
const DOT_A = dot(K.Afull, SIDE_COLORS.A!);
const DOT_B = dot(K.Bfull, SIDE_COLORS.B!);
const ms = (v: number): string => `${v.toFixed(1)} ms`;

export function StepLines({ rows, labels }: { rows: StepRow[]; labels: Record<string, string> }) {
  return (
    <ResponsiveContainer width="100%" height={240}>
      <LineChart data={rows} margin={{ top: 8, right: 12, left: 4, bottom: 0 }}>
        <CartesianGrid stroke={GRID} vertical={false} />
        <XAxis dataKey={K.step} {...AXIS} />
        <YAxis {...AXIS} tickFormatter={(v: number) => `${Math.round(v)}`} width={40} unit="" />
        <Tooltip {...TOOLTIP} formatter={(v) => ms(Number(v))} labelFormatter={(s) => `step ${s}`} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line dataKey={K.A} name={labels.A} stroke={SIDE_COLORS.A} dot={DOT_A} isAnimationActive={false} />
        <Line dataKey={K.B} name={labels.B} stroke={SIDE_COLORS.B} dot={DOT_B} isAnimationActive={false} />
      </LineChart>
    </ResponsiveContainer>
  );
}
