import type { StudioClient } from '../../app/channels';
import { electronClient } from './electron';
import { websocketClient, type ConnectionStatus } from './websocket';

/** One line per transport: the preload's bridge when there is one, else the page's WebSocket. */
export function createClient(onStatus: (s: ConnectionStatus) => void): StudioClient {
  if (window.studio) return electronClient(window.studio);
  return websocketClient(onStatus);
}
