import { Bar, BarChart, CartesianGrid, Cell, ErrorBar, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { CHART } from '../../app/palette';
import { AXIS, GRID, SIDE_COLORS, TOOLTIP } from './colors';
import type { SideStats } from '../../app/run-stats';
import { K } from './chart-data';

/** Median total over the steady-state repeats, whiskers min..max. */
export function Totals({ stats }: { stats: SideStats[] }) {
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={stats} margin={{ top: 8, right: 12, left: 4, bottom: 0 }}>
        <CartesianGrid stroke={GRID} vertical={false} />
        <XAxis dataKey={K.label} {...AXIS} />
        <YAxis {...AXIS} tickFormatter={(v: number) => `${Math.round(v)} ms`} width={60} />
        <Tooltip {...TOOLTIP} formatter={(v) => `${Number(v).toFixed(1)} ms`} />
        <Bar dataKey={K.median} name="median total" isAnimationActive={false} maxBarSize={90}>
          {stats.map((s) => <Cell key={s.side} fill={SIDE_COLORS[s.side]} />)}
          <ErrorBar dataKey={K.err} width={10} stroke={CHART.whisker} strokeWidth={1.5} direction="y" />
        </Bar>
      </BarChart>
    </ResponsiveContainer>
  );
}
