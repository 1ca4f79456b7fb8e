import { CHART } from '../../app/palette';

export { BRANCH_COLORS, HIGHLIGHT, SIDE_COLORS, STAGE_COLORS } from '../../app/palette';
/** recharts props from the shared palette (app/palette.ts, which the report's SVG uses too). */
export const AXIS = { stroke: CHART.axisLine, tick: { fill: CHART.tick, fontSize: 11 } };
export const GRID = CHART.grid;
export const TOOLTIP = { contentStyle: { background: '#1a1f2b', border: '1px solid #2f3648', fontSize: 12 }, labelStyle: { color: '#c0c6d4' } };
