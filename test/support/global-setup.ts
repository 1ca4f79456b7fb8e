/**
 * Once before any test file: the renderer built, so the e2e files (in parallel forks) find it
 * fresh instead of each building it (2 x ~10 s of CPU on 2 cores, and one build emptied the folder
 * another file's page was loading from).
 */
import { join } from 'node:path';
import { ensureRenderer } from '../../main/host/build-renderer';

export default async function setup(): Promise<void> {
  await ensureRenderer(join(__dirname, '../..'));
}
