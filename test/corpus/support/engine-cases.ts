import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { encode } from 'fast-png';
import { readPng } from '../../../engine/image/png';
import type { Engine } from '../../../engine/engine';
import { FIXTURE_MODEL } from '../../parity/reference';
import { writeSafetensors } from '../../support/safetensors-writer';

/**
 * The engine half of issue 11's hostile-input corpus: every input is written at test time into a
 * temp dir (no binaries committed), from a copy of the tiny fixture model broken one way per case.
 */
export interface EngineCase {
  group: 'model folder' | 'scheduler config' | 'tokenizer' | 'lora' | 'run params' | 'image' | 'cli';
  name: string;
  /** The message the engine must give; `ok` cases must succeed. */
  expect: RegExp | 'ok';
  /** What else this case needs before it passes (another branch, or wiring the coordinator does). */
  dependsOn?: Needs;
  /** Bound on the whole case; a named pipe must be refused, never waited on. */
  withinMs: number;
  run(ctx: CaseContext): Promise<unknown>;
}

export interface CaseContext {
  /** A fresh folder for this case's inputs. */
  dir: string;
  engine: Engine;
  /** An intact copy of the fixture model (shared, never edited). */
  goodModel: string;
}

/** The changes outside this branch some cases wait for. */
export const NEEDS = {
  graph: "the graph branch's readers (engine/lora/safetensors.ts, decodePng limits, readPng through engine/io)",
  contract: "the pipeline branch's contract limits (app/contract.ts)",
  hash: 'modelHash reading through readFileChunks (engine/model/folder.ts)',
  config: 'component configs that are not regular files refused, not skipped (engine/model/components.ts)',
} as const;
type Needs = (typeof NEEDS)[keyof typeof NEEDS];

/** One edit of a model copy: what a relative path becomes. */
type Edit = (path: string) => void;
export const text = (s: string | Buffer): Edit => (p) => writeFileSync(p, s);
export const fifo: Edit = (p) => execFileSync('mkfifo', [p]);
export const folder: Edit = (p) => mkdirSync(p);
export const remove: Edit = () => undefined;
/** A file that declares `bytes` of size without taking the disk. */
export const sparse = (bytes: number): Edit => (p) => {
  writeFileSync(p, '');
  truncateSync(p, bytes);
};
const editJson = (rel: string, change: (v: Record<string, unknown>) => Record<string, unknown>): Edit =>
  text(JSON.stringify(change(JSON.parse(readFileSync(join(FIXTURE_MODEL, rel), 'utf8')) as Record<string, unknown>)));
const schedulerEdit = (keys: Record<string, unknown>): Record<string, Edit> => ({
  'scheduler/scheduler_config.json': editJson('scheduler/scheduler_config.json', (c) => ({ ...c, ...keys })),
});

/** A copy of the fixture in `dir`: small files copied, graphs linked, then `edits` applied. */
export function modelCopy(dir: string, edits: Record<string, Edit> = {}): string {
  const root = join(dir, 'model');
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(FIXTURE_MODEL, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        mkdirSync(join(root, r), { recursive: true });
        walk(r);
      } else if (!(r in edits)) {
        (r.endsWith('.onnx') ? symlinkSync : copyFileSync)(join(FIXTURE_MODEL, r), join(root, r));
      }
    }
  };
  mkdirSync(root, { recursive: true });
  walk('');
  for (const [r, edit] of Object.entries(edits)) edit(join(root, r));
  return root;
}

const PARAMS = { prompt: 'a cat', seed: 0, steps: 2, width: 64, height: 64, guidance: 1 };
const run = (ctx: CaseContext, model: string, params: Record<string, unknown> = {}, variant: Record<string, unknown> = {}) =>
  ctx.engine.run({ model, params: { ...PARAMS, ...params }, variant });
const folderCase = (name: string, edits: Record<string, Edit>, expect: RegExp, extra: Partial<EngineCase> = {}): EngineCase => ({
  group: 'model folder', name, expect, withinMs: 20_000, run: (ctx) => run(ctx, modelCopy(ctx.dir, edits)), ...extra,
});
const schedulerCase = (name: string, keys: Record<string, unknown>, expect: RegExp): EngineCase =>
  folderCase(name, schedulerEdit(keys), expect, { group: 'scheduler config' });
