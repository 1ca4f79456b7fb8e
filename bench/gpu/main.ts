#!/usr/bin/env node
/**
 * The Node half of `npm run bench:gpu` (bench/gpu/run.sh drives both halves):
 *   engine --group cuda|converted|webgpu-embedded|tf32off ...   the engine's rows, as JSON
 *   report --torch t.json --engine a.json [--engine b.json] ...   the table (markdown + JSON)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { GROUPS, runEngineBench, type Group, type ModelId, type RowResult } from './engine-bench';
import { buildReport, type TorchResult } from './report';

const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const write = (p: string, text: string) => {
  mkdirSync(dirname(resolve(p)), { recursive: true });
  writeFileSync(p, text);
};
const ortVersion = (): string => (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

const program = new Command('bench-gpu').description('the engine side of the GPU benchmark (bench/gpu/run.sh runs it)');

program
  .command('engine')
  .description("run one process's engine rows and write them as JSON")
  .addOption(new Option('--group <g>', 'cuda, converted, webgpu-embedded, or tf32off (start that process with NVIDIA_TF32_OVERRIDE=0)').choices(GROUPS).default('cuda'))
  .requiredOption('--models <dir>', 'folder holding sd15-fp32/ and sd15-fp16/ (bench/gpu/sd15.py export)')
  .requiredOption('--embedded <dir>', 'the embedded model folder')
  .requiredOption('--params <file>', 'run parameters (bench/gpu/params.json)')
  .requiredOption('--images <dir>', 'where each row\'s image goes (raw float32)')
  .requiredOption('--out <file>', 'JSON rows')
  .option('--cache <dir>', 'engine graph cache', '')
  .option('--budget <s>', 'seconds for the rounds', (v) => Number(v), 400)
  .option('--only <regex>', 'rows whose name matches')
  .action(async (o: { group: Group; models: string; embedded: string; params: string; images: string; out: string; cache: string; budget: number; only?: string }) => {
    if (o.group === 'tf32off' && process.env.NVIDIA_TF32_OVERRIDE !== '0') throw new Error('--group tf32off needs NVIDIA_TF32_OVERRIDE=0 in this process\'s environment');
    const models: Record<ModelId, string> = { 'sd15-fp32': join(o.models, 'sd15-fp32'), 'sd15-fp16': join(o.models, 'sd15-fp16'), embedded: o.embedded };
    const params = readJson<Record<string, unknown>>(o.params);
    const rows = await runEngineBench(o.group, {
      models, params, imageDir: o.images, cacheRoot: o.cache || join(o.models, 'engine-cache'), budgetS: o.budget,
      // the embedded model's own settings (its README): 25 PNDM steps, guidance 3, its default size
      embeddedParams: { prompt: 'grinning face, twemoji style', negativePrompt: 'blurry', seed: 42, steps: 25, guidance: 3 },
      only: o.only ? new RegExp(o.only) : undefined,
      log: (line) => console.log(`engine[${o.group}] ${line}`),
    });
    write(o.out, JSON.stringify(rows, null, 1));
  });

program
  .command('report')
  .description('merge the torch and engine JSON into the table (markdown + JSON)')
  .option('--torch <file>', 'torch_bench.py output')
  .option('--engine <file...>', 'engine JSON rows (one file per process)')
  .requiredOption('--params <file>', 'run parameters')
  .requiredOption('--images <dir>', 'images both sides saved')
  .requiredOption('--md <file>', 'markdown out')
  .requiredOption('--json <file>', 'JSON out')
  .option('--command <text>', 'how it was made (goes in the table)', 'npm run bench:gpu')
  .action((o: { torch?: string; engine?: string[]; params: string; images: string; md: string; json: string; command: string }) => {
    const torch = o.torch && existsSync(o.torch) ? readJson<TorchResult>(o.torch) : null;
    const engine = (o.engine ?? []).filter((p) => existsSync(p)).flatMap((p) => readJson<RowResult[]>(p));
    const r = buildReport(torch, engine, o.images, readJson(o.params), ortVersion(), o.command);
    write(o.md, r.markdown);
    write(o.json, JSON.stringify(r.json, null, 1));
    console.log(r.markdown);
  });

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
