import { CancelledError } from '../../app/errors';
import type { RunEvent, Stage, Timings } from '../../app/contract';
import { hostTransfers } from '../model/device-tensors';
import { conversionMs } from './session-runner';

/** Times a run's stages (wall time, and the session.run time a clock accumulates during each). */
export class StageTimer {
  readonly ms: Record<Stage, number> = { 'text-encoder': 0, 'vae-encoder': 0, denoise: 0, 'vae-decoder': 0 };
  private readonly t0 = performance.now();
  private readonly moved0 = hostTransfers();
  private readonly converted0 = conversionMs();

  constructor(private readonly signal?: AbortSignal, private readonly onEvent?: (e: RunEvent) => void) {}

  async stage<T>(name: Stage, clock: () => number, fn: () => Promise<T>): Promise<T> {
    if (this.signal?.aborted) throw new CancelledError();
    const s = performance.now(), before = clock();
    const r = await fn();
    this.ms[name] = performance.now() - s;
    this.onEvent?.({ type: 'stage', stage: name, ms: this.ms[name], onnxMs: clock() - before });
    return r;
  }

  timings(steps: { stepMs: number[]; stepOnnxMs: number[]; stepTransfers?: number[] }, onnxMs: number): Timings {
    const totalMs = performance.now() - this.t0;
    return {
      textEncoderMs: this.ms['text-encoder'], vaeEncoderMs: this.ms['vae-encoder'], stepMs: steps.stepMs, stepOnnxMs: steps.stepOnnxMs,
      denoiseMs: this.ms.denoise, vaeDecoderMs: this.ms['vae-decoder'], totalMs, onnxMs, overheadMs: totalMs - onnxMs,
      stepTransfers: steps.stepTransfers ?? [], transfers: hostTransfers() - this.moved0, convertMs: conversionMs() - this.converted0,
    };
  }
}
