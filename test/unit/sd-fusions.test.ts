import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { SD_FUSION_PARTS, sdFusions as descriptor } from '../../app/accelerations/sd-fusions';
import { Variant } from '../../app/variant';
import { locateBranch } from '../../engine/accelerations/deepcache';
import { FP16_BROKEN, fuseSd, KERNELS, sdFusions } from '../../engine/accelerations/sd-fusions';
import { Engine } from '../../engine/engine';
import { fuseAttention, packAttention } from '../../engine/onnx/attention-fusion';
import { fuseBiasAdd } from '../../engine/onnx/bias-add-fusion';
import { fuseBiasSplitGelu } from '../../engine/onnx/bias-split-gelu-fusion';
import { OnnxGraph, attrInt } from '../../engine/onnx/graph';
import { computesInHalf, convertToHalf } from '../../engine/onnx/fp16';
import { cudaGroupNormSupports, fuseGroupNorm } from '../../engine/onnx/group-norm-fusion';
import { readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';
import { FLOAT, readFloats } from '../../engine/onnx/tensor-data';
import { FIXTURE_MODEL } from '../parity/reference';

const UNET = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const tmp = () => mkdtempSync(join(tmpdir(), 'sdf-'));
const ops = (m: ModelProto, op: string) => m.graph!.node!.filter((n) => n.opType === op);

/** What the CPU provider says to a fused graph: opened and run once on random inputs. */
async function cpuVerdict(m: ModelProto): Promise<string> {
  const path = join(tmp(), 'model.onnx');
  writeModel(path, m);
  try {
    const s = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 4 });
    const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    await s.run({
      sample: new ort.Tensor('float32', rnd(2 * 4 * 8 * 8), [2, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', rnd(2 * 77 * 32), [2, 77, 32]),
    });
    return 'runs';
  } catch (e) {
    return String((e as Error).message).split('\n')[0]!;
  }
}

describe('SD fusions: each rewrite on the fixture UNet', () => {
  const src = readModel(UNET);
  const g = new OnnxGraph(src.graph!);

  it('GroupNorm: every exported nn.GroupNorm becomes one NHWC GroupNorm, SiLU folded in where it follows', () => {
    const { model, report } = fuseGroupNorm(readModel(UNET), UNET);
    const norms = ops(src, 'InstanceNormalization');
    const silus = norms.filter((n) => {
      const add = g.consumers(g.consumers(g.consumers(n.output![0]!)[0]!.output![0]!)[0]!.output![0]!)[0]!;
      return g.consumers(add.output![0]!).some((c) => c.opType === 'Sigmoid');
    });
    expect(report.skipped).toEqual([]);
    expect(ops(model, 'GroupNorm')).toHaveLength(norms.length);
    expect(ops(model, 'InstanceNormalization')).toEqual([]);
    expect(ops(model, 'GroupNorm').filter((n) => attrInt(n, 'activation') === 1)).toHaveLength(silus.length);
    expect(ops(model, 'Sigmoid').length).toBe(ops(src, 'Sigmoid').length - silus.length);
    const fused = new OnnxGraph(model.graph!);
    for (const n of ops(model, 'GroupNorm')) {
      expect(n.domain).toBe('com.microsoft');
      expect(attrInt(n, 'channels_last')).toBe(1);
      expect(attrInt(n, 'groups')).toBeGreaterThan(0);
      // NCHW in and out: a Transpose on each side
      expect(fused.producer(n.input![0]!)?.opType).toBe('Transpose');
      expect(fused.consumers(n.output![0]!).map((c) => c.opType)).toEqual(['Transpose']);
      expect(fused.initializer(n.input![1]!)!.dims!.map(Number)).toHaveLength(1);
    }
    // γ kept value for value (down_blocks.0/resnets.0/norm1)
    const gn = ops(model, 'GroupNorm').find((n) => n.name!.includes('/down_blocks.0/resnets.0/norm1/'))!;
    const mul = g.nodes.find((n) => n.name === '/m/down_blocks.0/resnets.0/norm1/Mul')!;
    const gamma = g.weight(mul.input![1]!) ?? g.weight(g.producer(mul.input![1]!)!.input![0]!);
    expect(Array.from(readFloats(fused.initializer(gn.input![1]!)!, UNET))).toEqual(Array.from(readFloats(gamma!, UNET)));
  });

  it('BiasSplitGelu: every GEGLU (MatMul + bias, split, h · gelu(g)) becomes one node', () => {
    const { model, report } = fuseBiasSplitGelu(readModel(UNET), UNET, 'any');
    expect(report.skipped).toEqual([]);
    expect(report.fused).toHaveLength(ops(src, 'Erf').length);
    expect(ops(model, 'Erf')).toEqual([]);
    const fused = new OnnxGraph(model.graph!);
    for (const n of ops(model, 'BiasSplitGelu')) {
      const mm = fused.producer(n.input![0]!)!;
      expect(mm.opType).toBe('MatMul');
      // bias of the doubled width: [2 · D] for a [in, 2 · D] weight
      expect(Number(fused.weight(n.input![1]!)!.dims![0])).toBe(Number(fused.weight(mm.input![1]!)!.dims![1]));
    }
  });

  it("BiasSplitGelu and BiasAdd keep the fixture's GEGLUs (widths the CUDA kernels refuse), saying why", () => {
    expect(fuseBiasSplitGelu(readModel(UNET), UNET).report.skipped[0]).toEqual({
      scope: '/m/down_blocks.0/attentions.0/transformer_blocks.0/ff/net.0', reason: "projection width 128: onnxruntime's BiasSplitGelu kernel takes 2560, 5120, 10240 only",
    });
    expect(fuseBiasAdd(readModel(UNET)).report.skipped[0]!.reason).toBe("16 channels: onnxruntime's BiasAdd kernels take 320, 640, 1280 only");
  });

  it('packed attention: self-attention gets one QKV projection [B,S,N,3,H], cross-attention one KV [B,L,N,2,H], weights interleaved per head', () => {
    const fusedMha = fuseAttention(readModel(UNET)).model;
    const { model, report } = packAttention(fusedMha, UNET);
    expect(report.skipped).toEqual([]);
    expect(report.packed.filter((p) => p.kind === 'qkv')).toHaveLength(11);
    expect(report.packed.filter((p) => p.kind === 'kv')).toHaveLength(11);
    const fused = new OnnxGraph(model.graph!);
    const self = ops(model, 'MultiHeadAttention').find((n) => n.name!.includes('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/'))!;
    expect(self.input).toHaveLength(1);
    const shape = fused.initializer(fused.producer(self.input![0]!)!.input![1]!)!;
    const heads = attrInt(self, 'num_heads')!;
    const w = (name: string) => {
      const mm = g.nodes.find((n) => n.name === `/m/down_blocks.0/attentions.0/transformer_blocks.0/attn1/${name}/MatMul`)!;
      return g.weight(mm.input![1]!)!;
    };
    const [wq, wk, wv] = ['to_q', 'to_k', 'to_v'].map((n) => w(n));
    const cols = Number(wq!.dims![1]), hs = cols / heads;
    expect((shape.int64Data ?? []).map(Number)).toEqual([0, 0, heads, 3, hs]);
    const packed = fused.weight(fused.producer(fused.producer(self.input![0]!)!.input![0]!)!.input![1]!)!;
    const p = readFloats(packed, UNET), parts = [wq, wk, wv].map((t) => readFloats(t!, UNET));
    // row 1, head 1, value part, element 0 — and every element of row 0
    expect(p[1 * 3 * cols + (1 * 3 + 2) * hs]).toBe(parts[2]![1 * cols + hs]);
    for (let h = 0; h < heads; h++) for (let j = 0; j < 3; j++) for (let e = 0; e < hs; e++) {
      expect(p[(h * 3 + j) * hs + e]).toBe(parts[j]![h * hs + e]);
    }
    const cross = ops(model, 'MultiHeadAttention').find((n) => n.name!.includes('/attn2/'))!;
    expect(cross.input).toHaveLength(2);
    expect((fused.initializer(fused.producer(cross.input![1]!)!.input![1]!)!.int64Data ?? []).map(Number)).toEqual([0, 0, heads, 2, hs]);
  });

  it("the fused graphs pass onnxruntime's schema checks; the CPU provider has no kernels for them (the KERNELS table)", async () => {
    expect(await cpuVerdict(fuseGroupNorm(readModel(UNET), UNET).model)).toMatch(/Could not find an implementation for GroupNorm\(1\)/);
    expect(await cpuVerdict(fuseBiasSplitGelu(readModel(UNET), UNET, 'any').model)).toMatch(/Could not find an implementation for BiasSplitGelu\(1\)/);
    expect(await cpuVerdict(packAttention(fuseAttention(readModel(UNET)).model, UNET).model)).toMatch(/Packed QKV of shape \(B, L, N, 3, H\) not implemented for CPU/);
    expect([...KERNELS.groupNorm, ...KERNELS.biasSplitGelu, ...KERNELS.packedQkv]).not.toContain('cpu');
  });

  it('all parts together keep the module-path names DeepCache cuts by', () => {
    const { model, report } = fuseSd(readModel(UNET), UNET, [...SD_FUSION_PARTS]);
    expect(report).toEqual({ packedQkv: 22, groupNorm: 46, skipGroupNorm: 34, biasSplitGelu: 0, biasAdd: 0, nhwcConv: 72 });
    expect(locateBranch(model, 0, UNET)).toEqual(locateBranch(readModel(UNET), 0, UNET));
  });
});

describe('SD fusions as a variant option', () => {
  const engine = new Engine(tmp());
  afterAll(() => engine.release());
  const params = { prompt: 'a photo of an astronaut', negativePrompt: 'blurry', seed: 4, steps: 3, width: 64, height: 64 };

  it('on the CPU provider the variant is refused, naming the parts and where they run', async () => {
    const v = Variant.parse({ sdFusions: { packedQkv: false } });
    expect(sdFusions.validate!(v)).toBe(
      'sdFusions: groupNorm, skipGroupNorm, biasSplitGelu, biasAdd, nhwcConv need onnxruntime kernels the cpu provider lacks (groupNorm runs on cuda, skipGroupNorm runs on cuda, biasSplitGelu runs on cuda/webgpu, biasAdd runs on cuda/webgpu, nhwcConv runs on cuda); allow CPU fallback to skip them',
    );
    expect(sdFusions.validate!(Variant.parse({ sdFusions: { packedQkv: false, groupNorm: false, skipGroupNorm: false, nhwcConv: false }, provider: 'webgpu' }))).toBeUndefined();
    expect(sdFusions.validate!(Variant.parse({ sdFusions: {}, provider: 'cuda' }))).toBeUndefined();
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { sdFusions: {} } })).rejects.toThrow(/sdFusions: packedQkv, groupNorm, skipGroupNorm, biasSplitGelu, biasAdd, nhwcConv need onnxruntime kernels/);
  });

  it('with CPU fallback the parts are skipped, said so, and the image is the plain one', async () => {
    const plain = await engine.run({ model: FIXTURE_MODEL, params, variant: {} });
    const r = await engine.run({ model: FIXTURE_MODEL, params, variant: { sdFusions: {}, allowFallback: true } });
    expect(r.result.summary).toContain('SD fusions: none applied; skipped on cpu (no kernels): packedQkv, groupNorm, skipGroupNorm, biasSplitGelu, biasAdd, nhwcConv');
    expect(r.images[0]!.data).toEqual(plain.images[0]!.data);
  });

  it('options and flags: no empty part list, a clear error for an unknown part', () => {
    const none = { packedQkv: false, groupNorm: false, skipGroupNorm: false, biasSplitGelu: false, biasAdd: false, nhwcConv: false };
    expect(() => Variant.parse({ sdFusions: none })).toThrow('switch on at least one part');
    expect(() => Variant.parse({ sdFusions: { nhwc: true } })).toThrow();
    const flag = descriptor.flags[0]!;
    expect(flag.parse!('groupNorm')).toEqual({ ...none, groupNorm: true });
    expect(flag.parse!('skipGroupNorm, nhwcConv')).toEqual({ ...none, skipGroupNorm: true, nhwcConv: true });
    expect(flag.parse!('all')).toEqual(Object.fromEntries(Object.keys(none).map((k) => [k, true])));
    expect(() => flag.parse!('groupnorm,bogus')).toThrow('--sd-fusions takes "all" or a comma list of packedQkv, groupNorm, skipGroupNorm, biasSplitGelu, biasAdd, nhwcConv; got "groupnorm,bogus"');
  });

  it('the CLI flag: --sd-fusions on the CPU is refused with the reason, and runs (skipping) with --allow-fallback', async () => {
    const cli = (...a: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', 'generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '2', '--width', '64', '--height', '64', '--out', join(tmp(), 'x.png'), '--json', ...a], { cwd: join(__dirname, '../..') });
    await expect(cli('--sd-fusions', 'groupNorm')).rejects.toMatchObject({ stderr: expect.stringContaining('sdFusions: groupNorm need onnxruntime kernels the cpu provider lacks (groupNorm runs on cuda)') });
    const { stdout } = await cli('--sd-fusions', 'all', '--allow-fallback');
    expect(JSON.parse(stdout.trim()).summary).toContain('skipped on cpu (no kernels): packedQkv, groupNorm, skipGroupNorm, biasSplitGelu, biasAdd, nhwcConv');
  });
});

