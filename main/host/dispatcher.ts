import { ChannelError, isCommand, parseRequest, ToHost, type Command, type Handlers, type ToClient } from '../../app/channels';
import { toErrorShape } from '../../app/studio';
import type { EventListener } from './studio-host';

export interface Connection {
  /** A message as it arrived from the transport (not yet trusted). */
  receive(raw: unknown): void;
  close(): void;
}

/**
 * Joins the handler table to any transport: each transport turns its socket or port into a
 * `send` and feeds what arrives to `receive`. Everything is validated here, once, for both.
 */
export class Dispatcher {
  constructor(private readonly handlers: Handlers, private readonly subscribe: (l: EventListener) => () => void) {}

  connect(send: (msg: ToClient) => void): Connection {
    const calls = new Map<number, AbortController>();
    let open = true;
    const reply = (msg: ToClient): void => {
      if (open) send(msg);
    };
    const unsubscribe = this.subscribe((event, payload) => reply({ type: 'event', event, payload }));
    return {
      receive: (raw) => {
        const parsed = ToHost.safeParse(raw);
        if (!parsed.success) {
          const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
          return reply({ type: 'error', id, error: toErrorShape(new ChannelError(`malformed message: ${parsed.error.issues[0]?.message}`)) });
        }
        const msg = parsed.data;
        if (msg.type === 'cancel') return calls.get(msg.id)?.abort();
        const abort = new AbortController();
        calls.set(msg.id, abort);
        this.call(msg.command, msg.arg, abort.signal).then(
          (value) => reply({ type: 'result', id: msg.id, value }),
          (e: unknown) => reply({ type: 'error', id: msg.id, error: toErrorShape(e) }),
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
