/**
 * applyStep's sums, written one loop per count of terms for speed, against the plain formulation
 * (Σ over the non-zero terms, left to right in double, / r, clipped, as float32): bit for bit, for
 * every shape of step the schedulers make (clip or not, r or not, 0-4 live terms, zero coefficients,
 * signed zeros). It catches a lost term, a wrong r or clip, a zero's sign; not a reordering of the
 * double additions, which float32 rounding almost never shows.
 */
import { describe, expect, it } from 'vitest';
import { applyStep, linearStep, type LinearStep } from '../../engine/schedulers/scheduler';

function reference(terms: [number, Float32Array | undefined][], n: number, r = 1, clip?: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const [c, t] of terms) if (c !== 0) v += c * t![i]!;
    if (r !== 1) v /= r;
    out[i] = clip === undefined ? v : Math.min(clip, Math.max(-clip, v));
  }
  return out;
}

function referenceStep(s: LinearStep, out: Float32Array, x: Float32Array, prevX0: Float32Array) {
  const same = (p: number, q: number) => p === 0 && q === 1;
  const x0 = same(s.p, s.q) && s.r === 1 && s.clip === undefined ? out : reference([[s.p, x], [s.q, out]], out.length, s.r, s.clip);
  const e = s.b === 0 ? out : same(s.u, s.v) ? out : reference([[s.u, x], [s.v, out]], out.length);
  return { prev: reference([[s.a, x], [s.b, e], [s.c, x0], [s.d, prevX0]], out.length), x0 };
}

let seed = 11;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const coef = () => [0, 0, 1, -0.7, rand(), Math.sqrt(rand()), 1e-8][Math.floor(rand() * 7)]!;
// signed zeros and values past the clip among them
const data = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 17 === 0 ? -0 : (rand() - 0.5) * 6));
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('applyStep', () => {
  it('gives the plain formulation\'s bits on 400 random steps', () => {
    let live4 = 0;
    for (let k = 0; k < 400; k++) {
      const s = linearStep({ p: coef(), q: coef(), r: rand() < 0.4 ? 1 : 0.5 + rand(), clip: rand() < 0.5 ? 1 : undefined, u: coef(), v: coef(), a: coef(), b: coef(), c: coef(), d: coef() });
      if ([s.a, s.b, s.c, s.d].every((c) => c !== 0)) live4++;
      const n = 1 + Math.floor(rand() * 300), out = data(n), x = data(n), prevX0 = data(n);
      const want = referenceStep(s, out, x, prevX0), got = applyStep(s, out, x, prevX0, () => new Float32Array(n));
      expect(bits(got.prev)).toEqual(bits(want.prev));
      expect(bits(got.x0)).toEqual(bits(want.x0));
    }
    expect(live4).toBeGreaterThan(0);
  });
});
