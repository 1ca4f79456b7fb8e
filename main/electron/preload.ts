/**
 * The preload: exposes `window.studio` (one object, the wire of app/channels.ts) and nothing else.
 * Both directions are checked here against the channel table before they go on, as Signal's
 * preloads do: the renderer cannot send an unknown command or a malformed argument, and it only
 * receives responses and events that match their schemas.
 */
import {
  ChannelError, isCommand, isEvent, parseEvent, parseRequest, parseResponse, ToClient, ToHost, type Command, type StudioBridge,
} from '../../app/channels';
import { toErrorShape } from '../../app/studio';
import { IPC_CHANNEL } from './ipc-channel';

interface PreloadElectron {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: {
    send(channel: string, ...args: unknown[]): void;
    on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  };
}

// sandboxed preloads get a require() that knows 'electron' only; this file is bundled to CommonJS
declare const require: (id: 'electron') => PreloadElectron;
const { contextBridge, ipcRenderer } = require('electron');
const pending = new Map<number, Command>();

function check(raw: unknown): ToClient | undefined {
  const parsed = ToClient.safeParse(raw);
  if (!parsed.success) return undefined;
  const m = parsed.data;
  try {
    if (m.type === 'event') return isEvent(m.event) ? { ...m, payload: parseEvent(m.event, m.payload) } : undefined;
    const command = pending.get(m.id);
    pending.delete(m.id);
    if (m.type === 'result' && command) return { ...m, value: parseResponse(command, m.value) };
    return m;
  } catch (e) {
    return m.type === 'event' ? undefined : { type: 'error', id: m.id, error: toErrorShape(e) };
  }
}

const studio: StudioBridge = {
  send(msg) {
    const m = ToHost.parse(msg);
    if (m.type === 'call') {
      if (!isCommand(m.command)) throw new ChannelError(`unknown command "${m.command}"`);
      parseRequest(m.command, m.arg);
      pending.set(m.id, m.command);
    }
    ipcRenderer.send(IPC_CHANNEL, m);
  },
  onMessage(cb) {
    listeners.add(cb);
    return () => listeners.delete(cb);
  },
};

// one IPC listener: each message is checked once, then handed to every subscriber
const listeners = new Set<(m: ToClient) => void>();
ipcRenderer.on(IPC_CHANNEL, (_e: unknown, raw: unknown) => {
  const m = check(raw);
  if (m) for (const l of listeners) l(m);
});

contextBridge.exposeInMainWorld('studio', studio);
