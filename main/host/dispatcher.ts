import { fileURLToPath } from 'node:url';
import { ChannelError, isCommand, parseRequest, ToHost, type Command, type Handlers, type ToClient } from '../../app/channels';
import { LIMITS } from '../../app/limits';
import { clientErrorShape } from '../../app/studio';
import type { EventListener } from './studio-host';

export interface Connection {
  /** A message as it arrived from the transport (not yet trusted). */
  receive(raw: unknown): void;
  close(): void;
}

export interface DispatchLimits {
  requestsPerSecond: number;
  requestBurst: number;
}

/** The folder the studio runs from (the repo, or dist/ when bundled): never shown to clients. */
const OWN_FILES = [fileURLToPath(new URL('../..', import.meta.url))];

/**
 * Joins the handler table to any transport: each transport turns its socket or port into a
 * `send` and feeds what arrives to `receive`. Everything is validated here, once, for both;
 * each connection's request rate is limited here too, and errors leave as `{name, message}`.
 */
export class Dispatcher {
  constructor(
    private readonly handlers: Handlers,
    private readonly subscribe: (l: EventListener) => () => void,
    private readonly limits: DispatchLimits = LIMITS,
  ) {}

  connect(send: (msg: ToClient) => void): Connection {
    const calls = new Map<number, AbortController>();
    const allow = tokenBucket(this.limits.requestsPerSecond, this.limits.requestBurst);
    let open = true;
    const reply = (msg: ToClient): void => {
      if (open) send(msg);
    };
    const fail = (id: number, e: unknown): void => reply({ type: 'error', id, error: clientErrorShape(e, OWN_FILES) });
    const unsubscribe = this.subscribe((event, payload) => reply({ type: 'event', event, payload }));
    return {
      receive: (raw) => {
        const parsed = ToHost.safeParse(raw);
        const rawId = (raw as { id?: unknown } | null)?.id;
        const id = parsed.success ? parsed.data.id : typeof rawId === 'number' ? rawId : -1;
        if (!allow()) {
          return fail(id, new ChannelError(`too many requests: at most ${this.limits.requestsPerSecond} per second (bursts of ${this.limits.requestBurst})`));
        }
        if (!parsed.success) return fail(id, new ChannelError(`malformed message: ${parsed.error.issues[0]?.message}`));
        const msg = parsed.data;
        if (msg.type === 'cancel') return calls.get(msg.id)?.abort();
        if (calls.has(msg.id)) return fail(msg.id, new ChannelError(`call id ${msg.id} is already in flight`));
        const abort = new AbortController();
        calls.set(msg.id, abort);
        this.call(msg.command, msg.arg, abort.signal).then(
          (value) => reply({ type: 'result', id: msg.id, value }),
          (e: unknown) => fail(msg.id, e),
        ).finally(() => calls.delete(msg.id));
      },
      // Jobs keep running when a window or socket goes away: their results land in the history.
      close: () => {
        open = false;
        unsubscribe();
      },
    };
  }

  private async call(command: string, arg: unknown, signal: AbortSignal): Promise<unknown> {
    if (!isCommand(command)) throw new ChannelError(`unknown command "${command}"`);
    const handler = this.handlers[command] as (a: unknown, s: AbortSignal) => Promise<unknown>;
    return handler(parseRequest(command as Command, arg), signal);
  }
}

/** `burst` requests at once, refilled at `perSecond`: true while the caller is within it. */
function tokenBucket(perSecond: number, burst: number): () => boolean {
  let tokens = burst, at = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - at) / 1000) * perSecond);
    at = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
