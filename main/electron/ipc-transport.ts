import type { ToClient } from '../../app/channels';
import { ChannelError } from '../../app/channels';
import { LIMITS } from '../../app/limits';
import type { Connection, Dispatcher } from '../host/dispatcher';
import type { ElectronMain, IpcMainEvent, WebContents } from './electron-api';
import { APP_ORIGIN, IPC_CHANNEL } from './ipc-channel';

/**
 * The desktop transport: the channel table over Electron IPC. One connection per window
 * (webContents), closed when the window goes; messages from any frame not on our own origin are
 * dropped, one over the message size limit is refused, then the dispatcher validates what is left
 * (and limits the request rate), as it does for the WebSocket.
 */
export function registerIpcTransport(electron: ElectronMain, dispatcher: Dispatcher): void {
  const connections = new Map<number, Connection>();
  const drop = (sender: WebContents): void => {
    connections.get(sender.id)?.close();
    connections.delete(sender.id);
  };
  const connectionOf = (sender: WebContents): Connection => {
    let c = connections.get(sender.id);
    if (!c) {
      c = dispatcher.connect((msg: ToClient) => (sender.isDestroyed() ? drop(sender) : sender.send(IPC_CHANNEL, msg)));
      connections.set(sender.id, c);
      sender.once('destroyed', () => drop(sender));
    }
    return c;
  };
  electron.ipcMain.on(IPC_CHANNEL, (event: IpcMainEvent, msg: unknown) => {
    const url = event.senderFrame?.url ?? '';
    if (!url.startsWith(`${APP_ORIGIN}/`)) return console.error(`ipc: dropped a message from ${url || 'an unknown frame'}`);
    const size = byteSize(msg);
    if (size > LIMITS.messageBytes) {
      const id = (msg as { id?: unknown }).id;
      const e = new ChannelError(`message of ${size} bytes is over the limit of ${LIMITS.messageBytes}`);
      return event.sender.send(IPC_CHANNEL, { type: 'error', id: typeof id === 'number' ? id : -1, error: { name: e.name, message: e.message } } satisfies ToClient);
    }
    connectionOf(event.sender).receive(msg);
  });
}

/** The size of a message as JSON (what the WebSocket would carry); cyclic or unserialisable: infinite. */
function byteSize(msg: unknown): number {
  try {
    return JSON.stringify(msg)?.length ?? 0;
  } catch {
    return Infinity;
  }
}
