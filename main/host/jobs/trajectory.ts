import { downscale, relativeL2 } from '../../../app/metrics';
import type { Side, StepTrajectory } from '../../../app/studio';
import type { Preview } from '../engine-supervisor';
import { png8 } from '../images';

/** Bounds: frames at most this side (the scrubber shows latent previews, not images), latents kept per side. */
const FRAME_SIDE = 96;
export const MAX_LATENT_BYTES = 64 * 2 ** 20;

/**
 * Repeat 0 of each side, step by step: preview frames and latents in memory while the job runs (A
 * runs first, so B's drift is known as soon as B is done); written as steps.json (+ A's latents as
 * latents-a.bin, so a later run that reuses A still gets a drift). Past MAX_LATENT_BYTES a side's
 * latents are dropped and the drift says so.
 */
export class TrajectoryRecorder {
  private readonly frames: Record<Side, string[]> = { A: [], B: [] };
  private readonly latents: Record<Side, Float32Array[]> = { A: [], B: [] };
  private readonly bytes: Record<Side, number> = { A: 0, B: 0 };
  private note?: string;

  recorder(side: Side): (p: Preview) => void {
    return (p) => {
      const small = downscale({ width: p.width, height: p.height, channels: 3, max: 255, data: p.rgb }, FRAME_SIDE);
      this.frames[side][p.step] = Buffer.from(png8(small.width, small.height, small.data)).toString('base64');
      if (!p.latents) return;
      this.bytes[side] += p.latents.byteLength;
      if (this.bytes[side] > MAX_LATENT_BYTES) {
        this.latents[side] = [];
        this.note = `latents over ${MAX_LATENT_BYTES / 2 ** 20} MiB per side are not kept: no drift for this size`;
      } else this.latents[side][p.step] = p.latents;
    };
  }

  /** A as an earlier entry recorded it (A reused). */
  restoreA(t: StepTrajectory, latentsBin: Uint8Array | undefined): void {
    this.frames.A = [...t.frames.A];
    if (!latentsBin || !t.latentLength) return;
    const all = new Float32Array(latentsBin.buffer.slice(latentsBin.byteOffset, latentsBin.byteOffset + latentsBin.byteLength));
    for (let i = 0; i * t.latentLength < all.length; i++) this.latents.A[i] = all.subarray(i * t.latentLength, (i + 1) * t.latentLength);
  }

  /** A's latents, steps concatenated (undefined when none were kept). */
  latentsA(): { bin: Uint8Array; length: number } | undefined {
    const l = this.latents.A;
    if (!l.length || l.some((x) => !x)) return undefined;
    const out = new Float32Array(l.length * l[0]!.length);
    l.forEach((x, i) => out.set(x, i * x.length));
    return { bin: new Uint8Array(out.buffer), length: l[0]!.length };
  }

  result(fullSteps: Record<Side, number[]>): StepTrajectory {
    const steps = Math.max(this.frames.A.length, this.frames.B.length);
    const drift = Array.from({ length: steps }, (_, i) => {
      const a = this.latents.A[i], b = this.latents.B[i];
      return a && b && a.length === b.length ? relativeL2(a, b) : null;
    });
    const frames = { A: Array.from({ length: steps }, (_, i) => this.frames.A[i] ?? ''), B: Array.from({ length: steps }, (_, i) => this.frames.B[i] ?? '') };
    return { steps, drift, fullSteps, frames, latentLength: this.latentsA()?.length ?? 0, ...(this.note ? { note: this.note } : {}) };
  }
}
