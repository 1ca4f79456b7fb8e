import type { EngineChild, SpawnEngine } from '../host/engine-supervisor';
import type { ElectronMain } from './electron-api';

/**
 * The desktop app's engine host: an Electron utilityProcess (a Node process Electron supervises;
 * a native crash there leaves the window running). Exit code and V8 fatal errors are reported.
 */
export function utilityEngine(electron: ElectronMain, entry: string, env: NodeJS.ProcessEnv = process.env): SpawnEngine {
  return (extra = {}): EngineChild => {
    const child = electron.utilityProcess.fork(entry, [], { serviceName: 'Diffusion A/B Studio engine', stdio: ['ignore', 'inherit', 'pipe'], env: { ...env, ...extra } });
    const stderr: ((t: string) => void)[] = [];
    child.stderr?.on('data', (d: Buffer | string) => {
      const t = String(d);
      process.stderr.write(t);
      for (const l of stderr) l(t);
    });
    child.on('error', (type, location) => {
      for (const l of stderr) l(`${type} at ${location}\n`);
    });
    return {
      get pid() {
        return child.pid;
      },
      post: (msg) => child.postMessage(msg),
      onMessage: (cb) => child.on('message', cb),
      onExit: (cb) => child.once('exit', (code) => cb(code, null)),
      onStderr: (cb) => stderr.push(cb),
      kill: () => void child.kill(),
    };
  };
}
