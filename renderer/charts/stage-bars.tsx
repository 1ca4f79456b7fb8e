import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { AXIS, GRID, STAGE_COLORS, TOOLTIP } from './colors';
import type { StageRow } from '../../app/run-stats';
import { K } from './chart-data';

const ms = (v: number): string => `${Math.round(v)} ms`;

/** Per-stage stacked bars: text encoder, denoising loop, VAE; first run and steady state per side. */
export function StageBars({ rows }: { rows: StageRow[] }) {
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={rows} margin={{ top: 8, right: 12, left: 4, bottom: 0 }}>
        <CartesianGrid stroke={GRID} vertical={false} />
        <XAxis dataKey={K.name} {...AXIS} />
        <YAxis {...AXIS} tickFormatter={ms} width={60} />
        <Tooltip {...TOOLTIP} formatter={(v) => ms(Number(v))} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Bar dataKey={K.text} name="text encoder" stackId="s" fill={STAGE_COLORS.text} isAnimationActive={false} />
        <Bar dataKey={K.denoise} name="denoising loop" stackId="s" fill={STAGE_COLORS.denoise} isAnimationActive={false} />
        <Bar dataKey={K.vae} name="VAE decoder" stackId="s" fill={STAGE_COLORS.vae} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
