import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PrepareContext } from '../../engine/accelerations/acceleration';
import { addCondTwins } from '../../engine/accelerations/cfg';
import { openSession } from '../../engine/model/onnx-session';
import { condTwin, graphDenoiser } from '../../engine/pipeline/denoiser';
import { Graph } from '../../engine/pipeline/session-runner';

const UNET = fileURLToPath(new URL('../fixtures/tiny-sd/unet/model.onnx', import.meta.url));
const input = (batch: number) => ({
  sample: { data: Float32Array.from({ length: batch * 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), dims: [batch, 4, 8, 8] },
  feeds: { encoder_hidden_states: { data: Float32Array.from({ length: batch * 77 * 32 }, (_, i) => Math.cos(i * 0.11)), dims: [batch, 77, 32] } },
});

describe('CFG truncation on CUDA: the unguided steps in sessions of their own', () => {
  it('twins every UNet graph (not the other components), without the first session\'s optimised-graph output', () => {
    const ctx = {
      graphs: { text_encoder: 'te.onnx', unet: 'full.onnx', vae_decoder: 'vae.onnx', unet_shallow: 'shallow.onnx' },
      graphOptions: { unet: { optimizedModelFilePath: '/cache/unet-opt.onnx', logSeverityLevel: 3 as const }, unet_shallow: { extra: { session: { intra_op: { allow_spinning: '0' } } } } },
    } as unknown as PrepareContext;
    addCondTwins(ctx);
    expect(ctx.graphs).toMatchObject({ [condTwin('unet')]: 'full.onnx', [condTwin('unet_shallow')]: 'shallow.onnx' });
    expect(Object.keys(ctx.graphs)).toHaveLength(6);
    expect(ctx.graphOptions![condTwin('unet')]).toEqual({ logSeverityLevel: 3 });
    expect(ctx.graphOptions!.unet!.optimizedModelFilePath).toBe('/cache/unet-opt.onnx');
    expect(ctx.graphOptions![condTwin('unet_shallow')]).toEqual(ctx.graphOptions!.unet_shallow);
  });

  it('a run\'s first batch goes to the graph, another batch to its twin, with the same output', async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => openSession(UNET, { executionProviders: ['cpu'] })));
    const main = new Graph(a!, 'unet', a!.inputNames), twin = new Graph(b!, 'unet:cond', b!.inputNames), alone = new Graph(c!, 'unet', c!.inputNames);
    const denoise = graphDenoiser(new Map([['unet', main], [condTwin('unet'), twin]]));
    const single = graphDenoiser(new Map([['unet', alone]]));
    const calls: string[] = [];
    for (const [step, batch] of [2, 2, 1, 1, 2].entries()) {
      const before = [main.onnxMs, twin.onnxMs];
      const { sample, feeds } = input(batch);
      const got = await denoise(step, 500 - step, sample, feeds);
      calls.push(main.onnxMs > before[0]! ? 'graph' : twin.onnxMs > before[1]! ? 'twin' : 'none');
      expect(got.prediction.data).toEqual((await single(step, 500 - step, sample, feeds)).prediction.data);
    }
    expect(calls).toEqual(['graph', 'graph', 'twin', 'twin', 'graph']);
    // a new run (a new denoiser) takes its own first batch as the guided one; without a twin, the graph runs every batch
    const other = graphDenoiser(new Map([['unet', main]]));
    const before = main.onnxMs;
    await other(0, 1, input(1).sample, input(1).feeds);
    expect(main.onnxMs).toBeGreaterThan(before);
    await Promise.all([a, b, c].map((s) => s!.release()));
  });
});
