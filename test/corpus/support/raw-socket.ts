/**
 * Hostile traffic for serve mode, generated in code (no binaries committed): WebSocket frames
 * built byte by byte and a raw TCP client that performs the upgrade and then sends them.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface FrameOptions {
  fin?: boolean;
  opcode: number;
  payload?: Buffer | string;
  /** Clients must mask; false sends the protocol error of an unmasked frame. */
  mask?: boolean;
  rsv1?: boolean;
  /** Announce this length instead of the payload's (oversize without sending it all). */
  declaredLength?: number;
}

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One frame as RFC 6455 section 5.2 lays it out. */
export function frame(o: FrameOptions): Buffer {
  const payload = typeof o.payload === 'string' ? Buffer.from(o.payload) : (o.payload ?? Buffer.alloc(0));
  const len = o.declaredLength ?? payload.length;
  const mask = o.mask ?? true;
  const head = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv1 ? 0x40 : 0) | o.opcode];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(m | len);
  else if (len < 65536) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

export const text = (s: string | Buffer, o: Partial<FrameOptions> = {}): Buffer => frame({ opcode: OP.text, payload: s, ...o });
export const call = (id: number, command: string, arg: unknown = {}): string => JSON.stringify({ type: 'call', id, command, arg });

export interface RawSocket {
  socket: Socket;
  /** Text messages the server sent (unfragmented frames; the server never fragments). */
  messages: unknown[];
  /** The close code the server sent, once it did. */
  closeCode?: number;
  closed: Promise<void>;
  /** Resolves with the code of the server's close frame (it may then wait for ours). */
  closeFrame: Promise<number>;
  nextMessage(timeoutMs?: number): Promise<unknown>;
  pongs: number;
}

/** Upgrades over a bare TCP socket and parses what the server sends back. */
export function rawSocket(port: number, path: string, headers: Record<string, string>): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const waiters: ((m: unknown) => void)[] = [];
    let onClose: (code: number) => void = () => {};
    const raw: RawSocket = {
      socket, messages: [], pongs: 0,
      closed: new Promise((r) => socket.once('close', () => r())),
      closeFrame: new Promise((r) => (onClose = r)),
      nextMessage: (timeoutMs = 5000) => new Promise((res, rej) => {
        const have = raw.messages.shift();
        if (have !== undefined) return res(have);
        const t = setTimeout(() => rej(new Error('no message from the server')), timeoutMs);
        waiters.push((m) => {
          clearTimeout(t);
          res(m);
        });
      }),
    };
    const deliver = (m: unknown): void => {
      const w = waiters.shift();
      if (w) w(m);
      else raw.messages.push(m);
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(status.split('\r\n')[0]));
        upgraded = true;
        resolve(raw);
      }
      while (buf.length >= 2) {
        const op = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f, off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (op === OP.text) deliver(JSON.parse(payload.toString()));
        else if (op === OP.close) onClose((raw.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005));
        else if (op === OP.pong) raw.pongs++;
      }
    });
    const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** Writes raw bytes on a fresh TCP connection and collects everything until the server closes it. */
export function rawHttp(port: number, bytes: string | Buffer, waitMs = 5000): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d));
    socket.on('error', () => undefined);
    const t = setTimeout(() => socket.destroy(), waitMs);
    socket.once('close', () => {
      clearTimeout(t);
      resolve({ reply, closedAfterMs: Date.now() - t0 });
    });
    socket.write(bytes);
  });
}