const FIFO = { withinMs: 2_000 };

// ---- LoRA files: a valid one is a UNet attention projection pair; each case breaks one thing
const LORA_KEY = 'lora_unet_down_blocks_0_attentions_0_proj_in';
function loraBytes(header: unknown, body: Buffer = Buffer.alloc(0), declaredLength?: bigint): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(h.length));
  return Buffer.concat([len, h, body]);
}
const f32 = (...v: number[]): Buffer => Buffer.from(Float32Array.from(v).buffer);
const loraCase = (name: string, make: (path: string) => void, expect: RegExp, extra: Partial<EngineCase> = {}): EngineCase => ({
  group: 'lora', name, expect, dependsOn: NEEDS.graph, withinMs: 20_000, ...extra,
  run: (ctx) => {
    const path = join(ctx.dir, 'lora.safetensors');
    make(path);
    return run(ctx, ctx.goodModel, {}, { loras: [{ path, weight: 1 }] });
  },
});

/** A valid 8-bit RGB PNG, grey (fast-png: independent of the engine's own encoder). */
const rgbPng = (width: number, height: number): Buffer =>
  Buffer.from(encode({ width, height, data: new Uint8Array(width * height * 3).fill(128), channels: 3, depth: 8 }));

// ---- images: a real 1x1 PNG whose IHDR is rewritten, so the header claims what the body does not hold
function pngDeclaring(width: number, height: number): Buffer {
  const png = rgbPng(1, 1);
  png.writeUInt32BE(width, 16); // signature (8) + IHDR length and type (8)
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}
const imageCase = (name: string, make: (path: string) => void, expect: RegExp, extra: Partial<EngineCase> = {}): EngineCase => ({
  group: 'image', name, expect, dependsOn: NEEDS.graph, withinMs: 5_000, ...extra,
  run: async (ctx) => {
    const path = join(ctx.dir, 'init.png');
    make(path);
    return readPng(path);
  },
});

// ---- the CLI, as a user runs it
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export function cli(args: string[], stdin?: string): Promise<{ code: number | null; signal: string | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], { cwd: REPO, timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, signal: child.signalCode, stdout, stderr }));
    child.stdin!.end(stdin ?? '');
  });
}
/** A CLI run that must exit 1 (not crash, not hang) with its message on stderr. */
const cliCase = (name: string, args: (ctx: CaseContext) => string[], expect: RegExp, extra: Partial<EngineCase> & { stdin?: string } = {}): EngineCase => ({
  group: 'cli', name, expect, withinMs: 30_000, ...extra,
  run: async (ctx) => {
    const r = await cli(args(ctx), extra.stdin);
    if (r.signal || r.code !== 1) throw new Error(`exit ${r.code} signal ${r.signal}: ${r.stderr.slice(-300)}`);
    throw new Error(r.stderr.trim());
  },
});
const gen = (ctx: CaseContext, ...rest: string[]): string[] =>
  ['generate', '--model', ctx.goodModel, '--steps', '1', '--width', '64', '--height', '64', '--out', join(ctx.dir, 'out.png'), ...rest];

