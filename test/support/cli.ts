/**
 * The engine CLI two ways, with execFile's result shape ({ stdout, stderr }; a failure rejects with
 * them and `code`): as a real process, and in-process through runCli, which skips tsx's and
 * onnxruntime's start-up (seconds per call on 2 shared cores). Keep a real spawn for the entry point.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { format, promisify } from 'node:util';
import { vi } from 'vitest';
import { program, runCli } from '../../engine/cli/main';

const ROOT = join(__dirname, '../..');
const exec = promisify(execFile);

export interface CliOutput {
  stdout: string;
  stderr: string;
}

/** `node --import tsx engine/cli/main.ts ...args` from the repository root. */
export function cliSpawn(...args: string[]): Promise<CliOutput> {
  return exec(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], { cwd: ROOT });
}

/** The same command in this process: commander's output and console.log/error captured, the exit code returned instead of exiting. */
export async function cliInProcess(...args: string[]): Promise<CliOutput> {
  const out: CliOutput = { stdout: '', stderr: '' };
  // subcommands copied the root's settings when they were created: set them on each, for this call's output
  for (const c of [program, ...program.commands]) {
    c.exitOverride().configureOutput({ writeOut: (s) => void (out.stdout += s), writeErr: (s) => void (out.stderr += s) });
  }
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out.stdout += `${format(...a)}\n`));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (out.stderr += `${format(...a)}\n`));
  let code: number;
  try {
    code = await runCli([process.execPath, join(ROOT, 'engine/cli/main.ts'), ...args]);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  if (code) throw Object.assign(new Error(`engine ${args.join(' ')} exited with ${code}:\n${out.stderr}`), { code, ...out });
  return out;
}
