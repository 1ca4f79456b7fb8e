import { z } from 'zod';
import { defineAcceleration, parseInteger, parseNumber } from './descriptor';

/** A fraction of the run's steps at one end that always runs the full UNet (absent = 0). */
const windowEnd = (name: string) => z.number().min(0, `deepcache.${name} must be >= 0`).max(0.9, `deepcache.${name} must be <= 0.9`).optional();

export const DeepCacheOptions = z
  .object({
    /** A full UNet step every `interval` steps (1 = off in effect). */
    interval: z.number().int('deepcache.interval must be an integer').min(1, 'deepcache.interval must be >= 1').max(50),
    /** DeepCache's cache_branch_id: block = branch / 3, layer = branch % 3 (0 = outermost). */
    branch: z.number().int('deepcache.branch must be an integer').min(0, 'deepcache.branch must be >= 0').max(11),
    /** uniform, the paper's non-uniform schedule, or the explicit step indices that run the full UNet. */
    schedule: z.union([z.enum(['uniform', 'nonuniform']), z.array(z.number().int().min(0)).min(1)]).default('uniform'),
    /**
     * No caching in the first `start` and last `end` fraction of the steps (DeepCache #12, SD.Next #3163):
     * the layout and the details form there, and cached features drift most.
     */
    start: windowEnd('start'),
    end: windowEnd('end'),
  })
  .strict()
  .refine((o) => (o.start ?? 0) + (o.end ?? 0) < 1, 'deepcache.start + deepcache.end must be < 1 (else no step may use the cache)');
export type DeepCacheOptions = z.infer<typeof DeepCacheOptions>;

const pct = (f: number): string => `${Math.round(f * 100)}%`;
const windowText = (d: { start?: number; end?: number }): string =>
  d.start || d.end ? `, full first ${pct(d.start ?? 0)} last ${pct(d.end ?? 0)}` : '';

/** Each DeepCache flag sets one field; the others come from --config or these defaults. */
const withDeepCache = (v: Readonly<Record<string, unknown>>, patch: Record<string, unknown>) => ({ deepcache: { interval: 3, branch: 0, ...(v.deepcache as object | undefined), ...patch } });

export const deepcache = defineAcceleration({
  id: 'deepcache',
  description: 'DeepCache: a full UNet step every N steps, the others reuse the cached deep feature (the UNet graph cut at the branch)',
  options: { deepcache: DeepCacheOptions.optional() },
  summary: ({ deepcache: d }) => (d ? `DeepCache N=${d.interval} branch ${d.branch} ${Array.isArray(d.schedule) ? `full at [${d.schedule}]` : d.schedule}${windowText(d)}` : ''),
  off: 'DeepCache off',
  editor: {
    group: {
      key: 'deepcache', label: 'DeepCache', defaults: { interval: 3, branch: 0, schedule: 'uniform' },
      fields: [
        { kind: 'number', key: 'interval', label: 'Interval N', min: 1, max: 10, step: 1 },
        { kind: 'select', key: 'branch', label: 'Branch', choices: Array.from({ length: 12 }, (_, b) => b), help: (b) => `up block ${Math.floor(Number(b) / 3)}, layer ${Number(b) % 3} from the outside` },
        { kind: 'select', key: 'schedule', label: 'Schedule', choices: ['uniform', 'nonuniform'] },
        { kind: 'number', key: 'start', label: 'Full first', min: 0, max: 0.5, step: 0.05, format: pct, help: 'no caching in this first fraction of the steps' },
        { kind: 'number', key: 'end', label: 'Full last', min: 0, max: 0.5, step: 0.05, format: pct, help: 'no caching in this last fraction of the steps' },
      ],
    },
  },
  flags: [
    { flags: '--deepcache-interval <n>', help: 'DeepCache: a full UNet step every n steps', parse: parseInteger('--deepcache-interval'), apply: (interval: number, v) => withDeepCache(v, { interval }) },
    { flags: '--deepcache-branch <b>', help: 'DeepCache: cache branch (0 = outermost, cheapest cached step)', parse: parseInteger('--deepcache-branch'), apply: (branch: number, v) => withDeepCache(v, { branch }) },
    {
      flags: '--deepcache-schedule <s>', help: 'DeepCache: uniform, nonuniform, or a comma list of full-step indices',
      parse: (s) => (/^[\d,\s]+$/.test(s) ? s.split(',').map((x) => Number(x.trim())) : s),
      apply: (schedule: unknown, v) => withDeepCache(v, { schedule }),
    },
    { flags: '--deepcache-start <fraction>', help: 'DeepCache: no caching in this first fraction of the steps (0..0.9)', parse: parseNumber('--deepcache-start'), apply: (start: number, v) => withDeepCache(v, { start }) },
    { flags: '--deepcache-end <fraction>', help: 'DeepCache: no caching in this last fraction of the steps (0..0.9)', parse: parseNumber('--deepcache-end'), apply: (end: number, v) => withDeepCache(v, { end }) },
  ],
});
