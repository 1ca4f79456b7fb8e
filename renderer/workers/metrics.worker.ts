/// <reference lib="webworker" />
/**
 * Pixel maths off the UI thread: decodes the two PNGs, then PSNR, SSIM (mean and map) and the
 * difference heatmap with app/metrics.ts. The SSIM map is kept per pair; recolouring is cheap.
 */
import { absDiff, heatmap, psnr, ssim, type Colormap, type Pixels } from '../../app/metrics';
import { decodeDataUrl } from './decode';
import { worstTile, type Region } from '../../app/verdict';

export interface MetricsRequest {
  id: number;
  a: string;
  b: string;
  gain: number;
  colormap: Colormap;
}

export interface MetricsResponse {
  id: number;
  width: number;
  height: number;
  psnr: number | null;
  ssim: number;
  maxDiff: number;
  /** The tile of largest mean difference (mean in [0, 1]). */
  worst: Region & { mean: number };
  diff: Uint8ClampedArray;
  ssimMap: Uint8ClampedArray;
  error?: string;
}

const decoded = new Map<string, Promise<Pixels>>();
let pair: { key: string; diff: Float32Array; dissim: Float32Array; psnr: number | null; ssim: number; maxDiff: number; worst: Region & { mean: number }; w: number; h: number } | undefined;

async function decode(dataUrl: string): Promise<Pixels> {
  const { width, height, data } = await decodeDataUrl(dataUrl);
  return { width, height, channels: 4, data, max: 255 };
}

function image(url: string): Promise<Pixels> {
  let p = decoded.get(url);
  if (!p) {
    if (decoded.size > 16) decoded.clear();
    decoded.set(url, (p = decode(url)));
  }
  return p;
}

self.onmessage = async (e: MessageEvent<MetricsRequest>) => {
  const { id, a, b, gain, colormap } = e.data;
  try {
    const key = `${a.length}:${a.slice(-64)}|${b.length}:${b.slice(-64)}`;
    if (pair?.key !== key) {
      const [pa, pb] = await Promise.all([image(a), image(b)]);
      const diff = absDiff(pa, pb);
      const s = ssim(pa, pb);
      pair = { key, diff, dissim: s.map.map((v) => 1 - v), psnr: psnr(pa, pb), ssim: s.mean, maxDiff: diff.reduce((m, v) => Math.max(m, v), 0), worst: worstTile(diff, pa.width, pa.height), w: pa.width, h: pa.height };
    }
    const diffRgba = heatmap(pair.diff, gain, colormap);
    const ssimRgba = heatmap(pair.dissim, 1, colormap);
    const msg: MetricsResponse = { id, width: pair.w, height: pair.h, psnr: pair.psnr, ssim: pair.ssim, maxDiff: pair.maxDiff, worst: pair.worst, diff: diffRgba, ssimMap: ssimRgba };
    self.postMessage(msg, { transfer: [diffRgba.buffer, ssimRgba.buffer] });
  } catch (err) {
    self.postMessage({ id, error: (err as Error).message });
  }
};
