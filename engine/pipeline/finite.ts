/** 'NaN' or 'Inf' for the first non-finite value, undefined when all are finite (no garbage saved as success). */
export function firstNonFinite(x: Float32Array): 'NaN' | 'Inf' | undefined {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : 'Inf';
  }
  return undefined;
}
