#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { SCHEDULER_NAMES } from '../../app/contract';
import { PRESETS, presetById } from '../../app/presets';
import { isCancelled } from '../../app/errors';
import type { BenchFlags } from './bench';
import type { GenerateFlags } from './generate';
import { addControlFlags } from './control-flags';
import { argvTooLong, promptOption } from './prompt-input';
import { addVariantFlags, intArg as int, numArg as num, pairArg as pair } from './variant-flags';

// imported (tests call runCli in-process) the module only defines the commands
const isEntry = !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));

// Before anything loads onnxruntime (generate and bench are imported only when they run): it
// crashes the process on a long command line.
const tooLong = isEntry && argvTooLong([process.execPath, ...process.execArgv, ...process.argv.slice(1)]);
if (tooLong) {
  console.error(`error: ${tooLong}`);
  process.exit(1);
}

/** The commands; commander (13+) restores its state before each parse, so runCli may reuse it. */
export const program = new Command('engine').description('Diffusion A/B Studio engine: Stable Diffusion (diffusers ONNX folders) on onnxruntime-node');

addControlFlags(addVariantFlags(program
  .command('generate')
  .description('generate images from a prompt (txt2img), from an init image (img2img), or repaint its masked part (inpaint, try-on)')
  .option('--model <dir>', 'diffusers ONNX model folder (default: the embedded model)')
  .option('--prompt <text>', 'what to draw')
  .option('--prompt-file <file>', 'read the prompt from a UTF-8 file, or from stdin with "-" (for long prompts)')
  .option('--negative-prompt <text>', 'what to steer away from (with guidance > 1)')
  .option('--negative-prompt-file <file>', 'read the negative prompt from a file, or stdin with "-"')
  .option('--seed <n>', 'seed of the torch-compatible generator', int('--seed'), 0)
  .option('--steps <n>', 'denoising steps (default 50)', int('--steps'))
  .option('--guidance <scale>', 'classifier-free guidance scale; <= 1 turns guidance off (default: the model folder\'s studio.json "guidance", else 7.5)', num('--guidance'))
  .option('--width <px>', 'image width, a multiple of 8 (default: the model\'s)', int('--width'))
  .option('--height <px>', 'image height, a multiple of 8 (default: the model\'s)', int('--height'))
  .addOption(new Option('--scheduler <name>', 'sampler (default: the model folder\'s scheduler)').choices(SCHEDULER_NAMES))
  .option('--init-image <png>', 'start from this image (img2img); its size sets the output size')
  .option('--mask <png>', 'inpaint: repaint where the mask is white (grey, RGB or opaque RGBA PNG; resized to the image if it differs); needs --init-image')
  .option('--garment <png>', 'try-on: the garment, pasted into the mask\'s bounding box as the start; needs --init-image (the person) and --mask')
  .addOption(new Option('--preset <name>', `fill parameters from a preset; your flags win (${PRESETS.map((p) => `${p.id}: ${p.description}`).join('; ')})`).choices(PRESETS.map((p) => p.id)))
  .option('--strength <0..1>', 'img2img: how much of the schedule to run (default 0.8; inpainting 1)', num('--strength'))
  .option('--batch <n>', 'images per prompt', int('--batch'))
  .option('--original-size <h,w>', 'SDXL size conditioning: the source image size it was trained to see (default: the output size)', pair('--original-size'))
  .option('--crop-top-left <y,x>', 'SDXL size conditioning: the crop offset (default 0,0)', pair('--crop-top-left', 0))
  .option('--target-size <h,w>', 'SDXL size conditioning: the target size (default: the output size)', pair('--target-size'))
  .option('--out <png>', 'output PNG (with -1, -2... when --batch > 1)', 'out.png')
  .option('--json', 'print the run\'s result (timings, provider, outputs) as one JSON line')))
  .action(async (opts: Omit<GenerateFlags, 'model' | 'prompt'> & { model?: string; prompt?: string; promptFile?: string; negativePromptFile?: string }) => {
    const { promptFile, negativePromptFile, ...flags } = opts;
    const preset = flags.preset ? presetById(flags.preset) : undefined;
    const prompt = (await promptOption(opts.prompt, promptFile, '--prompt')) ?? preset?.params.prompt;
    if (prompt === undefined) throw new Error('give --prompt <text> or --prompt-file <file>');
    // absent stays absent: an SDXL folder zeroes the negative embeddings then (diffusers' negative_prompt=None)
    const negativePrompt = await promptOption(opts.negativePrompt, negativePromptFile, '--negative-prompt');
    const { defaultModelDir, runGenerate } = await import('./generate');
    const model = opts.model ?? defaultModelDir();
    if (!model) throw new Error('no --model given and the embedded model (assets/models/emoji-sd) is not installed');
    await runGenerate({ ...flags, prompt, negativePrompt, model });
  });

program
  .command('bench')
  .description('benchmark every acceleration against the plain run (steady step time, first-run cost, PSNR/SSIM), then each pipeline: img2img, inpainting, ControlNet (a benchmark, not a test)')
  .option('--model <dir>', 'diffusers ONNX model folder (default: the embedded model)')
  .option('--steps <n>', 'denoising steps', int('--steps'), 25)
  .option('--repeats <n>', 'timed runs after the first', int('--repeats'), 5)
  .option('--prompt <text>', 'prompt', 'grinning face, twemoji style')
  .option('--seed <n>', 'seed', int('--seed'), 42)
  .option('--guidance <scale>', 'classifier-free guidance scale', num('--guidance'), 7.5)
  .option('--only <text>', 'only the options whose name contains this (plus the plain run)')
  .option('--out <file.md>', 'also write the table here')
  .action(async (opts: Omit<BenchFlags, 'model'> & { model?: string }) => {
    const [{ runBench }, { defaultModelDir }] = await Promise.all([import('./bench'), import('./generate')]);
    const model = opts.model ?? defaultModelDir();
    if (!model) throw new Error('no --model given and the embedded model (assets/models/emoji-sd) is not installed');
    console.log(await runBench({ ...opts, model }));
  });

program
  .command('serve')
  .description('the studio in a browser: HTTP + WebSocket on 127.0.0.1 with an access token (same as npm run serve)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]', 'passed to the studio server: --port <n>, --host <addr>, --workspace <dir>, --help')
  .action((args: string[]) => {
    // the studio lives outside the engine: run it as its own process rather than importing it
    const server = fileURLToPath(new URL('../../main/host/serve.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', server, ...args], { stdio: 'inherit' });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    child.on('exit', (code) => process.exit(code ?? 1));
  });

/** One invocation's exit code; an error is printed as "error: <message>" (commander prints its own). */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (e) {
    // thrown only under exitOverride (in-process callers): commander has printed it already
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`error: ${(e as Error).message}`);
    return isCancelled(e) ? 130 : 1;
  }
}

if (isEntry) {
  void runCli(process.argv).then((code) => {
    if (code) process.exit(code);
  });
}
