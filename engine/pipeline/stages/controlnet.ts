import { join } from 'node:path';
import { canny } from '../../../app/canny';
import type { ResolvedParams } from '../../../app/contract';
import { controlKeep, ControlNetUnit, type ControlNetParams } from '../../../app/controlnet';
import { SHALLOW } from '../../accelerations/deepcache';
import { resizeImage } from '../../image/resize';
import { toRgb8, type RgbImage } from '../../image/rgb';
import type { LoadedModel } from '../../model/model';
import { DOWN_RESIDUAL, MID_RESIDUAL } from '../../onnx/residual-inputs';
import type { Denoiser, Feeds, Tensor } from '../denoiser';
import { condHalf, repeat } from '../loop';
import { graphOf, type Graph } from '../session-runner';

/**
 * ControlNet as a stage (diffusers' StableDiffusionControlNetPipeline, MultiControlNetModel): a
 * Denoiser wrapper that runs each ControlNet on the same sample, timestep and embeddings as the
 * UNet, its control image repeated over the batch, at scale x controlnet_keep (0 outside its
 * [start, end] window: it still runs, as diffusers does), sums the residuals in order and feeds them
 * to the UNet's residual inputs. It sits innermost, next to the graph, so it sees DeepCache's route:
 * on cached (shallow) steps it runs again ('run') or hands on the last full step's residuals ('reuse').
 */
export const CONTROLNET_CLASS = 'OnnxStableDiffusionControlNetPipeline';
const DOWN_OUT = 'down_block_res_sample_';
const MID_OUT = 'mid_block_res_sample';

/** One ControlNet as the engine opened it: its graph and config (the folder's own, or a folder given by path). */
export interface ControlNetGraph {
  graph: Graph;
  config: Record<string, unknown>;
  /** How the error messages name it. */
  label: string;
}

export interface ControlStage {
  wrap(next: Denoiser): Denoiser;
  /** Resized maps, and after the loop how often the ControlNets ran (for the run's notices). */
  notices(): string[];
  onnxMs(): number;
}

/** The units a run uses: its params, or the ControlNet class's default (the folder's own ControlNet at scale 1). */
export function controlUnits(model: LoadedModel, p: ResolvedParams): ControlNetParams | undefined {
  if (p.controlnet) return p.controlnet;
  return model.className === CONTROLNET_CLASS ? { units: [ControlNetUnit.parse({})], onCachedSteps: 'run' } : undefined;
}

/**
 * Checks and prepares everything before any graph runs: each unit's graph and its fit to the UNet,
 * its control image (resized to the run's size with a notice; canny if asked), and returns the stage.
 */
