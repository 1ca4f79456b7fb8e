/**
 * Grids (A1111's X/Y/Z plot) and the compatibility matrix: which parameters and options a cell may
 * vary, parsing an axis's values, and planning the cells of a request. The acceleration axes and
 * the matrix's settings derive from the descriptor table (app/accelerations/registry.ts), so a new
 * acceleration is an axis with no line here. Pure: no node, electron or DOM imports.
 */
import { z } from 'zod';
import { accelerations } from './accelerations/registry';
import type { EditorField } from './accelerations/descriptor';
import { GenerateParams, SCHEDULER_NAMES, MAX_SIZE } from './contract';
import { describeIssues } from './errors';
import { withinNoise } from './run-stats';
import { Variant } from './variant';

export type AxisValue = string | number | boolean;
export const AxisValueSchema = z.union([z.string().max(4000), z.number(), z.boolean()]);

/** One axis a grid may vary: a generation parameter, or an acceleration's editor field. */
export interface AxisSpec {
  key: string;
  label: string;
  kind: 'text' | 'integer' | 'number' | 'select' | 'boolean' | 'size';
  choices?: readonly (string | number)[];
  min?: number;
  max?: number;
  /** Where it lands: the run's params, a variant option, or an option inside a variant group. */
  target: { params: string } | { option: string; group?: Record<string, unknown>; field?: string; weight?: true };
  help: string;
}

export const MAX_AXIS_VALUES = 16;
export const MAX_GRID_CELLS = 64;
export const MAX_MATRIX_SETTINGS = 12;

const PARAM_AXES: AxisSpec[] = [
  { key: 'prompt', label: 'Prompt S/R', kind: 'text', target: { params: 'prompt' }, help: 'search | replace | …: the first value must occur in the prompt; each value replaces it' },
  { key: 'seed', label: 'Seed', kind: 'integer', min: 0, target: { params: 'seed' }, help: 'seeds, e.g. 1, 2, 3 or 1-4' },
  { key: 'steps', label: 'Steps', kind: 'integer', min: 1, max: 1000, target: { params: 'steps' }, help: 'e.g. 10, 20, 30' },
  { key: 'guidance', label: 'Guidance', kind: 'number', min: 0, max: 100, target: { params: 'guidance' }, help: 'e.g. 2, 3, 5' },
  { key: 'scheduler', label: 'Scheduler', kind: 'select', choices: SCHEDULER_NAMES, target: { params: 'scheduler' }, help: SCHEDULER_NAMES.join(', ') },
  { key: 'size', label: 'Size', kind: 'size', target: { params: 'size' }, help: 'WxH, e.g. 64x64, 96x64' },
];

function fieldAxis(f: EditorField, key: string, label: string, target: AxisSpec['target']): AxisSpec | undefined {
  switch (f.kind) {
    case 'select': return { key, label, kind: 'select', choices: f.choices, target, help: f.choices.join(', ') };
    case 'number': return { key, label, kind: Number.isInteger(f.step) ? 'integer' : 'number', min: f.min, max: f.max, target, help: `${f.min} … ${f.max}` };
    case 'checkbox': return { key, label, kind: 'boolean', target, help: 'on, off' };
    case 'file-list': return { key: `${key}.weight`, label: `${label.replace(/\s*\(.*\)$/, '')} weight`, kind: 'number', min: f.weight.min, max: f.weight.max, target: { ...target, weight: true }, help: `every LoRA of the base at this weight (${f.weight.min} … ${f.weight.max})` };
    case 'file': return undefined; // a file is not a value to sweep
  }
}

/** Every axis: the generation parameters, then each acceleration's editor fields in table order. */
export function gridAxes(): AxisSpec[] {
  const out = [...PARAM_AXES];
  for (const d of accelerations()) {
    for (const f of d.editor.fields ?? []) {
      const a = fieldAxis(f, f.key, f.label, { option: f.key });
      if (a) out.push(a);
    }
    const g = d.editor.group;
    for (const f of g?.fields ?? []) {
      const a = fieldAxis(f, `${g!.key}.${f.key}`, `${g!.label} ${f.label.charAt(0).toLowerCase()}${f.label.slice(1)}`, { option: g!.key, group: g!.defaults, field: f.key });
      if (a) out.push(a);
    }
  }
  return out;
}

export function axisSpec(key: string): AxisSpec {
  const a = gridAxes().find((x) => x.key === key);
  if (!a) throw new Error(`no grid axis "${key}" (known: ${gridAxes().map((x) => x.key).join(', ')})`);
  return a;
}