describe('GroupNorm fusion: 4-D inputs only', () => {
  it("leaves the VAE's mid-block attention norm ([B, C, HW], γ [C, 1]) alone, with the reason (CUDA refused it fused)", () => {
    const file = join(FIXTURE_MODEL, 'vae_decoder', 'model.onnx');
    const { model, report } = fuseGroupNorm(readModel(file), file);
    expect(report.skipped).toEqual([{ scope: '/decoder/mid_block/attentions.0/group_norm', reason: 'γ has shape [32,1]: the input is not 4-D NCHW' }]);
    expect(report.fused.length).toBe(21);
    expect(model.graph!.node!.some((n) => n.name === '/decoder/mid_block/attentions.0/group_norm/GroupNorm')).toBe(false);
  });

  it("γ and β are float32 in an fp16 graph (CUDA's kernel reads them as float: the H200 refused fp16 ones)", () => {
    const half = join(tmp(), 'model.onnx');
    convertToHalf(readModel(UNET), UNET, half);
    const m = readModel(half);
    expect(computesInHalf(m)).toBe(true);
    const { model, report } = fuseGroupNorm(m, half);
    expect(report.fused.length).toBeGreaterThan(0);
    const g2 = new OnnxGraph(model.graph!);
    for (const n of ops(model, 'GroupNorm')) for (const i of [1, 2]) expect(g2.initializer(n.input![i]!)!.dataType).toBe(FLOAT);
  });

  it("leaves norms CUDA's kernel cannot run (odd channels per group) alone: the embedded model's 32 channels in 32 groups", () => {
    const file = join(__dirname, '../../assets/models/emoji-sd/unet/model.onnx');
    const { report } = fuseGroupNorm(readModel(file), file);
    const count = (r: string) => report.skipped.filter((s) => s.reason === r).length;
    expect(count("32 channels in 32 groups: CUDA's GroupNorm needs an even count of channels per group (1)")).toBe(14);
    expect(count("96 channels in 32 groups: CUDA's GroupNorm needs an even count of channels per group (3)")).toBe(2); // up block: 64 + 32 concatenated
    expect(report.skipped.length).toBe(16);
    expect(report.fused.length).toBe(30); // the 64-, 128- and 192-channel norms
    expect(cudaGroupNormSupports(320, 32)).toBeUndefined(); // SD1.5's widths: 10 to 80 channels a group
    expect(cudaGroupNormSupports(2560, 32)).toBeUndefined();
    expect(cudaGroupNormSupports(96, 32)).toMatch(/even count .* \(3\)/);
    expect(cudaGroupNormSupports(2048, 2)).toMatch(/at most 512 .* \(1024\)/);
  });
});

describe('SD fusions: parts whose kernel is wrong in fp16', () => {
  it('biasSplitGelu on WebGPU: runs in fp32, refused in fp16 with the reason (skipped with fallback)', () => {
    const v = (precision: string, allowFallback = false) => Variant.parse({ provider: 'webgpu', precision, allowFallback, sdFusions: { packedQkv: false, groupNorm: false, skipGroupNorm: false, nhwcConv: false, biasAdd: false } });
    expect(sdFusions.validate!(v('fp32'))).toBeUndefined();
    expect(sdFusions.validate!(v('fp16'))).toBe('sdFusions: biasSplitGelu need onnxruntime kernels the webgpu provider lacks (biasSplitGelu is wrong in fp16 on webgpu); allow CPU fallback to skip them');
    expect(sdFusions.validate!(v('fp16', true))).toBeUndefined();
    expect(FP16_BROKEN.biasSplitGelu?.has('cuda')).toBeFalsy();
  });
});
