import type { StudioBridge } from '../../app/channels';
import { RpcClient } from './rpc';

declare global {
  interface Window {
    /** Present only in the Electron window (the preload's contextBridge API). */
    studio?: StudioBridge;
  }
}

/** Electron: the same protocol over the preload's IPC bridge (it validates too, on its side). */
export function electronClient(bridge: StudioBridge): RpcClient {
  return new RpcClient({
    send: (msg) => bridge.send(msg),
    onMessage: (cb) => bridge.onMessage(cb),
    onClose: () => {}, // the main process outlives the window; the engine host restarts behind it
  });
}
