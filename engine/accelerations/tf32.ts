import { TF32_PROVIDERS } from '../../app/accelerations/tf32';
import type { Acceleration } from './acceleration';

const ENV = 'NVIDIA_TF32_OVERRIDE';
const nvidia = (p: string): boolean => (TF32_PROVIDERS as readonly string[]).includes(p);
/**
 * The TF32 mode this process's CUDA libraries run with. cuBLAS/cuDNN read NVIDIA_TF32_OVERRIDE
 * for the whole process (the Node binding cannot set the CUDA provider's use_tf32), so the first
 * CUDA variant fixes it and a variant wanting the other mode needs another process: the studio
 * host starts one per mode (main/host/engine-pool.ts); the CLI runs one variant per process.
 */
let committed: boolean | undefined;

export const tf32: Acceleration = {
  id: 'tf32',
  enabled: () => true,
  sessionKey: (v) => v.tf32,
  validate: (v) =>
    !v.tf32 && !nvidia(v.provider) && !v.allowFallback
      ? `tf32 off: only the ${TF32_PROVIDERS.join(' and ')} providers use TF32 (cuBLAS/cuDNN); ${v.provider} computes in full fp32 already, there is nothing to switch off`
      : undefined,
  async prepare(ctx) {
    const want = ctx.variant.tf32;
    if (!nvidia(ctx.provider)) {
      if (!want) ctx.notes.tf32 = `TF32 off: ignored (ran on ${ctx.provider}, which has no TF32)`;
      return;
    }
    committed ??= process.env[ENV] === '0' ? false : want;
    if (want !== committed) {
      throw new Error(`tf32 ${want ? 'on' : 'off'}: this engine process already runs CUDA with TF32 ${committed ? 'on' : 'off'} (${ENV} is per process); run this variant in its own process`);
    }
    if (!want) process.env[ENV] = '0'; // before the first CUDA session: cuBLAS/cuDNN read it when they start
  },
};
