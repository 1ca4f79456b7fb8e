import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasExternalData } from '../../engine/accelerations/compile';

describe('compile: graphs with external weights are not saved optimised', () => {
  const dir = (files: string[]): string => {
    const d = join(mkdtempSync(join(tmpdir(), 'compile-ext-')), 'g');
    mkdirSync(d);
    for (const f of files) writeFileSync(join(d, f), '');
    return join(d, 'model.onnx');
  };
  it('sees an exporter\'s model.onnx_data and the engine\'s model.onnx.data, not configs', () => {
    expect(hasExternalData(dir(['model.onnx']))).toBe(false);
    expect(hasExternalData(dir(['model.onnx', 'config.json']))).toBe(false);
    expect(hasExternalData(dir(['model.onnx', 'model.onnx_data']))).toBe(true);
    expect(hasExternalData(dir(['model.onnx', 'model.onnx.data']))).toBe(true);
    expect(hasExternalData(dir(['model.onnx', 'weights.pb']))).toBe(true);
  });
});
