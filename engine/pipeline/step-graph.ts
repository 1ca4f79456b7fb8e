import onnxProto from 'onnx-proto';
import { makeAttr, valueInfo, type Node, type Tensor } from '../onnx/graph';
import { encodeModel } from '../onnx/model-proto';
import type { LinearScheduler, LinearStep } from '../schedulers/scheduler';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/**
 * One coefficient row per step, in the order the step graph splits it: guidance, the scheduler's
 * LinearStep (its noise stage as w, k; none is w = 1, k = 0), and `s`, what the next step's
 * scaleModelInput multiplies by (the graph makes the next UNet sample).
 */
export const COEFFICIENTS = ['g', 'p', 'q', 'r', 'u', 'v', 'a', 'b', 'c', 'd', 'w', 'k', 's'] as const;

/**
 * A scheduler's whole run as the graph's table [steps, 13], asked in the order the host loop
 * asks (input scale, then step, per timestep); `scales[0]` scales the first UNet sample.
 */
export function stepTable(scheduler: LinearScheduler, timesteps: readonly number[], guidance: number): { table: Float32Array; scales: number[]; steps: LinearStep[]; clip?: number } {
  const scales: number[] = [], steps: LinearStep[] = [];
  for (const t of timesteps) {
    scales.push(scheduler.inputScale(t));
    steps.push(scheduler.linearStep(t));
  }
  const clip = steps[0]?.clip;
  if (steps.some((s) => s.clip !== clip)) throw new Error('scheduler step graph: the scheduler clips x0 to different ranges between steps');
  const row = (l: LinearStep, nextScale: number): number[] => {
    const { w, k } = l.noise ?? { w: 1, k: 0 };
    return [guidance, l.p, l.q, l.r, l.u, l.v, l.a, l.b, l.c, l.d, w, k, nextScale];
  };
  return { table: Float32Array.from(steps.flatMap((s, i) => row(s, scales[i + 1] ?? 1))), scales, steps, clip };
}

/** Appends one node and returns its output's name (fresh under `prefix` unless given). */
export type NodeWriter = (opType: string, inputs: string[], attrs?: Node['attribute'], output?: string) => string;
export function nodeWriter(nodes: Node[], prefix: string): NodeWriter {
  let id = 0;
  return (opType, inputs, attrs = [], output = `${prefix}/t${id++}`) => {
    nodes.push({ opType, input: inputs, output: [output], name: `${prefix}/${opType}_${id++}`, attribute: attrs });
    return output;
  };
}

type Coefficients = Record<(typeof COEFFICIENTS)[number], string>;
/** The step's row of the coefficient table, split into one [1, 1] tensor per coefficient. */
export function coefficientNodes(op: NodeWriter, nodes: Node[], table: string, step: string, prefix: string): Coefficients {
  const row = op('Gather', [table, step], [makeAttr('axis', { i: 0 })]);
  const c = Object.fromEntries(COEFFICIENTS.map((k) => [k, `${prefix}/c_${k}`])) as Coefficients;
  nodes.push({ opType: 'Split', input: [row], output: COEFFICIENTS.map((k) => c[k]), name: `${prefix}/coefficients`, attribute: [makeAttr('axis', { i: 1 })] });
  return c;
}

/**
 * The scheduler's LinearStep as nodes (scheduler.ts applyStep's lines, in float32 here):
 * x0 = clip((p·x + q·eps) / r), e = u·x + v·eps, latents = w·(a·x + b·e + c·x0 + d·x0_prev) + k·z.
 */
export function stepNodes(op: NodeWriter, c: Coefficients, t: { eps: string; x: string; x0Prev: string; z: string; clip?: [string, string] }): { x0: string; latents: string } {
  const lin = (terms: [string, string][]): string => terms.map(([k, v]) => op('Mul', [k, v])).reduce((acc, v) => op('Add', [acc, v]));
  let x0 = op('Div', [lin([[c.p, t.x], [c.q, t.eps]]), c.r]);
  if (t.clip) x0 = op('Clip', [x0, ...t.clip]);
  const e = lin([[c.u, t.x], [c.v, t.eps]]);
  const prev = lin([[c.a, t.x], [c.b, e], [c.c, x0], [c.d, t.x0Prev]]);
  return { x0, latents: op('Add', [op('Mul', [c.w, prev]), op('Mul', [c.k, t.z])]) };
}

