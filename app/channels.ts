/**
 * The one channel table between the renderer and the host, VS Code style: commands answered by
 * `call(command, arg, signal)`, events delivered by `listen(event)`. Both transports (Electron IPC,
 * WebSocket) carry exactly these, validated on arrival at each end. Pure: no node, electron or DOM.
 */
import { z } from 'zod';
import { describeIssues } from './errors';
import {
  About, CompareRequest, EngineState, ErrorShape, HistoryManifest, HistorySummary, JobId, JobInfo, JobPreview, JobProgress,
  MAX_UPLOAD_BYTES, ModelEntry, ProviderStatus, StoredImage, StudioInfo, SweepRequest, GridRequest, MatrixRequest,
} from './studio';
import { ImageRef } from './run-request';
import { LIMITS } from './limits';
import { BlindRequest, BlindVote } from './blind';

const Empty = z.object({}).strict();
const Ok = z.object({ ok: z.literal(true) });

/** command name -> request and response schemas (one line per command). */
export const COMMANDS = {
  'studio.info': { request: Empty, response: StudioInfo },
  'studio.about': { request: Empty, response: About },
  'providers.list': { request: Empty, response: z.array(ProviderStatus) },
  'models.list': { request: Empty, response: z.array(ModelEntry) },
  'models.add': { request: z.object({ path: z.string().min(1) }).strict(), response: ModelEntry },
  /** How many CLIP tokens a prompt takes on a listed model, and the words past its limit (which are dropped). */
  'prompt.tokens': {
    request: z.object({ model: z.string().min(1), text: z.string().max(LIMITS.promptChars) }).strict(),
    response: z.object({ count: z.number().int(), max: z.number().int(), dropped: z.string() }),
  },
  'models.remove': { request: z.object({ dir: z.string().min(1) }).strict(), response: Ok },
  /** A PNG (base64: JSON transports carry text) into the workspace store, once; runs then name it by ref. */
  'inputs.upload': {
    request: z.object({ png: z.string().min(1).max(Math.ceil(MAX_UPLOAD_BYTES / 3) * 4, `inputs.upload: the PNG must be at most ${MAX_UPLOAD_BYTES / 2 ** 20} MiB`) }).strict(),
    response: StoredImage,
  },
  /** A stored or workspace image as a data: URL (e.g. a history entry's init image). */
  'inputs.get': { request: z.object({ ref: ImageRef }).strict(), response: StoredImage.extend({ dataUrl: z.string() }) },
  'jobs.compare': { request: CompareRequest, response: HistoryManifest },
  'jobs.sweep': { request: SweepRequest, response: HistoryManifest },
  'jobs.grid': { request: GridRequest, response: HistoryManifest },
  'jobs.matrix': { request: MatrixRequest, response: HistoryManifest },
  'jobs.blind': { request: BlindRequest, response: HistoryManifest },
  /** One vote of a blind session (pair is 0-based); `ms` is the time from showing the pair to the vote. */
  'blind.vote': { request: z.object({ id: JobId, pair: z.number().int().min(0), vote: BlindVote, ms: z.number().nonnegative().max(86_400_000) }).strict(), response: HistoryManifest },
  'jobs.cancel': { request: z.object({ jobId: JobId }).strict(), response: z.object({ cancelled: z.boolean() }) },
  'jobs.list': { request: Empty, response: z.array(JobInfo) },
  'history.list': { request: Empty, response: z.array(HistorySummary) },
  'history.get': { request: z.object({ id: JobId }).strict(), response: HistoryManifest },
  /** A file of an entry (PNG) as a data: URL; names are checked against the entry's manifest. */
  'history.file': { request: z.object({ id: JobId, file: z.string().min(1) }).strict(), response: z.object({ dataUrl: z.string() }) },
  'history.delete': { request: z.object({ id: JobId }).strict(), response: Ok },
  /** A self-contained HTML report of the entry (also saved beside it as report.html). */
  'history.export': { request: z.object({ id: JobId }).strict(), response: z.object({ html: z.string(), path: z.string() }) },
} as const;

/** event name -> payload schema. */
export const EVENTS = {
  'job.state': JobInfo,
  'job.progress': JobProgress,
  'job.preview': JobPreview,
  'engine.state': EngineState,
  'history.changed': z.object({ id: z.string(), removed: z.boolean() }),
} as const;

export type Command = keyof typeof COMMANDS;
export type EventName = keyof typeof EVENTS;
export type RequestOf<C extends Command> = z.input<(typeof COMMANDS)[C]['request']>;
export type ParsedRequestOf<C extends Command> = z.output<(typeof COMMANDS)[C]['request']>;
export type ResponseOf<C extends Command> = z.output<(typeof COMMANDS)[C]['response']>;
export type PayloadOf<E extends EventName> = z.output<(typeof EVENTS)[E]>;

export const isCommand = (c: string): c is Command => Object.hasOwn(COMMANDS, c);
export const isEvent = (e: string): e is EventName => Object.hasOwn(EVENTS, e);

/** The two verbs the renderer talks through, whatever the transport. */
export interface StudioClient {
  call<C extends Command>(command: C, arg: RequestOf<C>, signal?: AbortSignal): Promise<ResponseOf<C>>;
  listen<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void;
}

/** The host's side: one handler per command; transports only move messages. */
export type Handlers = { [C in Command]: (arg: ParsedRequestOf<C>, signal: AbortSignal) => Promise<ResponseOf<C>> };

// ---- the wire: what each transport carries ----

export const ToHost = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call'), id: z.number().int().nonnegative(), command: z.string(), arg: z.unknown() }),
  z.object({ type: z.literal('cancel'), id: z.number().int().nonnegative() }),
]);
export type ToHost = z.infer<typeof ToHost>;

export const ToClient = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.number().int(), value: z.unknown() }),
  z.object({ type: z.literal('error'), id: z.number().int(), error: ErrorShape }),
  z.object({ type: z.literal('event'), event: z.string(), payload: z.unknown() }),
]);
export type ToClient = z.infer<typeof ToClient>;

/** Checks a command's argument on arrival; the error names the command and the field. */
export function parseRequest<C extends Command>(command: C, arg: unknown): ParsedRequestOf<C> {
  const r = COMMANDS[command].request.safeParse(arg);
  if (!r.success) throw new ChannelError(`${command}: invalid request: ${describeIssues(r.error, 3)}`);
  return r.data as ParsedRequestOf<C>;
}

export function parseResponse<C extends Command>(command: C, value: unknown): ResponseOf<C> {
  const r = COMMANDS[command].response.safeParse(value);
  if (!r.success) throw new ChannelError(`${command}: invalid response: ${describeIssues(r.error, 3)}`);
  return r.data as ResponseOf<C>;
}

export function parseEvent<E extends EventName>(event: E, payload: unknown): PayloadOf<E> {
  const r = EVENTS[event].safeParse(payload);
  if (!r.success) throw new ChannelError(`${event}: invalid event: ${describeIssues(r.error, 3)}`);
  return r.data as PayloadOf<E>;
}

export class ChannelError extends Error {
  override name = 'ChannelError';
}

/** What the Electron preload exposes as `window.studio`: the wire, checked in the preload both ways. */
export interface StudioBridge {
  send(msg: ToHost): void;
  onMessage(cb: (msg: ToClient) => void): () => void;
}
