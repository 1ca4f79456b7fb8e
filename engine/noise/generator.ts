import { MT19937 } from './mt19937';
import { logf, sincosf } from './avx-mathfun';

/**
 * `torch.Generator("cpu").manual_seed(seed)` + `torch.randn(shape, generator)`, float32, bit-exact.
 * Contiguous float tensors of >= 16 elements take torch's vectorised `normal_fill` (uniforms in
 * blocks of 16, Box-Muller on halves); smaller ones take the scalar double path with its cached
 * second sample. Successive calls continue one stream, as diffusers' schedulers rely on.
 */
export class TorchGenerator {
  private mt: MT19937;
  private cachedNormal: number | undefined;

  constructor(seed: number | bigint) {
    this.mt = new MT19937(seed);
  }

  randn(shape: readonly number[]): Float32Array {
    const size = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    if (size >= 16) this.normalFill(out);
    else for (let i = 0; i < size; i++) out[i] = this.normalDouble();
    return out;
  }

  private uniformFloat(): number {
    return (this.mt.nextUint32() & 0xffffff) / 0x1000000;
  }

  private uniformDouble(): number {
    const hi = this.mt.nextUint32();
    const lo = this.mt.nextUint32();
    // (hi << 32 | lo) masked to 53 bits, times 2^-53
    return ((hi & 0x1fffff) * 0x100000000 + lo) / 2 ** 53;
  }

  private normalFill(data: Float32Array): void {
    const n = data.length;
    for (let i = 0; i < n; i++) data[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(data, i);
    if (n % 16 !== 0) {
      // torch redraws the last 16 values when the size is not a multiple of 16
      for (let i = n - 16; i < n; i++) data[i] = this.uniformFloat();
      boxMuller16(data, n - 16);
    }
  }

  private normalDouble(): number {
    if (this.cachedNormal !== undefined) {
      const v = this.cachedNormal;
      this.cachedNormal = undefined;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

const TWO_PI = Math.fround(2 * Math.PI);

function boxMuller16(d: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = Math.fround(1 - d[o + j]!);
    const u2 = d[o + j + 8]!;
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * logf(u1))));
    const [sin, cos] = sincosf(Math.fround(TWO_PI * u2));
    d[o + j] = radius * cos;
    d[o + j + 8] = radius * sin;
  }
}
