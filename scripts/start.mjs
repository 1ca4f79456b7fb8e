#!/usr/bin/env node
// `npm start`. Until the studio UI lands (issue 6), it runs the engine once on the embedded model
// and prints where the image went.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const embedded = join(root, 'assets/models/emoji-sd');
const model = existsSync(join(embedded, 'model_index.json')) ? embedded : join(root, 'test/fixtures/tiny-sd');
if (model !== embedded) console.error('note: the embedded model is not installed yet; using the tiny random parity model (its images are noise)');
const out = join(root, 'outputs', 'start.png');
const args = ['--import', 'tsx', join(root, 'engine/cli/main.ts'), 'generate', '--model', model,
  '--prompt', 'a smiling cat face, twemoji style', '--seed', '42', '--steps', '25', '--scheduler', 'euler-a', '--out', out];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