export const ENGINE_CASES: EngineCase[] = [
  // ---- model folders (kinds 3, 8)
  { group: 'model folder', name: 'the intact copy runs (control)', expect: 'ok', withinMs: 30_000, run: (ctx) => run(ctx, ctx.goodModel) },
  folderCase('model_index.json is a named pipe', { 'model_index.json': fifo }, /model_index\.json: is a named pipe \(FIFO\), not a regular file \(expected a JSON object naming the pipeline parts\)/, FIFO),
  folderCase('model_index.json is a directory', { 'model_index.json': folder }, /model_index\.json: is a directory, not a regular file/),
  folderCase('model_index.json is zero bytes', { 'model_index.json': text('') }, /model_index\.json: empty file \(expected a JSON object naming the pipeline parts\)/),
  folderCase('model_index.json is not JSON', { 'model_index.json': text('\x89PNG garbage {') }, /model_index\.json: malformed JSON .*expected a JSON object naming the pipeline parts/),
  folderCase('model_index.json declares 2 GB', { 'model_index.json': sparse(2 ** 31) }, /model_index\.json: 2\.0 GiB is over the 1 MiB limit/),
  folderCase('model_index.json is a JSON array', { 'model_index.json': text('[1, 2]') }, /model_index\.json: expected a JSON object naming the pipeline parts/),
  folderCase('model_index.json is a dangling symlink', { 'model_index.json': (p) => symlinkSync('/nonexistent/target', p) }, /model_index\.json: missing \(expected a JSON object/),
  folderCase('unet/model.onnx is zero bytes', { 'unet/model.onnx': text('') }, /unet\/model\.onnx: empty file \(expected an ONNX graph\)/),
  folderCase('unet/model.onnx is garbage', { 'unet/model.onnx': text('this is not an ONNX graph at all') }, /unet\/model\.onnx: (onnxruntime could not load it \()?not an ONNX graph, or a truncated one/),
  folderCase('unet/model.onnx is truncated', { 'unet/model.onnx': (p) => writeFileSync(p, readFileSync(join(FIXTURE_MODEL, 'unet/model.onnx')).subarray(0, 100_000)) }, /unet\/model\.onnx: (onnxruntime could not load it \()?not an ONNX graph, or a truncated one/),
  folderCase('unet/model.onnx is a named pipe', { 'unet/model.onnx': fifo }, /unet\/model\.onnx: is a named pipe \(FIFO\), not a regular file/, { ...FIFO, dependsOn: NEEDS.hash }),
  folderCase('unet/model.onnx_data is a named pipe', { 'unet/model.onnx_data': fifo }, /unet\/model\.onnx_data: is a named pipe \(FIFO\)/, { ...FIFO, dependsOn: NEEDS.hash }),
  folderCase('text_encoder/model.onnx is a directory', { 'text_encoder/model.onnx': folder }, /text_encoder\/model\.onnx: is a directory, not a regular file/, { dependsOn: NEEDS.hash }),
  folderCase('vae_decoder/model.onnx is a vocabulary', { 'vae_decoder/model.onnx': (p) => copyFileSync(join(FIXTURE_MODEL, 'tokenizer/vocab.json'), p) }, /vae_decoder\/model\.onnx: (onnxruntime could not load it \()?not an ONNX graph/),
  // a config that is not a regular file is refused, not skipped as if absent
  folderCase('unet/config.json is a named pipe', { 'unet/config.json': fifo }, /unet\/config\.json: is a named pipe \(FIFO\)/, { ...FIFO, dependsOn: NEEDS.config }),

  // ---- scheduler configs (kind 4; each range for every scheduler: test/unit/scheduler-config.test.ts)
  schedulerCase('negative beta_start', { beta_start: -0.0001 }, /scheduler_config\.json: scheduler pndm: config key "beta_start" must be a number in \(0, 1\), got -0\.0001/),
  schedulerCase('beta_end above one', { beta_end: 1.5 }, /scheduler_config\.json: scheduler pndm: config key "beta_end" must be a number in \(0, 1\), got 1\.5/),
  folderCase('a NaN beta (Python writes NaN into JSON)', { 'scheduler/scheduler_config.json': text('{"_class_name": "PNDMScheduler", "beta_start": NaN}') }, /scheduler_config\.json: malformed JSON/, { group: 'scheduler config' }),
  schedulerCase('huge steps_offset', { steps_offset: 1e9 }, /scheduler_config\.json: scheduler pndm: config key "steps_offset" must be an integer in 0\.\.999, got 1000000000/),
  schedulerCase('an unknown scheduler class', { _class_name: 'HeunDiscreteScheduler' }, /scheduler_config\.json: _class_name "HeunDiscreteScheduler" is not a scheduler this engine has \(known: PNDMScheduler, DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler, LCMScheduler\)/),
  folderCase('scheduler_config.json is a named pipe', { 'scheduler/scheduler_config.json': fifo }, /scheduler_config\.json: is a named pipe \(FIFO\)/, { ...FIFO, group: 'scheduler config' }),

  // ---- tokenizer files (kinds 3, 8)
  folderCase('a missing merges.txt', { 'tokenizer/merges.txt': remove }, /tokenizer\/merges\.txt: missing \(expected CLIP BPE tokenizer files\)/, { group: 'tokenizer' }),
  folderCase('vocab.json is a named pipe', { 'tokenizer/vocab.json': fifo }, /tokenizer\/vocab\.json: is a named pipe \(FIFO\), not a regular file/, { ...FIFO, group: 'tokenizer', dependsOn: NEEDS.hash }),
  folderCase('merges.txt is a named pipe', { 'tokenizer/merges.txt': fifo }, /tokenizer\/merges\.txt: is a named pipe \(FIFO\), not a regular file/, { ...FIFO, group: 'tokenizer', dependsOn: NEEDS.hash }),
  folderCase('tokenizer_config.json is a named pipe', { 'tokenizer/tokenizer_config.json': fifo }, /tokenizer_config\.json: is a named pipe \(FIFO\)/, { ...FIFO, group: 'tokenizer' }),
  folderCase('vocab.json is zero bytes', { 'tokenizer/vocab.json': text('') }, /tokenizer\/vocab\.json: empty file \(expected an object of token -> id\)/, { group: 'tokenizer' }),
  folderCase('vocab.json is a directory', { 'tokenizer/vocab.json': folder }, /tokenizer\/vocab\.json: is a directory/, { group: 'tokenizer', dependsOn: NEEDS.hash }),

  // ---- LoRA files (kinds 3, 4, 8: the graph helper's reader)
  loraCase('header is null', (p) => writeFileSync(p, loraBytes(null)), /lora\.safetensors: the safetensors header is null, not an object of tensors/),
  loraCase('an entry without offsets', (p) => writeFileSync(p, loraBytes({ [`${LORA_KEY}.alpha`]: { dtype: 'F32', shape: [] } }, f32(1))), /lora\.safetensors: tensor ".*alpha" has a malformed entry/),
  loraCase('NaN weights', (p) => writeSafetensors(p, { [`${LORA_KEY}.lora_down.weight`]: { shape: [1, 4], data: [0, NaN, 0, 0] }, [`${LORA_KEY}.lora_up.weight`]: { shape: [4, 1], data: [1, 1, 1, 1] } }), /lora\.safetensors: tensor ".*lora_down\.weight" holds NaN at index 1; LoRA weights must be finite/),
  loraCase('NaN alpha', (p) => writeSafetensors(p, { [`${LORA_KEY}.alpha`]: { shape: [], data: [NaN] }, [`${LORA_KEY}.lora_down.weight`]: { shape: [1, 4], data: [0, 0, 0, 0] }, [`${LORA_KEY}.lora_up.weight`]: { shape: [4, 1], data: [1, 1, 1, 1] } }), /lora\.safetensors: tensor ".*alpha" holds NaN/),
  loraCase('two entries sharing bytes', (p) => writeFileSync(p, loraBytes({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(0, 0, 0))), /lora\.safetensors: tensors "a" and "b" share bytes 4\.\.8/),
  loraCase('a directory', (p) => mkdirSync(p), /lora\.safetensors: is a directory/),
  loraCase('a named pipe', fifo, /lora\.safetensors: is a named pipe/, FIFO),
  loraCase('truncated', (p) => writeFileSync(p, loraBytes({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(1))), /lora\.safetensors: tensor "a" lies outside the file/, { dependsOn: undefined }),
  loraCase('a huge header length', (p) => writeFileSync(p, loraBytes({}, Buffer.alloc(0), 2n ** 60n)), /lora\.safetensors: header length \d+ is beyond the file/, { dependsOn: undefined }),

  // ---- run parameters (kind 5: contract limits, the pipeline helper's)
  { group: 'run params', name: 'width 1e6', expect: /width.*4096/, dependsOn: NEEDS.contract, withinMs: 20_000, run: (ctx) => run(ctx, ctx.goodModel, { width: 1e6 }) },
  { group: 'run params', name: 'a 10 MB prompt', expect: /prompt.*4000/, dependsOn: NEEDS.contract, withinMs: 20_000, run: (ctx) => run(ctx, ctx.goodModel, { prompt: 'a'.repeat(10 * 2 ** 20) }) },
  { group: 'run params', name: 'a 10 MB negative prompt', expect: /negativePrompt.*4000/, dependsOn: NEEDS.contract, withinMs: 20_000, run: (ctx) => run(ctx, ctx.goodModel, { negativePrompt: 'a'.repeat(10 * 2 ** 20) }) },
  { group: 'run params', name: 'a NaN seed', expect: /invalid run request: params\.seed: .*NaN/, withinMs: 5_000, run: (ctx) => run(ctx, ctx.goodModel, { seed: NaN }) },
  { group: 'run params', name: 'negative steps', expect: /invalid run request: params\.steps: steps must be >= 1/, withinMs: 5_000, run: (ctx) => run(ctx, ctx.goodModel, { steps: -3 }) },
  { group: 'run params', name: 'infinite guidance', expect: /invalid run request: params\.guidance: /, withinMs: 5_000, run: (ctx) => run(ctx, ctx.goodModel, { guidance: Infinity }) },
  { group: 'run params', name: 'a batch of a million', expect: /invalid run request: params\.batch: batch must be <= 16/, withinMs: 5_000, run: (ctx) => run(ctx, ctx.goodModel, { batch: 1e6 }) },

  // ---- images (kind 5: the graph helper's decodePng limits)
  imageCase('a PNG declaring 8000x8000 with a tiny body', (p) => writeFileSync(p, pngDeclaring(8000, 8000)), /init\.png: the image is 8000x8000.*over the limit/),
  imageCase('a 0x0 PNG', (p) => writeFileSync(p, pngDeclaring(0, 0)), /init\.png: the image is 0x0; an image needs at least 1x1 pixels/),
  imageCase('not a PNG', (p) => writeFileSync(p, 'GIF89a not a png'), /init\.png: not a (readable )?PNG/, { dependsOn: undefined }),
  imageCase('a truncated PNG', (p) => writeFileSync(p, rgbPng(8, 8).subarray(0, 40)), /init\.png: not a readable PNG/, { dependsOn: undefined }),
  imageCase('a named pipe', fifo, /init\.png: is a named pipe/, FIFO),

  // ---- the CLI (kind 9)
  cliCase('a 100k-character --prompt', (ctx) => gen(ctx, '--prompt', 'a'.repeat(100_000)), /the prompt is 100000 characters; pass long prompts with --prompt-file <file> or --prompt-file - \(stdin\)/),
  cliCase('a 40k-character --negative-prompt=', (ctx) => gen(ctx, '--prompt', 'x', `--negative-prompt=${'b'.repeat(40_000)}`), /the negative prompt is 40000 characters; pass long prompts with --negative-prompt-file <file>/),
  cliCase('a 10 MB --prompt-file', (ctx) => {
    writeFileSync(join(ctx.dir, 'p.txt'), Buffer.alloc(10 * 2 ** 20, 97));
    return gen(ctx, '--prompt-file', join(ctx.dir, 'p.txt'));
  }, /p\.txt: 10(\.0)? MiB is over the 64 KiB limit \(expected a UTF-8 prompt for --prompt-file\)/),
  cliCase('a --prompt-file that is a named pipe', (ctx) => {
    fifo(join(ctx.dir, 'p.fifo'));
    return gen(ctx, '--prompt-file', join(ctx.dir, 'p.fifo'));
  }, /p\.fifo: is a named pipe \(FIFO\), not a regular file/),
  cliCase('--prompt and --prompt-file together', (ctx) => gen(ctx, '--prompt', 'x', '--prompt-file', '-'), /give --prompt or --prompt-file, not both/),
  cliCase('a 5000-character prompt on stdin', (ctx) => gen(ctx, '--prompt-file', '-'), /prompt.*4000/, { stdin: 'a '.repeat(2500), dependsOn: NEEDS.contract }),
  cliCase('no prompt at all', (ctx) => gen(ctx), /give --prompt <text> or --prompt-file <file>/),
];