/** The text of an axis's values as typed ("1, 2, 5" or "3-6"; prompt S/R and free text split on "|"). */
export function parseAxisValues(spec: AxisSpec, text: string): AxisValue[] {
  const tokens = text.split(spec.kind === 'text' ? '|' : ',').map((t) => t.trim()).filter((t) => t !== '');
  if (!tokens.length) throw new Error(`${spec.label}: give at least one value (${spec.help})`);
  const values = tokens.flatMap((t): AxisValue[] => {
    const range = spec.kind === 'integer' ? t.match(/^(\d+)\s*-\s*(\d+)$/) : null;
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (hi < lo || hi - lo >= MAX_AXIS_VALUES) throw new Error(`${spec.label}: range ${t} must go up and hold at most ${MAX_AXIS_VALUES} values`);
      return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
    }
    return [parseValue(spec, t)];
  });
  if (values.length > MAX_AXIS_VALUES) throw new Error(`${spec.label}: at most ${MAX_AXIS_VALUES} values, got ${values.length}`);
  if (new Set(values.map(String)).size !== values.length) throw new Error(`${spec.label}: a value is given twice`);
  return values;
}

function parseValue(spec: AxisSpec, t: string): AxisValue {
  switch (spec.kind) {
    case 'text': return t;
    case 'boolean':
      if (/^(on|true|yes|1)$/i.test(t)) return true;
      if (/^(off|false|no|0)$/i.test(t)) return false;
      throw new Error(`${spec.label}: "${t}" is not on or off`);
    case 'select': {
      const c = spec.choices!.find((x) => String(x) === t);
      if (c === undefined) throw new Error(`${spec.label}: "${t}" is not one of ${spec.help}`);
      return c;
    }
    case 'size':
      if (!/^\d+\s*x\s*\d+$/i.test(t)) throw new Error(`${spec.label}: "${t}" is not WxH (e.g. 64x64)`);
      return t.replace(/\s/g, '').toLowerCase();
    default: {
      const n = Number(t);
      if (!Number.isFinite(n)) throw new Error(`${spec.label}: "${t}" is not a number`);
      if (spec.kind === 'integer' && !Number.isInteger(n)) throw new Error(`${spec.label}: "${t}" is not an integer`);
      if (spec.min !== undefined && n < spec.min) throw new Error(`${spec.label}: ${n} is below ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new Error(`${spec.label}: ${n} is above ${spec.max}`);
      return n;
    }
  }
}

/** One cell's inputs: the shared params and the variant, before validation. */
export interface CellInputs {
  params: Record<string, unknown>;
  variant: Record<string, unknown>;
}

/** Sets one axis value on a cell (a copy); `search` is the prompt axis's first value. Throws the reason a value cannot apply. */
export function applyAxis(spec: AxisSpec, value: AxisValue, cell: CellInputs, search?: string): CellInputs {
  const params = { ...cell.params }, variant = structuredClone(cell.variant);
  const t = spec.target;
  if ('params' in t) {
    if (t.params === 'prompt') {
      if (!search || !String(params.prompt).includes(search)) throw new Error(`Prompt S/R: "${search}" does not occur in the prompt`);
      params.prompt = String(params.prompt).split(search).join(String(value));
    } else if (t.params === 'size') {
      const [w, h] = String(value).split('x').map(Number);
      Object.assign(params, { width: w, height: h });
    } else params[t.params] = value;
  } else if (t.weight) {
    const loras = (variant[t.option] as { path: string; weight: number }[] | undefined) ?? [];
    if (!loras.length) throw new Error(`${spec.label}: the base variant has no LoRAs to weigh`);
    variant[t.option] = loras.map((l) => ({ ...l, weight: value }));
  } else if (t.field) {
    variant[t.option] = { ...t.group, ...(variant[t.option] as object | undefined), [t.field]: value };
  } else variant[t.option] = value;
  return { params, variant };
}

/** Checks a cell's inputs with the contract's schemas; the reason it is refused, or the parsed cell. */
export function checkCell(c: CellInputs): { params: GenerateParams; variant: Variant } | { refused: string } {
  const p = GenerateParams.safeParse(c.params);
  if (!p.success) return { refused: describeIssues(p.error, 3) };
  if ((p.data.width ?? 0) > MAX_SIZE || (p.data.height ?? 0) > MAX_SIZE) return { refused: `size must be at most ${MAX_SIZE}` };
  const v = Variant.safeParse(c.variant);
  if (!v.success) return { refused: describeIssues(v.error, 3) };
  return { params: p.data, variant: v.data };
}

/** A planned cell: where it sits, its label, and what it runs (or why it will not). */
export interface PlannedCell {
  coords: number[];
  label: string;
  run?: { params: GenerateParams; variant: Variant };
  refused?: string;
}

export const valueLabel = (v: AxisValue): string => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));

/** The cells of an X/Y/Z grid in row order (X fastest); the first is the reference. */
export function planGrid(params: Record<string, unknown>, base: Record<string, unknown>, axes: readonly { key: string; values: readonly AxisValue[] }[]): PlannedCell[] {
  const specs = axes.map((a) => axisSpec(a.key));
  const n = axes.reduce((k, a) => k * a.values.length, 1);
  if (n > MAX_GRID_CELLS) throw new Error(`grid: ${n} cells, at most ${MAX_GRID_CELLS}`);
  return Array.from({ length: n }, (_, i) => {
    let rest = i;
    const coords = axes.map((a) => {
      const c = rest % a.values.length;
      rest = Math.floor(rest / a.values.length);
      return c;
    });
    const label = coords.map((c, k) => `${specs[k]!.label} ${valueLabel(axes[k]!.values[c]!)}`).join(' · ');
    try {
      const cell = coords.reduce<CellInputs>((acc, c, k) => applyAxis(specs[k]!, axes[k]!.values[c]!, acc, String(axes[k]!.values[0])), { params, variant: { ...base, label: label.slice(0, 40) } });
      const checked = checkCell(cell);
      return 'refused' in checked ? { coords, label, refused: checked.refused } : { coords, label, run: checked };
    } catch (e) {
      return { coords, label, refused: (e as Error).message };
    }
  });
}

/** A matrix setting: one acceleration option away from the base ("Precision fp16", "DeepCache on"). */
export interface MatrixSetting {
  label: string;
  patch: Record<string, unknown>;
}

/** A field's settings other than the base's value: each other choice, the flipped checkbox, a mid value. */
function fieldSettings(f: EditorField, current: unknown, loraFiles: readonly string[]): { label: string; value: unknown }[] {
  switch (f.kind) {
    case 'select': return f.choices.filter((c) => c !== current).map((c) => ({ label: `${f.label} ${c}`, value: c }));
    case 'checkbox': return [{ label: `${f.label} ${current ? 'off' : 'on'}`, value: !current }];
    case 'number': {
      const mid = Number((Math.round((f.min + f.max) / 2 / f.step) * f.step).toFixed(6));
      return mid === current ? [] : [{ label: `${f.label} ${f.format ? f.format(mid) : mid}`, value: mid }];
    }
    case 'file-list': return loraFiles.length && !(current as unknown[]).length ? [{ label: 'LoRA (first in loras/)', value: [{ path: loraFiles[0]!, weight: 1 }] }] : [];
    case 'file': return [];
  }
}

/**
 * Every acceleration option one step away from the base, from the descriptors' editor fields: a
 * group (DeepCache, LCM-LoRA) switched on with its defaults (a file group takes the model's first
 * LoRA file), each other choice of a select, the flipped checkbox, a mid value of a number.
 */
export function matrixSettings(base: Record<string, unknown>, loraFiles: readonly string[]): MatrixSetting[] {
  const out: MatrixSetting[] = [];
  for (const d of accelerations()) {
    for (const f of d.editor.fields ?? []) {
      for (const s of fieldSettings(f, base[f.key], loraFiles)) out.push({ label: s.label, patch: { [f.key]: s.value } });
    }
    const g = d.editor.group;
    if (g && base[g.key] === undefined) {
      const file = g.fields.find((f) => f.kind === 'file');
      if (file && !loraFiles.length) continue; // no file to switch it on with
      out.push({ label: `${g.label} on`, patch: { [g.key]: { ...g.defaults, ...(file ? { [file.key]: loraFiles[0] } : {}) } } });
    }
  }
  return out;
}

/**
 * The matrix's cells: the base alone first (the reference), each setting alone on the diagonal
 * [i, i], and each pair [i, j] (i < j) of settings that touch different options.
 */
export function planMatrix(params: Record<string, unknown>, base: Record<string, unknown>, settings: readonly MatrixSetting[]): PlannedCell[] {
  if (settings.length > MAX_MATRIX_SETTINGS) throw new Error(`matrix: ${settings.length} settings, at most ${MAX_MATRIX_SETTINGS}`);
  const cell = (coords: number[], label: string, patches: MatrixSetting[]): PlannedCell => {
    const checked = checkCell({ params, variant: Object.assign({ ...base, label: label.slice(0, 40) }, ...patches.map((p) => p.patch)) });
    return 'refused' in checked ? { coords, label, refused: checked.refused } : { coords, label, run: checked };
  };
  const out = [cell([], 'base', [])];
  settings.forEach((a, i) => settings.forEach((b, j) => {
    if (j < i) return;
    if (i !== j && Object.keys(a.patch).some((k) => k in b.patch)) return; // two values of one option: not a pair
    out.push(cell([i, j], i === j ? a.label : `${a.label} + ${b.label}`, i === j ? [a] : [a, b]));
  }));
  return out;
}

// ---- what a grid or matrix entry keeps ----

export const CellLatency = z.object({ n: z.number().int(), median: z.number(), q1: z.number(), q3: z.number(), min: z.number(), max: z.number() });
export type CellLatency = z.infer<typeof CellLatency>;

export const GridCell = z.object({
  coords: z.array(z.number().int()),
  label: z.string(),
  status: z.enum(['pending', 'ran', 'refused', 'failed']),
  reason: z.string().optional(),
  /** Totals (prepare excluded) of the steady runs: a session's first run is kept apart as firstMs. */
  latency: CellLatency.optional(),
  firstMs: z.number().optional(),
  /** Every run was a session's first (one repeat): the figure includes warm-up. */
  firstOnly: z.boolean().optional(),
  ssim: z.number().optional(),
  psnr: z.number().nullable().optional(),
  image: z.string().optional(),
  summary: z.string().optional(),
  fullSteps: z.number().int().optional(),
  steps: z.number().int().optional(),
  variant: Variant.optional(),
});
export type GridCell = z.infer<typeof GridCell>;

export const GridSection = z.object({
  mode: z.enum(['grid', 'matrix']),
  base: Variant,
  /** Grid: its axes with their values as labels. Matrix: its settings. */
  axes: z.array(z.object({ key: z.string(), label: z.string(), values: z.array(z.string()) })),
  settings: z.array(z.object({ label: z.string(), patch: z.record(z.string(), z.unknown()) })).optional(),
  repeats: z.number().int(),
  /** Index of the cell every SSIM, PSNR and speed-up is measured against. */
  reference: z.number().int(),
  cells: z.array(GridCell),
});
export type GridSection = z.infer<typeof GridSection>;

// ---- one layout and one wording for the view, the exported PNG and the report ----

/** A table of cell indices (undefined: no cell there, e.g. below a matrix's diagonal). */
export interface GridTable {
  title: string;
  colLabel: string;
  rowLabel: string;
  cols: string[];
  rows: { label: string; cells: (number | undefined)[] }[];
}

/** Grid: one table per Z value, Y rows × X columns. Matrix: settings × settings, the upper triangle. */
export function gridTables(g: GridSection): GridTable[] {
  const at = new Map(g.cells.map((c, i) => [c.coords.join(','), i]));
  if (g.mode === 'matrix') {
    const labels = g.axes[0]!.values;
    return [{ title: '', colLabel: 'with', rowLabel: 'option', cols: labels, rows: labels.map((label, i) => ({ label, cells: labels.map((_, j) => at.get(`${i},${j}`)) })) }];
  }
  const [x, y, z] = g.axes;
  const ys = y?.values ?? [''], zs = z?.values ?? [''];
  return zs.map((zv, zi) => ({
    title: z ? `${z.label} ${zv}` : '', colLabel: x!.label, rowLabel: y?.label ?? '', cols: x!.values,
    rows: ys.map((yv, yi) => ({ label: y ? yv : '', cells: x!.values.map((_, xi) => at.get([xi, ...(y ? [yi] : []), ...(z ? [zi] : [])].join(','))) })),
  }));
}

const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** A cell's time with its spread: "41.2 ms · IQR 40.1–43.0 · n 3", or marked as a first run. */
export const latencyText = (c: GridCell): string => (c.latency ? spreadText(c.latency, c.firstOnly) : '');

/** A median with its spread (any figure over repeats: grid cells, sweep points). */
export function spreadText(l: CellLatency, firstOnly = false): string {
  if (firstOnly) return `${ms(l.median)} · first run${l.n > 1 ? `s (n ${l.n})` : ' only'}`;
  return l.n > 1 ? `${ms(l.median)} · IQR ${l.q1.toFixed(1)}–${l.q3.toFixed(1)} · n ${l.n}` : `${ms(l.median)} · one run, no spread`;
}

/** Speed-up over the reference cell, or "within noise" when their IQRs overlap (our one rule). */
export function speedupText(c: GridCell, ref: GridCell | undefined): string {
  if (!c.latency || !ref?.latency || c === ref) return '';
  const s = ref.latency.median / c.latency.median;
  return withinNoise(c.latency, ref.latency) ? `${s.toFixed(2)}× · within noise` : `${s.toFixed(2)}×`;
}

export const metricText = (c: GridCell): string =>
  c.ssim === undefined ? '' : `SSIM ${c.ssim.toFixed(3)} · PSNR ${c.psnr === null || c.psnr === undefined ? '∞' : `${c.psnr.toFixed(1)} dB`}`;
