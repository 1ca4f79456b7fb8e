import { KiB, readTextBounded } from '../io/read-file';

/**
 * onnxruntime-node reads /proc/self/cmdline and crashes the process when it holds more than
 * ~30 KB (20 KB is fine): the CLI refuses a longer command line before onnxruntime is loaded.
 */
export const ARGV_LIMIT = 16 * KiB;
/** A prompt file is bounded before the contract's character limit applies (4000 characters ≤ 16 KB of UTF-8). */
export const PROMPT_FILE_LIMIT = 64 * KiB;

const PROMPT_FLAGS: Record<string, string> = { '--prompt': '--prompt-file', '--negative-prompt': '--negative-prompt-file' };

/** The reason the command line is refused, or undefined when it is short enough for onnxruntime. */
export function argvTooLong(argv: readonly string[]): string | undefined {
  const bytes = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  if (bytes <= ARGV_LIMIT) return undefined;
  const i = argv.reduce((best, a, k) => (a.length > argv[best]!.length ? k : best), 0);
  const eq = /^(--[\w-]+)=/.exec(argv[i]!);
  const flag = eq ? eq[1]! : argv[i - 1] ?? '';
  const length = argv[i]!.length - (eq ? eq[0].length : 0);
  const what = Object.hasOwn(PROMPT_FLAGS, flag) ? `the ${flag.slice(2).replace('-', ' ')} is ${length} characters` : `an argument is ${length} characters`;
  const fileFlag = Object.hasOwn(PROMPT_FLAGS, flag) ? PROMPT_FLAGS[flag]! : '--prompt-file';
  return `the command line is ${bytes} bytes, over the ${ARGV_LIMIT / KiB} KiB onnxruntime takes safely: ${what}; pass long prompts with ${fileFlag} <file> or ${fileFlag} - (stdin)`;
}

/** A prompt from a UTF-8 file, or from stdin for "-", bounded; one trailing newline dropped (as `echo` writes it). */
export async function readPromptFile(path: string, flag: string): Promise<string> {
  const expected = `a UTF-8 prompt for ${flag}`;
  const text = path === '-' ? await readStdin(PROMPT_FILE_LIMIT, expected) : readTextBounded(path, { maxBytes: PROMPT_FILE_LIMIT, expected, allowEmpty: true });
  return text.replace(/\r?\n$/, '');
}

async function readStdin(maxBytes: number, expected: string): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin) {
    n += (chunk as Buffer).length;
    if (n > maxBytes) throw new Error(`stdin: over the ${maxBytes / KiB} KiB limit (expected ${expected})`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The prompt given either inline or as a file, not both. */
export async function promptOption(inline: string | undefined, file: string | undefined, flag: string): Promise<string | undefined> {
  if (inline !== undefined && file !== undefined) throw new Error(`give ${flag} or ${PROMPT_FLAGS[flag]}, not both`);
  return file !== undefined ? readPromptFile(file, PROMPT_FLAGS[flag]!) : inline;
}
