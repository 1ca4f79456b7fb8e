import { writeFileSync } from 'node:fs';

/** Writes a safetensors file (F32), for tests that need LoRAs of a chosen shape. */
export function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: Float32Array | number[] }>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const buf = Buffer.from(Float32Array.from(t.data).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + buf.length] };
    chunks.push(buf);
    offset += buf.length;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, ...chunks]));
}

/** Deterministic pseudo-random values in [-a, a]. */
export function values(n: number, seed: number, a = 0.3): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * a;
  });
}

/** Writes a length prefix, `header` as given (any JSON, or raw text) and `data`: for hostile files. */
export function writeRawSafetensors(path: string, header: unknown, data: Uint8Array = new Uint8Array(), headerLength?: number): void {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLength ?? h.length));
  writeFileSync(path, Buffer.concat([len, h, data]));
}
