/**
 * The desktop app's main process: the secure window, the engine host in a utilityProcess, and
 * the same StudioHost and handler table serve mode uses, over IPC. Bundled to
 * dist/main/electron/main.js by scripts/build-electron.mjs.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dispatcher } from '../host/dispatcher';
import { createHandlers } from '../host/handlers';
import { StudioHost } from '../host/studio-host';
import { loadElectron } from './electron-api';
import { registerIpcTransport } from './ipc-transport';
import { utilityEngine } from './spawn-utility';
import { createWindow, lockDown, registerAppScheme } from './window';
import { resolveUserPath } from '../host/workspace-paths';

const electron = loadElectron();
const { app } = electron;
const here = dirname(fileURLToPath(import.meta.url)); // dist/main/electron
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};

app.enableSandbox();
registerAppScheme(electron);

void app.whenReady().then(() => {
  const root = app.getAppPath();
  const resources = app.isPackaged ? (process as NodeJS.Process & { resourcesPath: string }).resourcesPath : join(root, 'assets');
  lockDown(electron, join(root, 'dist', 'renderer'));
  const host = new StudioHost({
    workspace: resolveUserPath(flag('--workspace') ?? join(homedir(), 'DiffusionABStudio')),
    mode: 'electron',
    version: app.getVersion(),
    spawnEngine: utilityEngine(electron, join(here, '..', 'engine-host', 'engine-process.mjs')),
    models: { embedded: join(resources, 'models', 'emoji-sd'), fixture: join(root, 'test', 'fixtures', 'tiny-sd') },
  });
  registerIpcTransport(electron, new Dispatcher(createHandlers(host), (l) => host.onEvent(l)));
  void host.engine.start().catch((e: Error) => console.error(`engine host: ${e.message}`));
  createWindow(electron, here);

  let closing = false;
  app.on('before-quit', (e) => {
    if (closing) return;
    closing = true;
    e.preventDefault(); // let running jobs be saved as cancelled and the engine host stop first
    void host.close().finally(() => app.exit(0));
  });
  app.on('window-all-closed', () => app.quit());
});
