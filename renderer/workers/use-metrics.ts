import { useEffect, useState } from 'react';
import type { Colormap } from '../../app/metrics';
import type { MetricsRequest, MetricsResponse } from './metrics.worker';

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, (r: MetricsResponse) => void>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./metrics.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<MetricsResponse>) => {
      waiting.get(e.data.id)?.(e.data);
      waiting.delete(e.data.id);
    };
  }
  return worker;
}

export function computeMetrics(req: Omit<MetricsRequest, 'id'>): Promise<MetricsResponse> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    getWorker().postMessage({ ...req, id });
  });
}

/** PSNR, SSIM and both heatmaps of the pair on show; recomputed in the worker when inputs change. */
export function useMetrics(a: string | undefined, b: string | undefined, gain: number, colormap: Colormap): MetricsResponse | undefined {
  const [result, setResult] = useState<MetricsResponse>();
  useEffect(() => {
    if (!a || !b) return setResult(undefined);
    let live = true;
    void computeMetrics({ a, b, gain, colormap }).then((r) => live && setResult(r));
    return () => {
      live = false;
    };
  }, [a, b, gain, colormap]);
  return result;
}
