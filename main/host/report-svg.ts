/**
 * Small static SVG charts for the exported report. Hand-written because the report must be one
 * self-contained file that renders without scripts; recharts needs a live DOM to lay out.
 */
import { CHART, HIGHLIGHT } from '../../app/palette';

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const f = (n: number): string => (Math.round(n * 10) / 10).toString();

interface Frame {
  w: number;
  h: number;
  l: number;
  r: number;
  t: number;
  b: number;
}
const FRAME: Frame = { w: 640, h: 260, l: 56, r: 16, t: 16, b: 40 };
const AXIS = CHART.tick;

function ticks(max: number, n = 4): number[] {
  const step = 10 ** Math.floor(Math.log10(max / n || 1));
  const nice = [1, 2, 5, 10].map((k) => k * step).find((s) => max / s <= n) ?? step * 10;
  return Array.from({ length: Math.floor(max / nice) + 1 }, (_, i) => i * nice);
}

/** Grid lines and labels from `min` to `max`; `label` formats a value (SSIM needs 3 decimals, ms one). */
function yAxis(fr: Frame, max: number, unit: string, min = 0, label: (v: number) => string = f): string {
  const y = (v: number): number => fr.h - fr.b - ((v - min) / (max - min || 1)) * (fr.h - fr.t - fr.b);
  return ticks(max - min).map((t) => t + min).filter((v) => v <= max).map((v) =>
    `<line x1="${fr.l}" x2="${fr.w - fr.r}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="${CHART.grid}"/><text x="${fr.l - 6}" y="${f(y(v) + 4)}" fill="${AXIS}" font-size="11" text-anchor="end">${label(v)}${unit}</text>`).join('');
}

function svg(fr: Frame, body: string, legend: { label: string; color: string }[] = []): string {
  // each key as wide as its label (about 6.5 px a character at 11 px): long labels no longer overlap
  let at = fr.l;
  const leg = legend.map((k) => {
    const x = at;
    at += 14 + k.label.length * 6.5 + 18;
    return `<rect x="${f(x)}" y="${fr.h - 14}" width="10" height="10" fill="${k.color}"/><text x="${f(x + 14)}" y="${fr.h - 5}" fill="${AXIS}" font-size="11">${esc(k.label)}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${fr.w} ${fr.h}" width="${fr.w}" height="${fr.h}" font-family="sans-serif">${body}${leg}</svg>`;
}

/** Horizontal groups of stacked bars (e.g. per variant: text encoder, denoise, VAE). */
export function stackedBars(rows: { label: string; parts: number[] }[], keys: { label: string; color: string }[], unit = ' ms'): string {
  const fr = { ...FRAME, b: 56 };
  const max = Math.max(1e-9, ...rows.map((r) => r.parts.reduce((a, b) => a + b, 0))) * 1.1;
  const bw = (fr.w - fr.l - fr.r) / Math.max(1, rows.length);
  const y = (v: number): number => ((fr.h - fr.t - fr.b) * v) / max;
  const bars = rows.map((r, i) => {
    let acc = 0;
    const x = fr.l + i * bw + bw * 0.2;
    const rects = r.parts.map((p, k) => {
      acc += p;
      return `<rect x="${f(x)}" y="${f(fr.h - fr.b - y(acc))}" width="${f(bw * 0.6)}" height="${f(y(p))}" fill="${keys[k]!.color}"><title>${esc(`${r.label} ${keys[k]!.label}: ${f(p)}${unit}`)}</title></rect>`;
    }).join('');
    return `${rects}<text x="${f(x + bw * 0.3)}" y="${fr.h - fr.b + 16}" fill="${AXIS}" font-size="11" text-anchor="middle">${esc(r.label)}</text>`;
  }).join('');
  return svg(fr, yAxis(fr, max, unit) + bars, keys);
}

/** Lines over x = index; points flagged `mark` get a filled dot (e.g. DeepCache's full steps). */
export function lines(series: { label: string; color: string; ys: number[]; marks?: Set<number> }[], unit = ' ms'): string {
  const fr = FRAME;
  const n = Math.max(2, ...series.map((s) => s.ys.length));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.ys)) * 1.1;
  const x = (i: number): number => fr.l + (i / (n - 1)) * (fr.w - fr.l - fr.r);
  const y = (v: number): number => fr.h - fr.b - (v / max) * (fr.h - fr.t - fr.b);
  const body = series.map((s) => {
    const d = s.ys.map((v, i) => `${i ? 'L' : 'M'}${f(x(i))},${f(y(v))}`).join('');
    const dots = s.ys.map((v, i) => `<circle cx="${f(x(i))}" cy="${f(y(v))}" r="${s.marks?.has(i) ? 3.5 : 2}" fill="${s.marks?.has(i) ? s.color : CHART.background}" stroke="${s.color}"/>`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>${dots}`;
  }).join('');
  const xl = `<text x="${fr.w - fr.r}" y="${fr.h - fr.b + 16}" fill="${AXIS}" font-size="11" text-anchor="end">step →</text>`;
  return svg(fr, yAxis(fr, max, unit) + body + xl, series);
}

/** Latency (x) vs SSIM (y), the Pareto frontier as a line, one point ringed; `legend` names the colours (DeepCache branches). */
export function scatter(points: { x: number; y: number; label: string; color: string }[], frontier: { x: number; y: number }[], ring?: { x: number; y: number }, legend: { label: string; color: string }[] = []): string {
  const fr = { ...FRAME, b: 56 };
  const xmax = Math.max(1e-9, ...points.map((p) => p.x)) * 1.1;
  const ymin = Math.min(0.9, ...points.map((p) => p.y)) - 0.01;
  const x = (v: number): number => fr.l + (v / xmax) * (fr.w - fr.l - fr.r);
  const y = (v: number): number => fr.h - fr.b - ((v - ymin) / (1.005 - ymin)) * (fr.h - fr.t - fr.b);
  const front = frontier.map((p, i) => `${i ? 'L' : 'M'}${f(x(p.x))},${f(y(p.y))}`).join('');
  const dots = points.map((p) => `<circle cx="${f(x(p.x))}" cy="${f(y(p.y))}" r="4" fill="${p.color}"><title>${esc(p.label)}</title></circle>`).join('');
  const ringSvg = ring ? `<circle cx="${f(x(ring.x))}" cy="${f(y(ring.y))}" r="9" fill="none" stroke="${HIGHLIGHT}" stroke-width="2"/>` : '';
  const labels = `<text x="${fr.w - fr.r}" y="${fr.h - fr.b + 16}" fill="${AXIS}" font-size="11" text-anchor="end">latency (ms) →</text><text x="${fr.l + 4}" y="${fr.t + 10}" fill="${AXIS}" font-size="11">SSIM ↑</text>`;
  const xt = ticks(xmax).map((v) => `<text x="${f(x(v))}" y="${fr.h - fr.b + 16}" fill="${AXIS}" font-size="11" text-anchor="middle">${f(v)}</text>`).join('');
  const yt = yAxis(fr, 1.005, '', ymin, (v) => v.toFixed(3));
  return svg(fr, `${yt}<path d="${front}" fill="none" stroke="${HIGHLIGHT}" stroke-dasharray="4 3"/>${dots}${ringSvg}${labels}${xt}`, legend);
}
