import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../../engine/onnx/model-proto';

/** Writes `src` as `<dir>/model.onnx` with every weight in `<dir>/model.onnx_data`, as big exports store them. */
export function externalizeGraph(src: string, dir: string): string {
  const m = readModel(src);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of m.graph!.initializer!) {
    if (!t.rawData?.length) continue;
    chunks.push(Buffer.from(t.rawData));
    t.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(t.rawData.length) }];
    t.dataLocation = 1;
    offset += t.rawData.length;
    t.rawData = new Uint8Array();
  }
  writeFileSync(join(dir, 'model.onnx_data'), Buffer.concat(chunks));
  writeModel(join(dir, 'model.onnx'), m);
  return join(dir, 'model.onnx');
}

/** A copy of a model folder whose UNet keeps its weights in `unet/model.onnx_data`. */
export function withExternalUnet(modelDir: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'ext-')), 'model');
  cpSync(modelDir, dir, { recursive: true, dereference: true });
  externalizeGraph(join(modelDir, 'unet', 'model.onnx'), join(dir, 'unet'));
  return dir;
}
