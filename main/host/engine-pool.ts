import type { RunRequest } from '../../app/run-request';
import type { EngineState } from '../../app/studio';
import { EngineSupervisor, type RunHooks, type SpawnEngine, type SupervisorOptions } from './engine-supervisor';

/**
 * What a variant needs in its engine process's environment, read once at process start by the
 * libraries it loads: TF32 off is NVIDIA_TF32_OVERRIDE=0 for cuBLAS/cuDNN (the Node binding
 * cannot set the CUDA provider's use_tf32). Every other variant runs in the default process.
 */
export function engineEnv(request: Pick<RunRequest, 'variant'>): Record<string, string> {
  return request.variant.tf32 === false ? { NVIDIA_TF32_OVERRIDE: '0' } : {};
}

/**
 * The engine processes, one per environment: the default one (`main`) and, started when first
 * needed, one per other environment. Runs still go one at a time through the job queue.
 */
export class EnginePool {
  readonly main: EngineSupervisor;
  private readonly others = new Map<string, EngineSupervisor>();

  constructor(private readonly spawn: SpawnEngine, private readonly onState: (s: EngineState) => void, private readonly opts?: SupervisorOptions) {
    this.main = new EngineSupervisor(spawn, onState, opts);
  }

  /** The supervisor of the process this request's variant runs in. */
  for(request: Pick<RunRequest, 'variant'>): EngineSupervisor {
    const env = engineEnv(request);
    const key = JSON.stringify(env);
    if (key === '{}') return this.main;
    let s = this.others.get(key);
    if (!s) {
      const tag = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
      s = new EngineSupervisor(() => this.spawn(env), (st) => this.onState({ ...st, message: `${tag}: ${st.message ?? st.state}` }), this.opts);
      this.others.set(key, s);
    }
    return s;
  }

  run(request: RunRequest, hooks?: RunHooks, previews?: boolean): ReturnType<EngineSupervisor['run']> {
    return this.for(request).run(request, hooks, previews);
  }

  async stop(): Promise<void> {
    await Promise.all([this.main, ...this.others.values()].map((s) => s.stop()));
  }
}
