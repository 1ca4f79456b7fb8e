import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CANNY_DEFAULTS, type ControlNetParams } from '../../app/controlnet';
import type { RunInputs } from '../../app/run-request';

/** What commander parsed from the ControlNet flags. */
export interface ControlFlags {
  controlnet?: { dir: string; scale?: number }[];
  controlImage?: string[];
  controlPreprocess?: 'none' | 'canny';
  controlStart?: number[];
  controlEnd?: number[];
  cannyLow?: number;
  cannyHigh?: number;
  controlnetCachedSteps?: 'run' | 'reuse';
}

/** `<dir>[:scale]`: the scale is the part after the last ':' when it reads as a number (so C:\dir or a:b/c stay paths). */
export function parseControlNetArg(raw: string, acc: ControlFlags['controlnet'] = []): NonNullable<ControlFlags['controlnet']> {
  const at = raw.lastIndexOf(':');
  const tail = at >= 0 ? raw.slice(at + 1) : '';
  const scale = tail !== '' && /^[-+0-9.eE]+$/.test(tail) ? Number(tail) : undefined;
  if (scale !== undefined && !Number.isFinite(scale)) throw new InvalidArgumentError(`"${raw}": the scale after ':' is not a number`);
  const dir = scale === undefined ? raw : raw.slice(0, at);
  if (!dir) throw new InvalidArgumentError(`"${raw}": give a ControlNet folder, optionally :scale`);
  return [...acc, { dir, ...(scale === undefined ? {} : { scale }) }];
}

const numbers = (flag: string) => (raw: string): number[] => raw.split(',').map((s) => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`${flag} ${raw}: expected a number or a comma list (one per --controlnet)`);
  return v;
});
const number = (flag: string) => (raw: string): number => numbers(flag)(raw)[0]!;

export function addControlFlags(cmd: Command): Command {
  return cmd
    .option('--controlnet <dir[:scale]>', 'a ControlNet folder (model.onnx + config.json), optionally with its conditioning scale; repeat for MultiControlNet', parseControlNetArg)
    .option('--control-image <png>', 'the control map (repeat: one per --controlnet, in order); resized to the run\'s size with a notice', (raw: string, acc: string[] = []) => [...acc, raw])
    .addOption(new Option('--control-preprocess <how>', 'make the map from the image: canny edges, or none (the image is the map)').choices(['none', 'canny']))
    .option('--control-start <0..1>', 'fraction of the steps where the ControlNet starts acting (comma list: one per --controlnet)', numbers('--control-start'))
    .option('--control-end <0..1>', 'fraction of the steps where it stops (comma list: one per --controlnet)', numbers('--control-end'))
    .option('--canny-low <t>', `canny low threshold on Sobel magnitudes of 0..255 greys (default ${CANNY_DEFAULTS.low})`, number('--canny-low'))
    .option('--canny-high <t>', `canny high threshold (default ${CANNY_DEFAULTS.high})`, number('--canny-high'))
    .addOption(new Option('--controlnet-cached-steps <what>', 'with DeepCache: run the ControlNet on cached steps, or reuse the last full step\'s residuals').choices(['run', 'reuse']));
}

/**
 * The run's params.controlnet and control-image inputs from the flags. Without --controlnet the
 * folder's own ControlNet is used (an OnnxStableDiffusionControlNetPipeline folder) when any control flag is given.
 */
export function controlFromFlags(f: ControlFlags): { controlnet?: ControlNetParams; inputs: RunInputs } {
  const given = f.controlnet ?? [];
  const any = given.length > 0 || f.controlImage || f.controlPreprocess || f.controlStart || f.controlEnd || f.cannyLow !== undefined || f.cannyHigh !== undefined || f.controlnetCachedSteps;
  if (!any) return { inputs: {} };
  const units = given.length ? given : [{ dir: undefined, scale: undefined }];
  const per = (flag: string, v: number[] | undefined, i: number): number | undefined => {
    if (!v) return undefined;
    if (v.length !== 1 && v.length !== units.length) throw new Error(`${flag}: ${v.length} values for ${units.length} ControlNets (give one for all, or one each)`);
    return v.length === 1 ? v[0] : v[i];
  };
  const controlnet = {
    units: units.map((u, i) => ({
      ...(u.dir ? { dir: resolve(u.dir) } : {}), ...(u.scale !== undefined ? { scale: u.scale } : {}),
      ...(per('--control-start', f.controlStart, i) !== undefined ? { start: per('--control-start', f.controlStart, i) } : {}),
      ...(per('--control-end', f.controlEnd, i) !== undefined ? { end: per('--control-end', f.controlEnd, i) } : {}),
      ...(f.controlPreprocess ? { preprocess: f.controlPreprocess } : {}),
      ...(f.cannyLow !== undefined ? { low: f.cannyLow } : {}), ...(f.cannyHigh !== undefined ? { high: f.cannyHigh } : {}),
    })),
    ...(f.controlnetCachedSteps ? { onCachedSteps: f.controlnetCachedSteps } : {}),
  } as ControlNetParams;
  const images = (f.controlImage ?? []).map((p) => ({ path: resolve(p) }));
  if (images.length > 1 && images.length !== units.length) throw new Error(`--control-image given ${images.length} times for ${units.length} ControlNets: give one for all, or one each`);
  const inputs: RunInputs = images.length === 1 ? { controlImage: images[0]! } : images.length ? { controlImages: images } : {};
  return { controlnet, inputs };
}
