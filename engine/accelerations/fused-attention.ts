import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Variant } from '../../app/variant';
import { fuseAttention, type FusionReport } from '../onnx/attention-fusion';
import { cachedRewrite, graphKey } from '../onnx/graph-cache';
import type { Acceleration, PrepareContext } from './acceleration';

const VERSION = 'mha-1';
/** Providers with a com.microsoft MultiHeadAttention kernel (elsewhere the fused node would run on the CPU). */
const MHA_PROVIDERS = new Set(['cpu', 'cuda', 'webgpu', 'dml']);
/** The text encoder's attention is causally masked, which the fusion leaves alone; the VAE's is not. */
const PARTS = ['unet', 'vae_decoder', 'vae_encoder'];
/**
 * WebGPU: the VAE's single-head attention over every latent pixel (4096 tokens at 512x512) fused fails to
 * build its compute pipeline (measured on an H200's Vulkan adapter: 65536 bytes of workgroup storage
 * against WebGPU's 49152), so there only the UNet's blocks are fused.
 */
const WEBGPU_PARTS = ['unet'];


/** Fuses one graph (or reuses the cached result); returns the report and the graph to open. */
export function fuseGraph(src: string, cacheDir: string, part: string): { path: string; report: FusionReport } {
  return cachedRewrite(src, join(cacheDir, 'fused-attention', `${part}-${graphKey(src, VERSION)}`), fuseAttention, (r) => r.fused.length > 0);
}

/**
 * Fused attention, the FlashAttention analogue: the exported softmax(q·kᵀ·s)·v subgraphs become one
 * com.microsoft.MultiHeadAttention node each (see engine/onnx/attention-fusion.ts). It runs
 * before DeepCache partitions the UNet, and keeps the module-path node names DeepCache cuts by.
 */
export const fusedAttention: Acceleration = {
  id: 'fused-attention',
  enabled: (v) => v.fusedAttention,
  sessionKey: (v) => v.fusedAttention,
  validate: (v: Variant) =>
    v.fusedAttention && !MHA_PROVIDERS.has(v.provider) && !v.allowFallback
      ? `fusedAttention needs onnxruntime's MultiHeadAttention kernel, which the ${v.provider} provider lacks (providers with it: ${[...MHA_PROVIDERS].join(', ')})`
      : undefined,
  async prepare(ctx: PrepareContext) {
    if (!MHA_PROVIDERS.has(ctx.provider)) throw new Error(`fusedAttention: the ${ctx.provider} provider has no MultiHeadAttention kernel`);
    const t0 = performance.now();
    const counts: string[] = [];
    const parts = ctx.provider === 'webgpu' ? WEBGPU_PARTS : PARTS;
    for (const part of parts) {
      const src = ctx.graphs[part];
      if (!src || !existsSync(src)) continue;
      const { path, report } = fuseGraph(src, ctx.cacheDir, part);
      if (part === 'unet' && report.fused.length === 0) {
        const why = report.skipped[0] ? `; first unfused: ${report.skipped[0].scope}: ${report.skipped[0].reason}` : ' (no Softmax in an attention scope)';
        throw new Error(`fusedAttention: no attention block of ${src} matches the exported scaled-dot-product pattern${why}`);
      }
      ctx.graphs[part] = path;
      const self = report.fused.filter((b) => b.kind === 'self').length;
      const split = part === 'unet' ? ` (${self} self, ${report.fused.length - self} cross)` : '';
      counts.push(`${part} ${report.fused.length}/${report.fused.length + report.skipped.length}${split}`);
    }
    ctx.timings['fused-attention.fuseMs'] = performance.now() - t0;
    const left = ctx.provider === 'webgpu' ? '; VAE attention left unfused on webgpu (its fused kernel exceeds WebGPU\'s workgroup storage)' : '';
    ctx.notes['fused-attention'] = `fused attention (MultiHeadAttention): ${counts.join(', ')} blocks${left}`;
  },
};
