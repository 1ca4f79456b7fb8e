import { Bar, BarChart, CartesianGrid, Cell, ErrorBar, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { AXIS, GRID, SIDE_COLORS, TOOLTIP } from './colors';
import { K, type SideStats } from './chart-data';

/** Median total over the steady-state repeats, whiskers min..max. */
export function Totals({ stats }: { stats: SideStats[] }) {
  return (
    <ResponsiveContainer width="100%" height={200}>
      <BarChart data={stats} layout="vertical" margin={{ top: 8, right: 24, left: 4, bottom: 0 }}>
        <CartesianGrid stroke={GRID} horizontal={false} />
        <XAxis type="number" {...AXIS} tickFormatter={(v: number) => `${Math.round(v)} ms`} />
        <YAxis type="category" dataKey="label" {...AXIS} width={120} />
        <Tooltip {...TOOLTIP} formatter={(v) => `${Number(v).toFixed(1)} ms`} />
        <Bar dataKey={K.median} name="median total" isAnimationActive={false}>
          {stats.map((s) => <Cell key={s.side} fill={SIDE_COLORS[s.side]} />)}
          <ErrorBar dataKey={K.err} width={6} stroke="#c0c6d4" direction="x" />
        </Bar>
      </BarChart>
    </ResponsiveContainer>
  );
}
