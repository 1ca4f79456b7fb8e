import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Dispatcher } from '../dispatcher';
import { contentSecurityPolicy, staticFile } from '../static-files';

export interface WebOptions {
  host: string;
  port: number;
  token: string;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  dispatcher: Dispatcher;
}

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const COOKIE = 'studio_token';

/**
 * Serve mode's transport: the renderer over HTTP and the channel table over a WebSocket at /ws.
 * Every request and socket needs the token (query or the cookie set on the first page load), a
 * Host we serve under, and (when the browser sends one) our own Origin.
 */
export function startWebServer(o: WebOptions): Promise<WebServer> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  let port = o.port;
  const origins = (): string[] => hostNames(o.host).map((h) => `http://${h}:${port}`);

  const check = (req: IncomingMessage): { status: number; why: string } | undefined => {
    const host = req.headers.host ?? '';
    if (!anyHost(o.host) && !origins().includes(`http://${host}`)) return { status: 403, why: `unexpected Host "${host}"` };
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) return { status: 403, why: `cross-origin request from ${origin}` };
    if (!tokenMatches(tokenOf(req), o.token)) return { status: 401, why: 'missing or wrong token: open the URL the studio printed' };
    return undefined;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const denied = check(req);
    if (denied) return plain(res, denied.status, denied.why);
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed');
    const url = new URL(req.url ?? '/', 'http://x');
    const file = staticFile(o.staticDir, url.pathname);
    if (!file) return plain(res, 404, 'not found');
    res.writeHead(200, {
      'content-type': file.type,
      'content-security-policy': contentSecurityPolicy([`ws://${req.headers.host}`]),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
      // later requests (scripts, the socket) carry the token as a same-site, script-invisible cookie
      'set-cookie': `${COOKIE}=${o.token}; HttpOnly; SameSite=Strict; Path=/`,
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const denied = check(req) ?? (req.headers.origin === undefined ? { status: 403, why: 'a WebSocket without Origin' } : undefined);
    if (denied || new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
      const status = denied?.status ?? 404;
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\nconnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const conn = o.dispatcher.connect((msg) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg)));
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let raw: unknown;
        try {
          raw = JSON.parse(data.toString());
        } catch {
          raw = undefined;
        }
        conn.receive(raw);
      });
      ws.on('close', () => conn.close());
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const addr = server.address();
      port = typeof addr === 'object' && addr ? addr.port : o.port;
      const shown = anyHost(o.host) ? '127.0.0.1' : o.host.includes(':') ? `[${o.host}]` : o.host;
      resolve({
        url: `http://${shown}:${port}/?token=${o.token}`,
        port,
        close: () => new Promise<void>((done) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

const anyHost = (h: string): boolean => h === '0.0.0.0' || h === '::';
const hostNames = (h: string): string[] => [...new Set([h.includes(':') ? `[${h}]` : h, '127.0.0.1', 'localhost'])];

function tokenOf(req: IncomingMessage): string | undefined {
  const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  if (q) return q;
  const m = (req.headers.cookie ?? '').match(new RegExp(`(?:^|;\\s*)${COOKIE}=([^;]+)`));
  return m?.[1];
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(`${text}\n`);
}
