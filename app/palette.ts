/**
 * The chart colours, one palette for the latency tab (recharts) and the exported report (SVG), so
 * a side, stage or branch has the same colour wherever it is drawn. Pure data.
 */
export const SIDE_COLORS: Record<string, string> = { A: '#7aa2f7', B: '#f7768e' };
export const STAGE_COLORS = { text: '#7aa2f7', denoise: '#e0af68', vae: '#9ece6a' };
export const BRANCH_COLORS = ['#7aa2f7', '#f7768e', '#9ece6a', '#e0af68', '#bb9af7', '#7dcfff', '#ff9e64', '#c0caf5', '#73daca', '#db4b4b', '#2ac3de', '#a9b1d6'];
/** Pareto frontier and the "fastest above the threshold" ring. */
export const HIGHLIGHT = '#ffd166';
export const CHART = { tick: '#8b93a7', axisLine: '#5c6478', grid: '#252b3a', whisker: '#c0c6d4', background: '#11141b' };
