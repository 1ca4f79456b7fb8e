import type { JobInfo, JobStatus } from '../../../app/studio';
import { CancelledError, isCancelled } from '../../../app/errors';

interface Job {
  info: JobInfo;
  abort: AbortController;
}

export type JobBody<T> = (signal: AbortSignal, progress: (done: number, message?: string) => void) => Promise<T>;

/**
 * One job at a time, in order of arrival: runs on one engine compete for the same cores or GPU, and
 * timings taken side by side would lie. Cancelling a queued job drops it; a running one is aborted.
 */
export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly onChange: (info: JobInfo) => void = () => {}) {}

  enqueue<T>(info: Omit<JobInfo, 'status' | 'done'>, body: JobBody<T>, signal?: AbortSignal): Promise<T> {
    if (this.jobs.has(info.jobId)) return Promise.reject(new Error(`job ${info.jobId} is already queued`));
    const job: Job = { info: { ...info, status: 'queued', done: 0 }, abort: new AbortController() };
    this.jobs.set(info.jobId, job);
    signal?.addEventListener('abort', () => this.cancel(info.jobId), { once: true });
    this.onChange(job.info);
    const run = async (): Promise<T> => {
      if (job.abort.signal.aborted) throw new CancelledError();
      this.update(job, { status: 'running' });
      return body(job.abort.signal, (done, message) => this.update(job, { done, message }));
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result.then(
      (v) => {
        this.finish(job, 'done');
        return v;
      },
      (e: Error) => {
        this.finish(job, isCancelled(e) ? 'cancelled' : 'failed', e.message);
        throw e;
      },
    );
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    job.abort.abort();
    return true;
  }

  cancelAll(): void {
    for (const j of this.jobs.values()) j.abort.abort();
  }

  /** Resolves when every job queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => j.info);
  }

  private update(job: Job, patch: Partial<JobInfo>): void {
    job.info = { ...job.info, ...patch };
    this.onChange(job.info);
  }

  private finish(job: Job, status: JobStatus, message?: string): void {
    this.jobs.delete(job.info.jobId);
    this.update(job, { status, message, done: status === 'done' ? job.info.total : job.info.done });
  }
}

