import { realpathSync } from 'node:fs';
import { readFileBounded, ReadError } from '../../engine/io/read-file';
import { basename, dirname, join, resolve, sep } from 'node:path';

/** `~` in a workspace or model path the user typed: one expander for the host and the engine CLI. */
export { expandHome, resolveUserPath } from '../../engine/io/paths';

/** A path or a write the workspace refuses, said in words a user can act on. */
export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

/**
 * The one resolver for everything the host reads or writes under the workspace: the real path
 * (symlinks followed, for the part that exists), refused unless it lies inside the real workspace.
 */
export function resolveInside(workspace: string, path: string, what = path): string {
  const root = realpathSync(workspace);
  const real = realpathOfExisting(resolve(workspace, path));
  if (real !== root && !real.startsWith(root + sep)) throw new WorkspaceError(`${what} lies outside the workspace (it resolves to ${real}): refused`);
  return real;
}

/** realpath of the deepest part of `p` that exists, the rest appended as written. */
function realpathOfExisting(p: string): string {
  const rest: string[] = [];
  for (let at = p; ; at = dirname(at)) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw e;
      rest.push(basename(at));
    }
  }
}

/**
 * A regular file of the workspace, at most `maxBytes`, through the engine's bounded read (never
 * blocks on a named pipe, bounded even if the file grows); errors name the file as the workspace does.
 */
export function readInside(workspace: string, path: string, maxBytes: number, what = path): Buffer {
  const real = resolveInside(workspace, path, what);
  try {
    return readFileBounded(real, { maxBytes, expected: 'a file the studio wrote', allowEmpty: true });
  } catch (e) {
    throw e instanceof ReadError ? new WorkspaceError(`${what}: ${e.detail}`) : e;
  }
}

/** A failed write under the workspace as the user should read it (not `ENOENT mkdir` or `EROFS`). */
export function describeWriteError(e: unknown, dir: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return new WorkspaceError(`the workspace is read-only: ${dir}`);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new WorkspaceError(`the workspace's disk is full: ${dir}`);
  return e instanceof Error ? e : new Error(String(e));
}
