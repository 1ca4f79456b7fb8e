import { z } from 'zod';
import { defineAcceleration } from './descriptor';

/** Providers whose kernels (cuBLAS, cuDNN) use TF32 and honour NVIDIA_TF32_OVERRIDE. */
export const TF32_PROVIDERS = ['cuda', 'tensorrt'] as const;

function parseOnOff(raw: string): boolean {
  if (raw === 'on' || raw === 'off') return raw === 'on';
  throw new Error(`--tf32 must be on or off, got "${raw}"`);
}

export const tf32 = defineAcceleration({
  id: 'tf32',
  description: 'TF32 tensor-core math in cuBLAS/cuDNN (cuda): off runs the engine in its own process with NVIDIA_TF32_OVERRIDE=0',
  /** TF32 matmuls/convolutions on NVIDIA GPUs (their default); false: full fp32 math, in a process of its own. */
  options: { tf32: z.boolean().default(true) },
  summary: (o) => (o.tf32 ? '' : 'TF32 off (NVIDIA_TF32_OVERRIDE=0)'),
  off: 'TF32 as cuBLAS/cuDNN default',
  editor: { fields: [{ kind: 'checkbox', key: 'tf32', label: 'TF32', help: 'cuda/tensorrt only: off = full fp32 math (its own engine process)' }] },
  flags: [{ flags: '--tf32 <on|off>', help: 'TF32 math on cuda/tensorrt (off: NVIDIA_TF32_OVERRIDE=0 for the process)', parse: parseOnOff }],
});
