import { join, resolve } from 'node:path';
import { contentSecurityPolicy, staticFile } from '../host/static-files';
import type { BrowserWindow, ElectronMain } from './electron-api';
import { APP_ORIGIN } from './ipc-channel';

/** Must run before app ready: our scheme behaves like https (standard, secure origin). */
export function registerAppScheme(electron: ElectronMain): void {
  electron.protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/**
 * Electron's security checklist, applied: the renderer comes from app://studio (the built files
 * only, with a strict CSP), no remote content loads, navigation and new windows are refused,
 * permissions are denied, and the window is sandboxed with context isolation and no Node.
 */
export function lockDown(electron: ElectronMain, rendererDir: string): void {
  const { app, protocol, session } = electron;
  protocol.handle('app', (req) => {
    const url = new URL(req.url);
    const file = url.host === 'studio' ? staticFile(resolve(rendererDir), url.pathname) : undefined;
    if (!file) return new Response('not found', { status: 404 });
    return new Response(new Uint8Array(file.body), {
      headers: { 'content-type': file.type, 'content-security-policy': contentSecurityPolicy(), 'x-content-type-options': 'nosniff' },
    });
  });
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // only our own files, inline data and devtools; nothing from the network
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !/^(app:\/\/studio\/|data:|blob:|devtools:)/.test(details.url) }));
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    const stay = (e: { preventDefault(): void }, url: string): void => {
      if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
    };
    contents.on('will-navigate', stay);
    contents.on('will-redirect', stay);
    contents.on('will-frame-navigate', stay);
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

export function createWindow(electron: ElectronMain, preloadDir: string): BrowserWindow {
  const win = new electron.BrowserWindow({
    width: 1480, height: 940, minWidth: 1100, minHeight: 700, backgroundColor: '#0f1218', title: 'Diffusion A/B Studio', show: false,
    webPreferences: {
      preload: join(preloadDir, 'preload.cjs'),
      contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webSecurity: true,
      allowRunningInsecureContent: false, webviewTag: false, spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}
