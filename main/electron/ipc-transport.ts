import type { ToClient } from '../../app/channels';
import type { Connection, Dispatcher } from '../host/dispatcher';
import type { ElectronMain, IpcMainEvent, WebContents } from './electron-api';
import { APP_ORIGIN, IPC_CHANNEL } from './ipc-channel';

/**
 * The desktop transport: the channel table over Electron IPC. One connection per window
 * (webContents); messages from any frame not on our own origin are dropped, then the
 * dispatcher validates what is left, as it does for the WebSocket.
 */
export function registerIpcTransport(electron: ElectronMain, dispatcher: Dispatcher): void {
  const connections = new Map<number, Connection>();
  const connectionOf = (sender: WebContents): Connection => {
    let c = connections.get(sender.id);
    if (!c) {
      c = dispatcher.connect((msg: ToClient) => {
        if (sender.isDestroyed()) {
          connections.get(sender.id)?.close();
          connections.delete(sender.id);
        } else sender.send(IPC_CHANNEL, msg);
      });
      connections.set(sender.id, c);
    }
    return c;
  };
  electron.ipcMain.on(IPC_CHANNEL, (event: IpcMainEvent, msg: unknown) => {
    const url = event.senderFrame?.url ?? '';
    if (!url.startsWith(`${APP_ORIGIN}/`)) return console.error(`ipc: dropped a message from ${url || 'an unknown frame'}`);
    connectionOf(event.sender).receive(msg);
  });
}
