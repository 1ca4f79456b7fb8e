import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../../engine/onnx/model-proto';

/** A copy of a model folder whose UNet keeps its weights in `unet/model.onnx_data`, as big exports do. */
export function withExternalUnet(modelDir: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'ext-')), 'model');
  cpSync(modelDir, dir, { recursive: true, dereference: true });
  const path = join(dir, 'unet', 'model.onnx');
  const m = readModel(path);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of m.graph!.initializer!) {
    if (!t.rawData || t.rawData.length < 1024) continue;
    const b = Buffer.from(t.rawData);
    t.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(b.length) }];
    t.dataLocation = 1;
    t.rawData = new Uint8Array(0);
    chunks.push(b);
    offset += b.length;
  }
  writeFileSync(join(dir, 'unet', 'model.onnx_data'), Buffer.concat(chunks));
  writeModel(path, m);
  return dir;
}
