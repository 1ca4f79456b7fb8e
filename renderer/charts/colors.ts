export const SIDE_COLORS: Record<string, string> = { A: '#7aa2f7', B: '#f7768e' };
export const STAGE_COLORS = { text: '#7aa2f7', denoise: '#e0af68', vae: '#9ece6a' };
export const BRANCH_COLORS = ['#7aa2f7', '#f7768e', '#9ece6a', '#e0af68', '#bb9af7', '#7dcfff', '#ff9e64', '#c0caf5', '#73daca', '#db4b4b', '#2ac3de', '#a9b1d6'];
export const AXIS = { stroke: '#5c6478', tick: { fill: '#8b93a7', fontSize: 11 } };
export const GRID = '#252b3a';
export const TOOLTIP = { contentStyle: { background: '#1a1f2b', border: '1px solid #2f3648', fontSize: 12 }, labelStyle: { color: '#c0c6d4' } };
