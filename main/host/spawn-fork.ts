import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineChild, SpawnEngine } from './engine-supervisor';

/** The engine host entry: the bundled .mjs in dist/main/engine-host when built, else the .ts source via tsx. */
export function engineEntry(): { path: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('../engine-host/engine-process.mjs', import.meta.url));
  if (existsSync(js)) return { path: js, execArgv: [] };
  return { path: fileURLToPath(new URL('../engine-host/engine-process.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
}

/** Serve mode's engine host: a Node child process; typed arrays cross by structured clone. */
export function forkEngine(env: Record<string, string> = {}): SpawnEngine {
  return (extra = {}): EngineChild => {
    const { path, execArgv } = engineEntry();
    const child = fork(path, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, ...env, ...extra },
    });
    const listeners: ((t: string) => void)[] = [];
    const report = (t: string): void => {
      process.stderr.write(t);
      for (const l of listeners) l(t);
    };
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', report);
    child.on('error', (e) => report(`engine host: ${e.message}\n`));
    return {
      get pid() {
        return child.pid;
      },
      // a send racing the child's death fails with EPIPE: its exit event fails the calls, not this
      post: (msg) => {
        if (child.connected) child.send(msg, (e) => e && report(`engine host: send failed: ${e.message}\n`));
      },
      onMessage: (cb) => child.on('message', cb),
      onExit: (cb) => child.once('exit', (code, signal) => cb(code, signal)),
      onStderr: (cb) => listeners.push(cb),
      kill: (signal = 'SIGTERM') => child.kill(signal),
    };
  };
}
