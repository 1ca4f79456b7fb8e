/**
 * The slice of Electron's main-process API the studio uses, typed here because electron is an
 * optional dependency: offline installs have no electron package, and typecheck must pass
 * without it. (Checked against electron 38's electron.d.ts when written.)
 */
import { createRequire } from 'node:module';

export interface PreventableEvent {
  preventDefault(): void;
}

export interface WebContents {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
  on(event: 'will-navigate' | 'will-redirect' | 'will-frame-navigate', listener: (e: PreventableEvent, url: string) => void): this;
  on(event: 'will-attach-webview', listener: (e: PreventableEvent) => void): this;
  once(event: 'destroyed', listener: () => void): this;
}

export interface BrowserWindowOptions {
  width: number;
  height: number;
  minWidth?: number;
  minHeight?: number;
  backgroundColor?: string;
  title?: string;
  show?: boolean;
  webPreferences: {
    preload: string;
    contextIsolation: true;
    sandbox: true;
    nodeIntegration: false;
    nodeIntegrationInWorker: false;
    webSecurity: true;
    allowRunningInsecureContent: false;
    webviewTag: false;
    spellcheck?: boolean;
  };
}

export interface BrowserWindow {
  readonly webContents: WebContents;
  loadURL(url: string): Promise<void>;
  once(event: 'ready-to-show', listener: () => void): this;
  show(): void;
}

export interface UtilityProcess {
  readonly pid: number | undefined;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
  on(event: 'error', listener: (type: string, location: string, report: string) => void): this;
  once(event: 'exit', listener: (code: number) => void): this;
  kill(): boolean;
}

export interface IpcMainEvent {
  readonly sender: WebContents;
  readonly senderFrame: { readonly url: string } | null;
}

export interface ElectronMain {
  app: {
    readonly isPackaged: boolean;
    whenReady(): Promise<void>;
    getAppPath(): string;
    getVersion(): string;
    enableSandbox(): void;
    quit(): void;
    exit(code?: number): void;
    on(event: 'window-all-closed', listener: () => void): unknown;
    on(event: 'before-quit', listener: (e: PreventableEvent) => void): unknown;
    on(event: 'web-contents-created', listener: (e: unknown, contents: WebContents) => void): unknown;
  };
  BrowserWindow: new (options: BrowserWindowOptions) => BrowserWindow;
  ipcMain: {
    on(channel: string, listener: (event: IpcMainEvent, ...args: unknown[]) => void): unknown;
  };
  protocol: {
    registerSchemesAsPrivileged(schemes: { scheme: string; privileges: { standard?: boolean; secure?: boolean; supportFetchAPI?: boolean } }[]): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };
  session: {
    readonly defaultSession: {
      setPermissionRequestHandler(handler: (wc: WebContents, permission: string, callback: (granted: boolean) => void) => void): void;
      setPermissionCheckHandler(handler: (wc: WebContents | null, permission: string) => boolean): void;
      webRequest: {
        onBeforeRequest(listener: (details: { url: string }, callback: (response: { cancel?: boolean }) => void) => void): void;
      };
    };
  };
  utilityProcess: {
    fork(modulePath: string, args?: string[], options?: { serviceName?: string; stdio?: 'pipe' | 'inherit' | 'ignore' | ('pipe' | 'ignore' | 'inherit')[]; env?: NodeJS.ProcessEnv }): UtilityProcess;
  };
}

export function loadElectron(): ElectronMain {
  return createRequire(import.meta.url)('electron') as ElectronMain;
}
