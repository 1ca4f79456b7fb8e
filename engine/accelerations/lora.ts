import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoraRef, Variant } from '../../app/variant';
import { linkExternalData } from '../onnx/graph-cache';
import { parseLora, type LoraUpdate } from '../lora/keys';
import { readSafetensors } from '../lora/safetensors';
import { mapSgmNames } from '../lora/sgm';
import { weightNodes, type WeightNode } from '../onnx/graph';
import { cloneModel, readModel, writeModel, type ModelProto } from '../onnx/model-proto';
import { readFloats, writeFloats } from '../onnx/tensor-data';
import type { Acceleration, PrepareContext } from './acceleration';

/** Parsed base graphs and LoRA files stay in memory, so switching LoRAs re-merges without re-reading the base. */
const bases = new Map<string, ModelProto>();
const files = new Map<string, { mtime: number; updates: LoraUpdate[] }>();

function loadLora(path: string): LoraUpdate[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`${path}: LoRA file not found`);
  const hit = files.get(path);
  if (hit && hit.mtime === st.mtimeMs) return hit.updates;
  const updates = parseLora(path, readSafetensors(path).tensors);
  files.set(path, { mtime: st.mtimeMs, updates });
  return updates;
}

/** Index of weight nodes by every dotted and kohya-style suffix of their module path (unique ones only). */
function index(nodes: Map<string, WeightNode>): Map<string, WeightNode | null> {
  const idx = new Map<string, WeightNode | null>();
  for (const n of nodes.values()) {
    const parts = n.module.split('.');
    for (let i = 0; i < parts.length; i++) { // to the last part: top-level modules (conv_in, conv_out)
      const dotted = parts.slice(i).join('.');
      for (const k of [dotted, dotted.replace(/\./g, '_')]) idx.set(k, idx.has(k) && idx.get(k) !== n ? null : n);
    }
  }
  return idx;
}

function lookup(idx: Map<string, WeightNode | null>, u: LoraUpdate): WeightNode | undefined {
  const names = u.kohya ? [u.module, u.module.replace(/^text_model_/, '')] : [u.module, u.module.replace(/^text_model\./, '')];
  for (const n of names) {
    const hit = idx.get(n);
    if (hit) return hit;
  }
  return undefined;
}

/** W += weight · (alpha / rank) · up @ down, in the node's own layout; shapes must agree. */
function merge(node: WeightNode, u: LoraUpdate, weight: number, base: Float32Array, file: string): void {
  const rank = u.down.shape[0]!;
  const scale = weight * ((u.alpha ?? rank) / rank);
  const dims = (node.tensor.dims ?? []).map(Number);
  const [out, inn] = node.op === 'Conv' ? [dims[0]!, dims.slice(1).reduce((a, b) => a * b, 1)] : node.transposed ? [dims[1]!, dims[0]!] : [dims[0]!, dims[1]!];
  const downCols = u.down.data.length / rank, upRows = u.up.shape[0]!;
  if (upRows !== out || downCols !== inn || u.up.data.length !== out * rank) {
    throw new Error(`${file}: ${u.module} is [${u.up.shape}]x[${u.down.shape}] but the model's ${node.module} weight is [${dims}]; this LoRA is for another architecture`);
  }
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inn; i++) {
      let d = 0;
      for (let r = 0; r < rank; r++) d += u.up.data[o * rank + r]! * u.down.data[r * inn + i]!;
      base[node.transposed ? i * out + o : o * inn + i]! += scale * d;
    }
  }
}

/** Merges a LoRA stack into one graph; every update must find its weight, or the error lists the misses. */
export function mergeInto(model: ModelProto, modelPath: string, stack: { ref: LoraRef; updates: LoraUpdate[] }[], component: LoraUpdate['component']): ModelProto {
  const copy = cloneModel(model);
  const idx = index(weightNodes(copy.graph!));
  const merged = new Map<WeightNode, Float32Array>();
  for (const { ref, updates } of stack) {
    const mine = updates.filter((u) => u.component === component);
    const missing = mine.filter((u) => !lookup(idx, u)).map((u) => u.module);
    if (missing.length) {
      throw new Error(`${ref.path}: ${missing.length} of ${mine.length} ${component} modules have no weight in ${modelPath}: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''} (a LoRA for another architecture?)`);
    }
    for (const u of mine) {
      const node = lookup(idx, u)!;
      if (!merged.has(node)) merged.set(node, readFloats(node.tensor, modelPath).slice());
      merge(node, u, ref.weight, merged.get(node)!, ref.path);
    }
  }
  for (const [node, values] of merged) writeFloats(node.tensor, values);
  return copy;
}

