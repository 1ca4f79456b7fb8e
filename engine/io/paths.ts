import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `~` and `~/…` as the user's home (a quoted or `--flag=~/x` path reaches us unexpanded); `~user` is left as written. */
export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') || p.startsWith('~\\') ? join(homedir(), p.slice(2)) : p;
}

/** A path the user typed, absolute: home expanded, then resolved against the working directory. */
export const resolveUserPath = (p: string): string => resolve(expandHome(p));
