import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuseSd } from '../../engine/accelerations/sd-fusions';
import { cachedRewrite, externalizeRewritten, linkExternalData } from '../../engine/onnx/graph-cache';
import { readModel, writeModel } from '../../engine/onnx/model-proto';
import { ExternalWriter, externalRef, readFloats, isFloatType } from '../../engine/onnx/tensor-data';
import { FIXTURE_MODEL } from '../parity/reference';

/** tiny-sd's UNet with every weight in model.onnx_data beside it, as SD exports keep them. */
function externalUnet(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ext-unet-'));
  const m = readModel(join(FIXTURE_MODEL, 'unet', 'model.onnx'));
  const data = new ExternalWriter(join(dir, 'model.onnx_data'));
  m.graph!.initializer = m.graph!.initializer!.map((t) => (t.rawData?.length ? data.put({ ...t, rawData: undefined }, t.rawData) : t)) as NonNullable<typeof m.graph>["initializer"];
  data.close();
  writeModel(join(dir, 'model.onnx'), m);
  return join(dir, 'model.onnx');
}

describe('a rewrite of a graph whose weights live beside it', () => {
  it('puts the weights it changed in its own data file beside the source\'s (the protobuf stays small), values equal to the inline rewrite', () => {
    const src = externalUnet();
    const inline = fuseSd(readModel(src), src, ['nhwcConv']).model;
    const dir = join(mkdtempSync(join(tmpdir(), 'rw-')), 'sd-fusions-x');
    mkdirSync(dir);
    const m = fuseSd(readModel(src), src, ['nhwcConv']).model;
    linkExternalData(m, src, dir);
    // tiny-sd's weights are small: a 1 KiB bound stands in for the 1 MiB one an SD UNet's convs pass
    expect(externalizeRewritten(m, join(dir, `${basename(dir)}.data`), 1024)).toBeGreaterThan(0);
    const path = join(dir, 'model.onnx');
    writeModel(path, m);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx_data', `${basename(dir)}.data`].sort());
    const out = readModel(path);
    expect(out.graph!.initializer!.filter((t) => externalRef(t)?.location === `${basename(dir)}.data`).length).toBeGreaterThan(20); // the transposed convs
    const want = new Map(inline.graph!.initializer!.map((t) => [t.name!, t]));
    for (const t of out.graph!.initializer!) {
      if (isFloatType(t.dataType)) expect(Array.from(readFloats(t, path)), t.name!).toEqual(Array.from(readFloats(want.get(t.name!)!, src)));
    }
  });

  it('cachedRewrite keeps a graph whose weights are inline as one file', () => {
    const src = join(FIXTURE_MODEL, 'unet', 'model.onnx');
    const dir = join(mkdtempSync(join(tmpdir(), 'rw-')), 'sd-fusions-y');
    const { path } = cachedRewrite(src, dir, (x) => fuseSd(x, src, ['nhwcConv']), () => true);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'report.json']);
    expect(statSync(path).size).toBeGreaterThan(statSync(src).size / 2);
  });
});
