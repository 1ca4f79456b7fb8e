import { CartesianGrid, Legend, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from 'recharts';
import type { SweepPoint } from '../../app/studio';
import { AXIS, BRANCH_COLORS, GRID, HIGHLIGHT, TOOLTIP } from './colors';
import { K, type SweepView } from './chart-data';

interface ShapeProps {
  cx?: number;
  cy?: number;
}
const ring = (p: ShapeProps) => <circle cx={p.cx} cy={p.cy} r={10} fill="none" stroke={HIGHLIGHT} strokeWidth={2.5} />;
const none = () => <g />;
const tip = (v: unknown, name: unknown): [string, string] => [name === 'SSIM' ? Number(v).toFixed(4) : `${Number(v).toFixed(1)} ms`, String(name)];

/** Latency vs SSIM per branch, the Pareto frontier as a dashed line, the chosen point ringed. */
export function SweepScatter({ view }: { view: SweepView }) {
  const ys = view.byBranch.flatMap((b) => b.points.map((p) => p.ssim));
  const lo = Math.max(0, Math.floor((Math.min(...ys, 0.9) - 0.01) * 100) / 100);
  return (
    <ResponsiveContainer width="100%" height={320}>
      <ScatterChart margin={{ top: 12, right: 16, left: 4, bottom: 4 }}>
        <CartesianGrid stroke={GRID} />
        <XAxis type="number" dataKey={K.latency} name="latency" unit=" ms" {...AXIS} domain={[0, 'auto']} />
        <YAxis type="number" dataKey={K.ssim} name="SSIM" {...AXIS} domain={[lo, 1]} tickFormatter={(v: number) => v.toFixed(2)} width={48} />
        <ZAxis range={[60, 60]} />
        <Tooltip {...TOOLTIP} formatter={tip} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Scatter name="Pareto frontier" data={view.frontier} line={{ stroke: HIGHLIGHT, strokeDasharray: '5 4' }} shape={none} legendType="line" fill={HIGHLIGHT} isAnimationActive={false} />
        {view.byBranch.map((b) => (
          <Scatter key={b.branch} name={`branch ${b.branch}`} data={b.points} fill={BRANCH_COLORS[b.branch % BRANCH_COLORS.length]} isAnimationActive={false} />
        ))}
        {view.best && <Scatter name="fastest ≥ threshold" data={[view.best] as SweepPoint[]} shape={ring} fill={HIGHLIGHT} legendType="circle" isAnimationActive={false} />}
      </ScatterChart>
    </ResponsiveContainer>
  );
}
