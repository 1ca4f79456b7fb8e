import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { LIMITS, type Limits } from '../../../app/limits';
import type { Dispatcher } from '../dispatcher';
import { contentSecurityPolicy, staticFile } from '../static-files';

export interface WebOptions {
  host: string;
  port: number;
  token: string;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  dispatcher: Dispatcher;
  /** app/limits.ts unless a test shortens them. */
  limits?: Partial<Limits>;
}

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const COOKIE = 'studio_token';
/** Node's parser errors a client caused, as the status Node itself would send. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};
/** RFC 6455's close code for a data type the endpoint does not take. */
const UNSUPPORTED_DATA = 1003;

/**
 * Serve mode's transport: the renderer over HTTP and the channel table over a WebSocket at /ws.
 * Every request and socket needs the token (query or the cookie set on the first page load), a
 * Host we serve under, and (when the browser sends one) our own Origin. Nothing a client sends
 * (a reset, a protocol error, a flood, a slow header) ends more than that client's connection.
 */
export function startWebServer(o: WebOptions): Promise<WebServer> {
  const limits: Limits = { ...LIMITS, ...o.limits };
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.messageBytes });
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

  const server = createServer({
    headersTimeout: limits.headersMs, requestTimeout: limits.requestMs, keepAliveTimeout: limits.keepAliveMs,
    connectionsCheckingInterval: limits.timeoutCheckMs,
  }, (req: IncomingMessage, res: ServerResponse) => {
    const denied = check(req);
    if (denied) return plain(res, denied.status, denied.why);
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed');
    const file = staticFile(o.staticDir, pathOf(req));
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
  // a reset or broken pipe on any connection is that connection's end, never the server's
  server.on('connection', (socket) => socket.on('error', () => socket.destroy()));
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const [status, text] = CLIENT_ERRORS[e.code ?? ''] ?? [400, 'Bad Request'];
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\n\r\n`);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const denied = check(req) ?? (req.headers.origin === undefined ? { status: 403, why: 'a WebSocket without Origin' } : undefined);
    if (denied || pathOf(req) !== '/ws') {
      const status = denied?.status ?? 404;
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\nconnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => admit(ws));
  });

  const admit = (ws: WebSocket): void => {
    const send = (msg: unknown): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const conn = o.dispatcher.connect(send); // which also limits the request rate
    let alive = true;
    // ws closes the socket itself with the right code (1002, 1007, 1009); the error is only reported
    ws.on('error', () => undefined);
    ws.on('pong', () => (alive = true));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        send({ type: 'error', id: -1, error: { name: 'ChannelError', message: 'binary frames are not accepted: send each message as JSON text' } });
        return ws.close(UNSUPPORTED_DATA, 'binary frames are not accepted');
      }
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        raw = undefined;
      }
      conn.receive(raw);
    });
    // a socket that stops answering pings (a peer gone without a FIN) is dropped
    const ping = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, limits.socketIdleMs);
    ws.on('close', () => {
      clearInterval(ping);
      conn.close();
    });
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      server.on('error', (e) => console.error(`serve: ${e.message}`));
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

/** The request target parsed; one a URL parser refuses (`http://[x`) is no path we serve. */
function urlOf(req: IncomingMessage): URL {
  return URL.canParse(req.url ?? '/', 'http://x') ? new URL(req.url ?? '/', 'http://x') : new URL('http://x/%00');
}
const pathOf = (req: IncomingMessage): string => urlOf(req).pathname;

function tokenOf(req: IncomingMessage): string | undefined {
  const q = urlOf(req).searchParams.get('token');
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
