import onnxProto from 'onnx-proto';
import { makeAttr, type Node, type Tensor } from '../onnx/graph';
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
  let id = 0;
  const op = (opType: string, inputs: string[], attrs: Node['attribute'] = [], output = `t${id++}`): string => {
    nodes.push({ opType, input: inputs, output: [output], name: `${opType}_${id}`, attribute: attrs });
    return output;
  };
  const row = op('Gather', ['coefficients', 'step'], [makeAttr('axis', { i: 0 })]);
  const c = Object.fromEntries(COEFFICIENTS.map((k) => [k, `c_${k}`])) as Record<(typeof COEFFICIENTS)[number], string>;
  nodes.push({ opType: 'Split', input: [row], output: COEFFICIENTS.map((k) => c[k]), name: 'coefficients', attribute: [makeAttr('axis', { i: 1 })] });
  const out = s.outType === 'float16' ? op('Cast', ['out'], [makeAttr('to', { i: T.FLOAT })]) : 'out';
  let eps = out;
  if (s.guided) {
    nodes.push({ opType: 'Split', input: [out], output: ['uncond', 'cond'], name: 'halves', attribute: [makeAttr('axis', { i: 0 })] });
    eps = op('Add', ['uncond', op('Mul', [c.g, op('Sub', ['cond', 'uncond'])])]);
  }
  const lin = (terms: [string, string][]): string => terms.map(([k, t]) => op('Mul', [k, t])).reduce((acc, t) => op('Add', [acc, t]));
  let x0 = op('Div', [lin([[c.p, 'x'], [c.q, eps]]), c.r]);
  if (s.clip !== undefined) {
    inits.push({ name: 'lo', dataType: T.FLOAT, dims: [], floatData: [-s.clip] }, { name: 'hi', dataType: T.FLOAT, dims: [], floatData: [s.clip] });
    x0 = op('Clip', [x0, 'lo', 'hi']);
  }
  nodes.push({ opType: 'Identity', input: [x0], output: ['x0'], name: 'x0' });
  const e = lin([[c.u, 'x'], [c.v, eps]]);
  const prev = lin([[c.a, 'x'], [c.b, e], [c.c, 'x0'], [c.d, 'x0_prev']]);
  op('Add', [op('Mul', [c.w, prev]), op('Mul', [c.k, 'z'])], [], 'latents');
  const doubled = s.repeatNext === 2 ? op('Concat', ['latents', 'latents'], [makeAttr('axis', { i: 0 })]) : 'latents';
  const sample = op('Mul', [doubled, c.s]);
  if (s.sampleType === 'float16') op('Cast', [sample], [makeAttr('to', { i: T.FLOAT16 })], 'sample');
  else nodes.push({ opType: 'Identity', input: [sample], output: ['sample'], name: 'sample' });
  inits.push({ name: 'one', dataType: T.INT32, dims: [1], int32Data: [1] });
  op('Add', ['step', 'one'], [], 'next_step');

  const vi = (name: string, elem: number) => ({ name, type: { tensorType: { elemType: elem } } });
  const half = (t: 'float32' | 'float16') => (t === 'float16' ? T.FLOAT16 : T.FLOAT);
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'scheduler_step',
      node: nodes,
      initializer: inits,
      input: [vi('out', half(s.outType)), vi('x', T.FLOAT), vi('x0_prev', T.FLOAT), vi('z', T.FLOAT), vi('coefficients', T.FLOAT), vi('step', T.INT32)],
      output: [vi('latents', T.FLOAT), vi('x0', T.FLOAT), vi('sample', half(s.sampleType)), vi('next_step', T.INT32)],
    },
  });
}
