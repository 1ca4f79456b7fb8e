/**
 * Every stated limit of the studio in one place: what a client, a file or a request may carry,
 * checked before any work. Pure (the `common` layer): no node, electron or DOM imports.
 */
const MiB = 1024 * 1024;

export const LIMITS = {
  /** Prompt and negative prompt, each, in characters. */
  promptChars: 4000,
  /** Width and height of a generated or uploaded image, in pixels. */
  imageSide: 4096,
  /** An uploaded image file (PNG bytes, before base64). */
  uploadBytes: 16 * MiB,
  /** One WebSocket message: an upload base64-encoded (4/3 of its bytes) plus the JSON around it. */
  messageBytes: Math.ceil((16 * MiB * 4) / 3) + 64 * 1024,
  /** Requests per socket or window: a bucket of `requestBurst` refilled at `requestsPerSecond`. */
  requestsPerSecond: 50,
  requestBurst: 200,
  /** HTTP: all headers must arrive within this, the whole request within requestMs. */
  headersMs: 10_000,
  requestMs: 30_000,
  /** An idle keep-alive HTTP connection is closed after this. */
  keepAliveMs: 5_000,
  /** How often the HTTP server checks the two timeouts above (Node's default is 30 s). */
  timeoutCheckMs: 1_000,
  /** A WebSocket that answers no ping for this long is dropped. */
  socketIdleMs: 60_000,
  /**
   * A running engine job with no message (progress, heartbeat) and, where the OS tells it, no CPU
   * time used for this long: the engine host is hung and is restarted.
   */
  engineSilenceMs: 120_000,
  /** How often the engine host says it is alive while it works. */
  engineHeartbeatMs: 2_000,
} as const;

export type Limits = { -readonly [K in keyof typeof LIMITS]: number };