export function controlStage(model: LoadedModel, p: ResolvedParams, steps: number, images: { controlImage?: RgbImage; controlImages?: RgbImage[] },
  opened: Record<string, ControlNetGraph> = {}): ControlStage | undefined {
  const cn = controlUnits(model, p);
  if (!cn) {
    if (images.controlImage || images.controlImages) throw new Error('a control image was given but no ControlNet: add params.controlnet (CLI: --controlnet <dir>), or use a folder whose model_index.json is an OnnxStableDiffusionControlNetPipeline');
    return undefined;
  }
  if (images.controlImages && images.controlImages.length !== cn.units.length) {
    throw new Error(`${images.controlImages.length} control images for ${cn.units.length} ControlNets: give one each (controlImages), or one for all (controlImage)`);
  }
  const unet = graphOf(model, 'unet');
  const notes: string[] = [];
  const units = cn.units.map((u, i) => {
    const name = `ControlNet ${i + 1}${u.dir ? ` (${u.dir})` : ''}`;
    const net = u.dir ? opened[u.dir] : ownControlNet(model);
    if (!net) throw new Error(`${name}: not opened for this run (the engine opens ControlNet folders given by path; generate() takes them in opts.controlnets)`);
    checkFits(model, unet, net, name);
    const given = images.controlImages?.[i] ?? images.controlImage;
    if (!given) throw new Error(`${name}: no control image (inputs.controlImage for every ControlNet, or inputs.controlImages with one each; CLI: --control-image <png>)`);
    let img = given;
    if (img.width !== p.width || img.height !== p.height) {
      notes.push(`${name}: control image resized from ${img.width}x${img.height} to ${p.width}x${p.height} (bilinear)`);
      img = resizeImage(img, p.width, p.height);
    }
    if (u.preprocess === 'canny') img = cannyImage(img, u.low, u.high);
    const nchw = toNchw(img), byRows = new Map<number, Tensor>();
    const cond = (rows: number): Tensor => byRows.get(rows) ?? byRows.set(rows, { data: repeat(nchw.data, rows), dims: [rows, ...nchw.dims.slice(1)] }).get(rows)!;
    return { u, net, cond };
  });
  let runs = 0, reused = 0, last: Feeds | undefined;
  // graphs' clocks are cumulative over a warm session: this run's share only
  const before = units.reduce((a, x) => a + x.net.graph.onnxMs, 0);
  const ms = (): number => units.reduce((a, x) => a + x.net.graph.onnxMs, 0) - before;
  return {
    notices: () => [...notes, ...(runs + reused ? [`ControlNet: ${units.length} net${units.length > 1 ? 's' : ''} ran on ${runs} of ${runs + reused} steps, ${ms().toFixed(0)} ms in onnxruntime${reused ? ` (${reused} DeepCache cached steps reused the last full step's residuals)` : ''}`] : [])],
    onnxMs: ms,
    wrap: (next) => async (step, t, sample, feeds, route) => {
      if (route?.graph === SHALLOW && cn.onCachedSteps === 'reuse' && last) {
        reused++;
        const fit = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, v.dims[0] === sample.dims[0] ? v : condHalf(v)]));
        return next(step, t, sample, { ...feeds, ...fit }, route);
      }
      runs++;
      let sum: Feeds | undefined;
      for (const { u, net, cond } of units) {
        const scale = u.scale * controlKeep(step, steps, u.start, u.end);
        const out = await runControlNet(net, t, sample, feeds.encoder_hidden_states!, cond(sample.dims[0]!), scale);
        sum = sum ? addFeeds(sum, out) : out;
      }
      last = sum;
      return next(step, t, sample, { ...feeds, ...sum }, route);
    },
  };
}

function ownControlNet(model: LoadedModel): ControlNetGraph | undefined {
  if (!model.sessions.controlnet) return undefined;
  return { graph: graphOf(model, 'controlnet'), config: model.components.controlnet?.config ?? {}, label: join(model.dir, 'controlnet') };
}

/** A ControlNet that cannot feed this UNet is refused before any step: widths, channels and residual counts. */
function checkFits(model: LoadedModel, unet: Graph, net: ControlNetGraph, name: string): void {
  const uc = model.components.unet?.config ?? {}, cc = net.config;
  for (const key of ['cross_attention_dim', 'block_out_channels', 'layers_per_block', 'in_channels'] as const) {
    const a = JSON.stringify(cc[key]), b = JSON.stringify(uc[key]);
    if (cc[key] !== undefined && uc[key] !== undefined && a !== b) {
      throw new Error(`${name}: its ${key} is ${a} but the UNet's is ${b} (${join(model.dir, 'unet', 'config.json')}): this ControlNet was made for another UNet`);
    }
  }
  const downs = net.graph.session.outputNames.filter((o) => o.startsWith(DOWN_OUT)).length;
  const want = unet.session.inputNames.filter((i) => i.startsWith(DOWN_RESIDUAL)).length;
  if (!net.graph.session.outputNames.includes(MID_OUT) || downs === 0) {
    throw new Error(`${net.label}: outputs ${net.graph.session.outputNames.join(', ')}; a ControlNet graph gives ${DOWN_OUT}0..N-1 and ${MID_OUT}`);
  }
  if (want === 0 || !unet.session.inputNames.includes(MID_RESIDUAL)) throw new Error(`${unet.file}: has no ControlNet residual inputs (the engine adds them by surgery when a run has a ControlNet; was it prepared without one?)`);
  if (downs !== want) throw new Error(`${name}: gives ${downs} down-block residuals but the UNet takes ${want}: this ControlNet was made for another UNet`);
  const ehs = (g: Graph) => g.session.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
  const w = (g: Graph) => { const m = ehs(g); return m?.isTensor ? m.shape[2] : undefined; };
  const [wc, wu] = [w(net.graph), w(unet)];
  if (typeof wc === 'number' && typeof wu === 'number' && wc !== wu) throw new Error(`${name}: takes encoder_hidden_states ${wc} wide but the UNet's are ${wu} wide (cross-attention width)`);
}

async function runControlNet(net: ControlNetGraph, t: number, sample: Tensor, ehs: Tensor, image: Tensor, scale: number): Promise<Feeds> {
  const g = net.graph;
  const dims = (name: string) => (g.session.inputMetadata.find((m) => m.name === name && m.isTensor) as { shape: readonly unknown[] } | undefined)?.shape.length === 0 ? [] : [1];
  const out = await g.runAll({ sample, timestep: { data: Float32Array.of(t), dims: dims('timestep') }, encoder_hidden_states: ehs, controlnet_cond: image,
    conditioning_scale: { data: Float32Array.of(scale), dims: dims('conditioning_scale') } }, ['encoder_hidden_states', 'controlnet_cond']);
  const feeds: Feeds = {};
  for (const [k, v] of Object.entries(out)) {
    if (k === MID_OUT) feeds[MID_RESIDUAL] = v;
    else if (k.startsWith(DOWN_OUT)) feeds[`${DOWN_RESIDUAL}${k.slice(DOWN_OUT.length)}`] = v;
  }
  return feeds;
}

/** MultiControlNet: residuals summed in order (float32, as torch adds them). */
function addFeeds(a: Feeds, b: Feeds): Feeds {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => {
    const w = b[k]!, out = new Float32Array(v.data.length);
    for (let i = 0; i < out.length; i++) out[i] = v.data[i]! + w.data[i]!;
    return [k, { data: out, dims: v.dims }];
  }));
}

/** HWC [0, 1] -> [1, 3, H, W] in [0, 1] (ControlNet maps are not normalised to [-1, 1]). */
function toNchw(img: RgbImage): Tensor {
  const n = img.width * img.height, out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) for (let p = 0; p < n; p++) out[c * n + p] = img.data[p * 3 + c]!;
  return { data: out, dims: [1, 3, img.height, img.width] };
}

/** Canny edges of an engine image (its 8-bit values, as a PNG held them) as a white-on-black RGB map. */
export function cannyImage(img: RgbImage, low: number, high: number): RgbImage {
  const e = canny(toRgb8(img).data, img.width, img.height, 3, low, high);
  const data = new Float32Array(e.length * 3);
  for (let p = 0; p < e.length; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = e[p]!;
  return { width: img.width, height: img.height, data };
}
