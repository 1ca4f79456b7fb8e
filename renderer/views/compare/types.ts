import type { FC } from 'react';
import type { MetricsResponse } from '../../workers/metrics.worker';

export interface CompareViewProps {
  a: string;
  b: string;
  labelA: string;
  labelB: string;
  metrics?: MetricsResponse;
}

/** A compare view: one file each, one line in registry.ts. */
export interface CompareView {
  id: string;
  label: string;
  hint?: string;
  Component: FC<CompareViewProps>;
}
