import type { ToHost } from '../../app/channels';
import { RpcClient, type Wire } from './rpc';

export type ConnectionStatus = 'connecting' | 'open' | 'closed';

/**
 * Serve mode: the channel table over a WebSocket to the page's own origin. The token comes from
 * the URL the studio printed (the HttpOnly cookie also carries it). Reconnects after a drop.
 */
export function websocketClient(onStatus: (s: ConnectionStatus) => void = () => {}): RpcClient {
  const token = new URLSearchParams(location.search).get('token');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  let ws: WebSocket;
  let queue: string[] = [];
  const messageCbs: ((raw: unknown) => void)[] = [];
  const closeCbs: ((reason: string) => void)[] = [];
  const open = (): void => {
    onStatus('connecting');
    ws = new WebSocket(url);
    ws.onopen = () => {
      onStatus('open');
      for (const m of queue) ws.send(m);
      queue = [];
    };
    ws.onmessage = (e) => {
      let raw: unknown;
      try {
        raw = JSON.parse(String(e.data));
      } catch {
        raw = undefined;
      }
      for (const cb of messageCbs) cb(raw);
    };
    ws.onclose = (e) => {
      onStatus('closed');
      for (const cb of closeCbs) cb(e.reason || `code ${e.code}`);
      setTimeout(open, 1000);
    };
  };
  const wire: Wire = {
    send: (msg: ToHost) => {
      const text = JSON.stringify(msg);
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
      else queue.push(text);
    },
    onMessage: (cb) => messageCbs.push(cb),
    onClose: (cb) => closeCbs.push(cb),
  };
  open();
  return new RpcClient(wire);
}
