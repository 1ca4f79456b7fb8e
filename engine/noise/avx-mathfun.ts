/**
 * float32 log and sincos exactly as torch's AVX2 `normal_fill` computes them: Cephes polynomials
 * in the avx_mathfun style, with the multiply-adds the compiler fuses. JavaScript's double-precision
 * Math.* differs in the last bit on some inputs, and diffusers' noise must be bit-identical, so each
 * float op is rounded as the vector unit rounds it. Which products are fused was measured against
 * torch 2.11 on x86-64 (test/parity/noise.test.ts pins it).
 */
const f = Math.fround;
const buf = new ArrayBuffer(4);
const fv = new Float32Array(buf);
const iv = new Int32Array(buf);
const bitsOf = (x: number): number => ((fv[0] = x), iv[0]!);
const fromBits = (b: number): number => ((iv[0] = b | 0), fv[0]!);
/** a*b+c rounded once to float32 (a product of two floats is exact in a double). */
const fma = (a: number, b: number, c: number): number => f(a * b + c);

const MIN_NORM_POS = fromBits(0x00800000);
const HALF_BITS = bitsOf(0.5);
const LOG_P = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].map(f);
const SQRTHF = f(0.707106781186547524);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);

/** Natural log of a positive float32. */
export function logf(input: number): number {
  if (!(input > 0)) return input === 0 ? -Infinity : NaN;
  let x = Math.max(f(input), MIN_NORM_POS);
  const bits = bitsOf(x);
  let e = f(((bits >>> 23) & 0xff) - 0x7f + 1);
  x = fromBits((bits & ~0x7f800000) | HALF_BITS); // mantissa in [0.5, 1)
  const below = x < SQRTHF;
  const tmp = below ? x : 0;
  x = f(x - 1);
  if (below) e = f(e - 1);
  x = f(x + tmp);
  const z = f(x * x);
  let y = LOG_P[0]!;
  for (let i = 1; i < LOG_P.length; i++) y = fma(y, x, LOG_P[i]!);
  y = f(y * x);
  y = fma(y, z, f(e * LOG_Q1));
  y = f(y - 0.5 * z);
  x = f(x + y);
  return fma(e, LOG_Q2, x);
}

const FOPI = f(1.27323954473516);
const DP = [f(-0.78515625), f(-2.4187564849853515625e-4), f(-3.77489497744594108e-8)];
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);

/** [sin, cos] of a float32 angle. */
export function sincosf(input: number): [number, number] {
  let x = Math.abs(f(input));
  let j = Math.trunc(f(x * FOPI));
  j = (j + 1) & ~1;
  const y = f(j);
  const signSin = (input < 0 ? -1 : 1) * (j & 4 ? -1 : 1);
  const signCos = ~(j - 2) & 4 ? -1 : 1;
  for (const dp of DP) x = fma(y, dp, x); // extended-precision range reduction
  const z = f(x * x);
  let c = fma(fma(COS_P[0]!, z, COS_P[1]!), z, COS_P[2]!);
  c = f(fma(f(c * z), z, -0.5 * z) + 1);
  let s = fma(fma(SIN_P[0]!, z, SIN_P[1]!), z, SIN_P[2]!);
  s = fma(f(s * z), x, x);
  const polyIsSin = (j & 2) === 0;
  return [signSin * (polyIsSin ? s : c), signCos * (polyIsSin ? c : s)];
}
