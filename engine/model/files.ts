import { readFileSync } from 'node:fs';

/** Reads and checks a JSON file; every failure names the file and what was expected. */
export function readJsonFile<T>(path: string, check: (v: unknown) => v is T, expected: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: missing (expected ${expected})` : `${path}: cannot read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: malformed JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (!check(value)) throw new Error(`${path}: expected ${expected}`);
  return value;
}