function keyOf(v: Variant, graphs: Record<string, string>): string {
  const h = createHash('sha256');
  for (const part of PARTS) h.update(`${graphs[part] ?? ''}\0`);
  for (const l of v.loras) {
    const st = statSync(l.path);
    h.update(`${l.path}\0${st.mtimeMs}\0${st.size}\0${l.weight}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

/** The graphs a LoRA can change: the UNet and the text encoders (SDXL has two). */
const PARTS = ['unet', 'text_encoder', 'text_encoder_2'] as const;

/**
 * A LoRA made for the other text-encoder layout is refused by its keys, before any merge: SDXL's
 * (lora_te1_/lora_te2_, text_encoder_2.) on a one-encoder folder, SD 1.x/2.x's kohya lora_te_ on SDXL.
 */
function checkLayout(ctx: PrepareContext, path: string, updates: LoraUpdate[]): void {
  const sdxl = ctx.graphs.text_encoder_2 !== undefined;
  const count = (f: (u: LoraUpdate) => boolean) => {
    const hits = updates.filter(f);
    return hits.length ? `${hits.length} ${hits[0]!.prefix}… keys (e.g. ${hits[0]!.prefix}${hits[0]!.module})` : '';
  };
  const te2 = count((u) => u.component === 'text_encoder_2'), te1 = count((u) => u.prefix === 'lora_te1_');
  if (!sdxl && (te2 || te1)) {
    throw new Error(`${path}: an SDXL LoRA (${[te1, te2].filter(Boolean).join(', ')}), but ${ctx.modelDir} has one text encoder (no text_encoder_2: an SD 1.x/2.x model)`);
  }
  const sd = count((u) => u.prefix === 'lora_te_');
  if (sdxl && sd) throw new Error(`${path}: an SD 1.x/2.x LoRA (${sd}: its single text encoder), but ${ctx.modelDir} is SDXL (text_encoder + text_encoder_2; its LoRAs use lora_te1_/lora_te2_)`);
}

/** LoRA stack: several LoRAs with weights merged into the UNet and text encoder weights. */
export async function applyLoras(ctx: PrepareContext, refs: LoraRef[], tag: string): Promise<void> {
  const t0 = performance.now();
  const stack = refs.map((ref) => ({ ref, updates: mapSgmNames(loadLora(ref.path), ref.path, ctx.modelDir) }));
  for (const s of stack) checkLayout(ctx, s.ref.path, s.updates);
  const t1 = performance.now();
  const dir = join(ctx.cacheDir, `${tag}-${keyOf({ ...ctx.variant, loras: refs }, ctx.graphs)}`);
  for (const part of PARTS) {
    const users = stack.filter((s) => s.updates.some((u) => u.component === part));
    if (!users.length) continue;
    if (!ctx.graphs[part]) throw new Error(`${users[0]!.ref.path}: has ${part} weights, but ${ctx.modelDir} has no ${part}`);
    const src = ctx.graphs[part], dst = join(dir, `${part}.onnx`);
    if (!existsSync(dst)) {
      if (!bases.has(src)) bases.set(src, readModel(src));
      const merged = mergeInto(bases.get(src)!, src, stack, part);
      writeModel(dst, merged);
      linkExternalData(merged, src, dir); // untouched external weights stay in the original data file
    }
    ctx.graphs[part] = dst;
  }
  ctx.timings[`${tag}.loadMs`] = t1 - t0;
  ctx.timings[`${tag}.applyMs`] = performance.now() - t1;
}

export const lora: Acceleration = {
  id: 'lora',
  enabled: (v) => v.loras.length > 0,
  sessionKey: (v) => v.loras,
  prepare: (ctx) => applyLoras(ctx, ctx.variant.loras, 'lora'),
};
