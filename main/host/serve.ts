#!/usr/bin/env node
/** `npm run serve`: the studio in a browser. The same renderer and channel table as the Electron app. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { ensureRenderer } from './build-renderer';
import { Dispatcher } from './dispatcher';
import { createHandlers } from './handlers';
import { FALLBACK_NOTE } from './models';
import { forkEngine } from './spawn-fork';
import { StudioHost } from './studio-host';
import { startWebServer } from './transports/websocket';
import { resolveUserPath } from './workspace-paths';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

const port = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError(`--port must be 0..65535, got "${v}"`);
  return Number(v);
};

const program = new Command('serve')
  .description('serve the studio over HTTP + WebSocket (open the printed URL; it carries the access token)')
  .option('--host <address>', 'address to bind; anything but loopback exposes the studio to your network', '127.0.0.1')
  .option('--port <n>', 'port (0 picks a free one)', port, 8788)
  .option('--workspace <dir>', 'where runs are kept', join(homedir(), 'DiffusionABStudio'))
  .option('--no-build', 'serve dist/renderer as it is (do not rebuild it when the sources are newer)')
  .action(async (o: { host: string; port: number; workspace: string; build: boolean }) => {
    if (!LOOPBACK.has(o.host)) {
      console.error(`warning: binding ${o.host}: anyone who can reach this machine and has the token can use the studio and read its workspace`);
    }
    const staticDir = o.build ? await ensureRenderer(ROOT) : join(ROOT, 'dist', 'renderer');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const host = new StudioHost({
      workspace: resolveUserPath(o.workspace), mode: 'serve', spawnEngine: forkEngine(), version,
      models: { embedded: join(ROOT, 'assets/models/emoji-sd'), fixture: join(ROOT, 'test/fixtures/tiny-sd') },
    });
    const dispatcher = new Dispatcher(createHandlers(host), (l) => host.onEvent(l));
    const token = randomBytes(24).toString('base64url');
    const web = await startWebServer({ host: o.host, port: o.port, token, staticDir, dispatcher });
    void host.engine.start().catch((e: Error) => console.error(`engine host: ${e.message}`));
    if (!host.models.embeddedInstalled) console.error(`note: ${FALLBACK_NOTE}`);
    console.log(`Diffusion A/B Studio (serve mode), workspace ${host.opts.workspace}`);
    console.log(`open ${web.url}`);

    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      console.error(`${signal}: stopping (running jobs are cancelled and saved)…`);
      await web.close();
      await host.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
