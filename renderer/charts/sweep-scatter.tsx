import { CartesianGrid, Legend, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from 'recharts';
import type { SweepPoint } from '../../app/studio';
import { AXIS, BRANCH_COLORS, GRID, HIGHLIGHT, TOOLTIP } from './colors';
import { K, pointLatency, type SweepView } from './chart-data';

interface ShapeProps {
  cx?: number;
  cy?: number;
}
const ring = (p: ShapeProps) => <circle cx={p.cx} cy={p.cy} r={10} fill="none" stroke={HIGHLIGHT} strokeWidth={2.5} />;
const none = () => <g />;

/** The tooltip names the point (N, branch), its time with spread and repeats, and its similarity. */
function PointTip({ active, payload }: { active?: boolean; payload?: readonly { payload?: unknown }[] }) {
  const p = active ? (payload?.[0]?.payload as SweepPoint | undefined) : undefined;
  if (!p || p.interval === undefined) return null;
  return (
    <div className="chart-tip" style={TOOLTIP.contentStyle} data-testid="sweep-tip">
      <b>N={p.interval} · branch {p.branch}</b>
      <div>{pointLatency(p)}</div>
      <div>SSIM {p.ssim.toFixed(4)} · PSNR {p.psnr === null ? '∞' : `${p.psnr.toFixed(2)} dB`} · {p.fullSteps} full steps</div>
      <div className="hint">click: compare with the interval-1 image</div>
    </div>
  );
}

/** Latency vs SSIM per branch, the Pareto frontier dashed, the SSIM threshold drawn, the chosen point ringed; a click opens a point. */
export function SweepScatter({ view, threshold, onPick }: { view: SweepView; threshold: number; onPick(p: SweepPoint): void }) {
  const ys = view.byBranch.flatMap((b) => b.points.map((p) => p.ssim));
  const lo = Math.max(0, Math.floor((Math.min(...ys, 0.9, threshold) - 0.01) * 100) / 100);
  const pick = (d: unknown) => {
    const p = (d as { payload?: SweepPoint } | undefined)?.payload;
    if (p?.image) onPick(p);
  };
  return (
    <ResponsiveContainer width="100%" height={320}>
      <ScatterChart margin={{ top: 12, right: 16, left: 4, bottom: 4 }}>
        <CartesianGrid stroke={GRID} />
        <XAxis type="number" dataKey={K.latency} name="latency" unit=" ms" {...AXIS} domain={[0, 'auto']} />
        <YAxis type="number" dataKey={K.ssim} name="SSIM" {...AXIS} domain={[lo, 1]} tickFormatter={(v: number) => v.toFixed(2)} width={48} />
        <ZAxis range={[60, 60]} />
        <Tooltip content={PointTip} cursor={{ strokeDasharray: '3 3' }} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <ReferenceLine y={threshold} stroke={HIGHLIGHT} strokeOpacity={0.7} strokeDasharray="2 3" label={{ value: `SSIM ≥ ${threshold.toFixed(3)}`, position: 'insideBottomLeft', fill: HIGHLIGHT, fontSize: 11 }} />
        <Scatter name="Pareto frontier" data={view.frontier} line={{ stroke: HIGHLIGHT, strokeDasharray: '5 4' }} shape={none} legendType="line" fill={HIGHLIGHT} isAnimationActive={false} />
        {view.byBranch.map((b) => (
          <Scatter key={b.branch} name={`branch ${b.branch}`} data={b.points} fill={BRANCH_COLORS[b.branch % BRANCH_COLORS.length]} isAnimationActive={false} onClick={pick} cursor="pointer" />
        ))}
        {view.best && <Scatter name="fastest ≥ threshold" data={[view.best] as SweepPoint[]} shape={ring} fill={HIGHLIGHT} legendType="circle" isAnimationActive={false} onClick={pick} />}
      </ScatterChart>
    </ResponsiveContainer>
  );
}
