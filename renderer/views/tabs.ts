import type { ComponentType } from 'react';
import { BlindPanel } from '../panels/blind-panel';
import { ComparePanel } from '../panels/compare-panel';
import { GridPanel } from '../panels/grid-panel';
import { HistoryPanel } from '../panels/history-panel';
import { LatencyPanel } from '../panels/latency-panel';
import { MatrixPanel } from '../panels/matrix-panel';
import { SweepPanel } from '../panels/sweep-panel';

/** A tab of the centre column; `short` is its label where the window is narrow. An entry of kind X opens tab X. */
export interface TabView {
  id: string;
  label: string;
  short?: string;
  Component: ComponentType;
}

/** The centre column's tabs, one registration line each. */
export const TABS: TabView[] = [
  { id: 'compare', label: 'Compare', Component: ComparePanel },
  { id: 'latency', label: 'Latency', Component: LatencyPanel },
  { id: 'sweep', label: 'DeepCache sweep', short: 'Sweep', Component: SweepPanel },
  { id: 'grid', label: 'Grid', Component: GridPanel },
  { id: 'matrix', label: 'Matrix', Component: MatrixPanel },
  { id: 'blind', label: 'Blind A/B', short: 'Blind', Component: BlindPanel },
  { id: 'history', label: 'History', Component: HistoryPanel },
];
