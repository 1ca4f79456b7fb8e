import {
  ChannelError, isEvent, parseEvent, parseResponse, ToClient, type Command, type EventName, type PayloadOf, type RequestOf, type ResponseOf,
  type StudioClient, type ToHost,
} from '../../app/channels';
import { fromErrorShape } from '../../app/studio';
import { CancelledError } from '../../app/errors';

/** A duplex message pipe (a WebSocket, or a test's in-memory pair). */
export interface Wire {
  send(msg: ToHost): void;
  onMessage(cb: (raw: unknown) => void): void;
  /** Called when the pipe drops: calls in flight fail rather than hang. */
  onClose(cb: (reason: string) => void): void;
}

/**
 * The client half of the channel protocol over any wire: numbered calls, explicit cancellation,
 * responses and events checked against the channel table on arrival.
 */
export class RpcClient implements StudioClient {
  private nextId = 1;
  private readonly calls = new Map<number, { command: Command; resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Map<EventName, Set<(p: unknown) => void>>();

  constructor(private readonly wire: Wire) {
    wire.onMessage((raw) => this.receive(raw));
    wire.onClose((reason) => {
      for (const c of this.calls.values()) c.reject(new ChannelError(`connection to the studio host lost (${reason})`));
      this.calls.clear();
    });
  }

  call<C extends Command>(command: C, arg: RequestOf<C>, signal?: AbortSignal): Promise<ResponseOf<C>> {
    const id = this.nextId++;
    return new Promise<ResponseOf<C>>((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError());
      this.calls.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      signal?.addEventListener('abort', () => this.wire.send({ type: 'cancel', id }), { once: true });
      this.wire.send({ type: 'call', id, command, arg });
    });
  }

  listen<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = listener as (p: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  }

  private receive(raw: unknown): void {
    const parsed = ToClient.safeParse(raw);
    if (!parsed.success) return console.error('studio: dropped a malformed message from the host', parsed.error.issues[0]);
    const msg = parsed.data;
    if (msg.type === 'event') {
      if (!isEvent(msg.event)) return console.error(`studio: unknown event ${msg.event}`);
      let payload: unknown;
      try {
        payload = parseEvent(msg.event, msg.payload);
      } catch (e) {
        return console.error((e as Error).message);
      }
      for (const l of this.listeners.get(msg.event) ?? []) l(payload);
      return;
    }
    const call = this.calls.get(msg.id);
    if (!call) return;
    this.calls.delete(msg.id);
    if (msg.type === 'error') return call.reject(fromErrorShape(msg.error));
    try {
      call.resolve(parseResponse(call.command, msg.value));
    } catch (e) {
      call.reject(e as Error);
    }
  }
}

