import { makeAttr, valueInfo as vi, type Node, type Tensor, type ValueInfo } from './graph';
import type { ModelProto } from './model-proto';
import { FLOAT, FLOAT16, INT32, INT64 } from './tensor-data';
import { coefficientNodes, nodeWriter, stepNodes } from '../pipeline/step-graph';

/**
 * The inputs a folded UNet adds (engine/pipeline/folded.ts feeds them each step): `sample` becomes
 * the latents once (the graph doubles them for CFG and scales them), `unet_batch` how many rows the
 * UNet runs (2B under guidance, else B), then the step graph's coefficient table and row, DPM++'s
 * previous x0, the noise z and the clip range (±Infinity where the scheduler does not clip).
 */
export const FOLDED_INPUTS = ['unet_batch', 'sample_scale', 'coefficients', 'step', 'x0_prev', 'z', 'clip_lo', 'clip_hi'] as const;
/** Its outputs before the UNet's other ones: the step's latents (a host-stepping scheduler: the guided prediction) and x0. */
export const FOLDED_OUTPUTS = ['next_latents', 'x0'] as const;

const elemOf = (v: ValueInfo | undefined): number => Number(v?.type?.tensorType?.elemType);
const channels = (v: ValueInfo | undefined): number | undefined => {
  const d = v?.type?.tensorType?.shape?.dim?.[1]?.dimValue;
  return d == null ? undefined : Number(d);
};

/** Why a UNet graph cannot take the step inside it, or undefined when it can. */
export function foldBlocker(model: ModelProto): string | undefined {
  const g = model.graph!, inputs = g.input ?? [];
  const sample = inputs.find((v) => v.name === 'sample'), out = g.output?.[0];
  if (inputs.some((v) => v.name === FOLDED_INPUTS[0])) return 'already folded';
  if (!sample || !out) return 'no "sample" input or no output';
  if (inputs.some((v) => /_additional_residual/.test(v.name ?? ''))) return 'ControlNet residual inputs (the ControlNet reads the scaled sample on the host)';
  const [cin, cout] = [channels(sample), channels(out)];
  if (cin === undefined || cin !== cout) return `its sample has ${cin ?? '?'} channels and its prediction ${cout ?? '?'} (an inpainting UNet concatenates the mask on the host)`;
  if (![FLOAT, FLOAT16].includes(elemOf(sample)) || ![FLOAT, FLOAT16].includes(elemOf(out))) return 'sample or prediction not float32/float16';
  return undefined;
}

/**
 * The UNet with CFG's combine and the scheduler's LinearStep after it, and the CFG doubling and
 * input scaling before it, as one graph: the host feeds the latents and reads the next ones, with no
 * arithmetic of its own between steps (on CUDA, where Node cannot keep tensors on the GPU, that was
 * 0.28-0.55 ms a step of host time on the H200, the engine overhead over 3% of an image). The nodes
 * are the resident WebGPU loop's (../pipeline/step-graph.ts); guidance's halves are cut with Slice by
 * `unet_batch`, so one graph serves guided and unguided steps (CFG truncation's twins open it again).
 * Rewrites `model` in place (see foldBlocker first); the weights are not touched.
 */
export function foldStep(model: ModelProto): void {
  const g = model.graph!;
  const sampleIn = g.input!.find((v) => v.name === 'sample')!, out = g.output![0]!;
  const [unetIn, unetOut] = ['step_fold/unet_sample', 'step_fold/unet_prediction'];
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((x) => (x === 'sample' ? unetIn : x));
    n.output = (n.output ?? []).map((x) => (x === out.name ? unetOut : x));
  }
  const nodes: Node[] = [];
  const op = nodeWriter(nodes, 'step_fold');
  const inits: Tensor[] = [
    { name: 'step_fold/zero', dataType: INT64, dims: [1], int64Data: [0] },
    { name: 'step_fold/one', dataType: INT64, dims: [1], int64Data: [1] },
    { name: 'step_fold/axis0', dataType: INT64, dims: [1], int64Data: [0] },
  ];
  const rows = op('Cast', ['unet_batch'], [makeAttr('to', { i: INT64 })]);
  const batch = op('Slice', [op('Shape', ['sample']), 'step_fold/zero', 'step_fold/one', 'step_fold/axis0']);
  // the UNet's sample: the latents, twice under guidance ([uncond; cond] rows), scaled
  const doubled = op('Slice', [op('Concat', ['sample', 'sample'], [makeAttr('axis', { i: 0 })]), 'step_fold/zero', rows, 'step_fold/axis0']);
  const scaled = op('Mul', [doubled, 'sample_scale']);
  nodes.push(elemOf(sampleIn) === FLOAT16
    ? { opType: 'Cast', input: [scaled], output: [unetIn], name: 'step_fold/sample_cast', attribute: [makeAttr('to', { i: FLOAT16 })] }
    : { opType: 'Identity', input: [scaled], output: [unetIn], name: 'step_fold/sample' });
  const tail: Node[] = [];
  const post = nodeWriter(tail, 'step_fold/step');
  const pred = elemOf(out) === FLOAT16 ? post('Cast', [unetOut], [makeAttr('to', { i: FLOAT })]) : unetOut;
  const c = coefficientNodes(post, tail, 'coefficients', 'step', 'step_fold/step');
  // guidance: uncond + g (cond - uncond) over rows [0, B) and [n - B, n); unguided (n = B) both are the prediction
  const uncond = post('Slice', [pred, 'step_fold/zero', batch, 'step_fold/axis0']);
  const cond = post('Slice', [pred, post('Sub', [rows, batch]), rows, 'step_fold/axis0']);
  const eps = post('Add', [uncond, post('Mul', [c.g, post('Sub', [cond, uncond])])]);
  const { x0, latents } = stepNodes(post, c, { eps, x: 'sample', x0Prev: 'x0_prev', z: 'z', clip: ['clip_lo', 'clip_hi'] });
  tail.push({ opType: 'Identity', input: [latents], output: [FOLDED_OUTPUTS[0]], name: 'step_fold/next_latents' }, { opType: 'Identity', input: [x0], output: [FOLDED_OUTPUTS[1]], name: 'step_fold/x0' });
  g.node = [...nodes, ...(g.node ?? []), ...tail];
  g.initializer = [...(g.initializer ?? []), ...inits];
  const dims = (sampleIn.type?.tensorType?.shape?.dim ?? []).map((d, i) => (i === 0 ? 'batch' : d.dimValue != null ? Number(d.dimValue) : (d.dimParam ?? `d${i}`)));
  const latentsInfo = (name: string) => vi(name, FLOAT, dims);
  g.input = [
    ...g.input!.map((v) => (v === sampleIn ? latentsInfo('sample') : v)),
    vi('unet_batch', INT32, [1]), vi('sample_scale', FLOAT, [1]), vi('coefficients', FLOAT, ['steps', 13]), vi('step', INT32, [1]),
    latentsInfo('x0_prev'), latentsInfo('z'), vi('clip_lo', FLOAT, []), vi('clip_hi', FLOAT, []),
  ];
  g.output = [latentsInfo(FOLDED_OUTPUTS[0]), latentsInfo(FOLDED_OUTPUTS[1]), ...g.output!.slice(1)];
  g.valueInfo = (g.valueInfo ?? []).filter((v) => v.name !== out.name);
}
