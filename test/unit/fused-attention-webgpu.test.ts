import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fusedAttention } from '../../engine/accelerations/fused-attention';
import type { PrepareContext } from '../../engine/accelerations/acceleration';
import { FIXTURE_MODEL } from '../parity/reference';

describe('fused attention on webgpu', () => {
  it("fuses the UNet's blocks and leaves the VAE's alone, saying so (its fused kernel exceeds WebGPU's workgroup storage)", async () => {
    const graphs = { unet: join(FIXTURE_MODEL, 'unet', 'model.onnx'), vae_decoder: join(FIXTURE_MODEL, 'vae_decoder', 'model.onnx') };
    const ctx = { provider: 'webgpu', graphs: { ...graphs }, cacheDir: mkdtempSync(join(tmpdir(), 'fa-webgpu-')), timings: {}, notes: {} } as unknown as PrepareContext;
    await fusedAttention.prepare!(ctx);
    expect(ctx.graphs.unet).not.toBe(graphs.unet);
    expect(ctx.graphs.vae_decoder).toBe(graphs.vae_decoder);
    expect(ctx.notes['fused-attention']).toMatch(/unet \d+\/\d+ .*VAE attention left unfused on webgpu/);
  });
});
