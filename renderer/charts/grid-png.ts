import { gridTables, latencyText, metricText, speedupText, type GridSection } from '../../app/grid';
import { CHART } from '../../app/palette';

const CELL = 192, PAD = 8, HEAD = 28, TEXT = 15, LINES = 4, LEFT = 150;

const load = (src: string): Promise<HTMLImageElement> => new Promise((resolve, reject) => {
  const img = new Image();
  img.onload = () => resolve(img);
  img.onerror = () => reject(new Error('a cell image did not load'));
  img.src = src;
});

/** Packs " · "-separated parts into lines of at most `w` pixels (canvas has no wrapping). */
function wrap(ctx: CanvasRenderingContext2D, texts: string[], w: number): string[] {
  const out: string[] = [];
  for (const t of texts.filter(Boolean)) {
    let line = '';
    for (const part of t.split(' · ')) {
      const next = line ? `${line} · ${part}` : part;
      if (line && ctx.measureText(next).width > w) {
        out.push(line);
        line = part;
      } else line = next;
    }
    out.push(line);
  }
  return out;
}

/** Cuts text to fit `w` pixels (canvas has no wrapping). */
function fit(ctx: CanvasRenderingContext2D, s: string, w: number): string {
  if (ctx.measureText(s).width <= w) return s;
  let t = s;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > w) t = t.slice(0, -1);
  return `${t}…`;
}

/**
 * The grid as one PNG with its labels drawn (the browser's canvas draws text; the host has no
 * font rasteriser): tables one below the other, each cell's image and its figures under it.
 */
export async function gridPng(g: GridSection, images: Record<string, string>, title: string): Promise<Blob> {
  const tables = gridTables(g);
  const cellH = CELL + PAD + LINES * TEXT + PAD;
  const width = LEFT + Math.max(...tables.map((t) => t.cols.length)) * (CELL + PAD) + PAD;
  // a table with a row axis names its column axis on a line of its own, above the column headers
  const height = HEAD + tables.reduce((h, t) => h + HEAD * (1 + (t.title ? 1 : 0) + (t.rowLabel ? 1 : 0)) + t.rows.length * cellH, 0) + PAD;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#11141b';
  ctx.fillRect(0, 0, width, height);
  ctx.textBaseline = 'top';
  ctx.font = 'bold 14px sans-serif';
  ctx.fillStyle = '#d5d9e3';
  ctx.fillText(fit(ctx, title, width - 2 * PAD), PAD, PAD);
  const ref = g.cells[g.reference];
  let y = HEAD;
  for (const t of tables) {
    ctx.font = 'bold 13px sans-serif';
    ctx.fillStyle = '#d5d9e3';
    if (t.title) {
      ctx.fillText(t.title, PAD, y + 6);
      y += HEAD;
    }
    ctx.fillStyle = CHART.tick;
    if (t.rowLabel) {
      ctx.fillText(fit(ctx, `${t.colLabel} →`, width - LEFT - PAD), LEFT, y + 6);
      y += HEAD;
    }
    ctx.fillText(fit(ctx, t.rowLabel ? `${t.rowLabel} ↓` : `${t.colLabel} →`, LEFT - PAD), PAD, y + 6);
    t.cols.forEach((c, k) => ctx.fillText(fit(ctx, c, CELL), LEFT + k * (CELL + PAD), y + 6));
    y += HEAD;
    for (const r of t.rows) {
      ctx.font = 'bold 13px sans-serif';
      ctx.fillStyle = CHART.tick;
      ctx.fillText(fit(ctx, r.label, LEFT - 2 * PAD), PAD, y + CELL / 2);
      for (const [k, i] of r.cells.entries()) {
        const c = i === undefined ? undefined : g.cells[i];
        if (!c) continue;
        const x = LEFT + k * (CELL + PAD);
        ctx.fillStyle = '#0a0c10';
        ctx.fillRect(x, y, CELL, CELL);
        if (c.image && images[c.image]) {
          const img = await load(images[c.image]!);
          const s = Math.min(CELL / img.width, CELL / img.height);
          ctx.imageSmoothingEnabled = s < 1;
          ctx.drawImage(img, x + (CELL - img.width * s) / 2, y + (CELL - img.height * s) / 2, img.width * s, img.height * s);
        }
        const lines = c.status === 'ran'
          ? [latencyText(c), i === g.reference ? 'reference' : speedupText(c, ref), metricText(c)]
          : [c.status, c.reason ?? ''];
        ctx.font = '12px sans-serif';
        ctx.fillStyle = c.status === 'ran' ? '#d5d9e3' : c.status === 'failed' ? '#f7768e' : '#e0af68';
        wrap(ctx, lines, CELL).slice(0, LINES).forEach((l, n) => ctx.fillText(fit(ctx, l, CELL), x, y + CELL + PAD + n * TEXT));
      }
      y += cellH;
    }
  }
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the grid PNG could not be encoded'))), 'image/png'));
}
