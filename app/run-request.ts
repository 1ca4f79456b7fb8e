/**
 * Images a run needs travel by reference, never as bytes inside a run request: a PNG path, or
 * the content hash of an image uploaded into the workspace store. Pure: no node, electron or DOM.
 */
import { z } from 'zod';

export const ImageRef = z.union([
  z.object({ path: z.string().min(1).max(4096) }).strict(),          // a PNG file (CLI: any path; studio: inside the workspace)
  z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(), // an image uploaded into the workspace store
]);
export type ImageRef = z.infer<typeof ImageRef>;

export const RunInputs = z.object({ initImage: ImageRef.optional(), mask: ImageRef.optional(), controlImage: ImageRef.optional() }).strict();
export type RunInputs = z.infer<typeof RunInputs>;
