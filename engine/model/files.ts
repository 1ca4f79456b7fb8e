import { LIMITS, readFileBoundedAsync, readTextBounded } from '../io/read-file';

/** The file each object readJsonFile returned was read from, so later checks (a scheduler's ranges) can name it. */
const sources = new WeakMap<object, string>();
export function jsonSource(value: object): string | undefined {
  return sources.get(value);
}

/** Reads and checks a JSON file (bounded, never blocking); every failure names the file and what was expected. */
export function readJsonFile<T>(path: string, check: (v: unknown) => v is T, expected: string, maxBytes: number = LIMITS.json): T {
  return parseJson(path, readTextBounded(path, { maxBytes, expected }), check, expected);
}

/** The same without blocking the event loop (host side). */
export async function readJsonFileAsync<T>(path: string, check: (v: unknown) => v is T, expected: string, maxBytes: number = LIMITS.json): Promise<T> {
  return parseJson(path, (await readFileBoundedAsync(path, { maxBytes, expected })).toString('utf8'), check, expected);
}

function parseJson<T>(path: string, text: string, check: (v: unknown) => v is T, expected: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: malformed JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (!check(value)) throw new Error(`${path}: expected ${expected}`);
  if (typeof value === 'object' && value !== null) sources.set(value, path);
  return value;
}