export interface StepGraphShape {
  /** The UNet's output is batched [uncond; cond] and combined with guidance g. */
  guided: boolean;
  /** The next UNet sample: the latents once, or twice under guidance. */
  repeatNext: 1 | 2;
  /** x0 clipped to ±clip (a scheduler config constant, so a graph constant). */
  clip?: number;
  /** Element types of the UNet's output and of its sample input. */
  outType: 'float32' | 'float16';
  sampleType: 'float32' | 'float16';
}

/**
 * The scheduler step as an ONNX graph (run on WebGPU, its inputs and outputs left on the GPU):
 *   inputs  out (the UNet's prediction), x (latents), x0_prev, z (noise; x where none is drawn),
 *           coefficients [steps, 13], step [1] int32 (the row to use)
 *   outputs latents, x0 (DPM++'s history), sample (the next UNet input), next_step (step + 1)
 * Every step of a run reads its row from one table uploaded once, so a step moves no scalars.
 */
export function stepGraph(s: StepGraphShape): Uint8Array {
  const nodes: Node[] = [];
  const inits: Tensor[] = [];
  const op = nodeWriter(nodes, 'step');
  const c = coefficientNodes(op, nodes, 'coefficients', 'step', 'step');
  const out = s.outType === 'float16' ? op('Cast', ['out'], [makeAttr('to', { i: T.FLOAT })]) : 'out';
  let eps = out;
  if (s.guided) {
    nodes.push({ opType: 'Split', input: [out], output: ['uncond', 'cond'], name: 'halves', attribute: [makeAttr('axis', { i: 0 })] });
    eps = op('Add', ['uncond', op('Mul', [c.g, op('Sub', ['cond', 'uncond'])])]);
  }
  if (s.clip !== undefined) inits.push({ name: 'lo', dataType: T.FLOAT, dims: [], floatData: [-s.clip] }, { name: 'hi', dataType: T.FLOAT, dims: [], floatData: [s.clip] });
  const { x0, latents } = stepNodes(op, c, { eps, x: 'x', x0Prev: 'x0_prev', z: 'z', clip: s.clip === undefined ? undefined : ['lo', 'hi'] });
  nodes.push({ opType: 'Identity', input: [x0], output: ['x0'], name: 'x0' }, { opType: 'Identity', input: [latents], output: ['latents'], name: 'latents' });
  const doubled = s.repeatNext === 2 ? op('Concat', ['latents', 'latents'], [makeAttr('axis', { i: 0 })]) : 'latents';
  const sample = op('Mul', [doubled, c.s]);
  if (s.sampleType === 'float16') op('Cast', [sample], [makeAttr('to', { i: T.FLOAT16 })], 'sample');
  else nodes.push({ opType: 'Identity', input: [sample], output: ['sample'], name: 'sample' });
  inits.push({ name: 'one', dataType: T.INT32, dims: [1], int32Data: [1] });
  op('Add', ['step', 'one'], [], 'next_step');

  const half = (t: 'float32' | 'float16') => (t === 'float16' ? T.FLOAT16 : T.FLOAT);
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'scheduler_step',
      node: nodes,
      initializer: inits,
      input: [valueInfo('out', half(s.outType)), valueInfo('x', T.FLOAT), valueInfo('x0_prev', T.FLOAT), valueInfo('z', T.FLOAT), valueInfo('coefficients', T.FLOAT), valueInfo('step', T.INT32)],
      output: [valueInfo('latents', T.FLOAT), valueInfo('x0', T.FLOAT), valueInfo('sample', half(s.sampleType)), valueInfo('next_step', T.INT32)],
    },
  });
}
