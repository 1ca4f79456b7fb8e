import { existsSync } from 'node:fs';
import { fastestAbove, paretoFrontier } from '../../app/metrics';
import { BRANCH_COLORS, SIDE_COLORS, STAGE_COLORS } from '../../app/palette';
import { sideStats, speedup, stageRows, stepSeries } from '../../app/run-stats';
import { gridTables, latencyText, metricText, speedupText } from '../../app/grid';
import { variantDifference, type HistoryManifest } from '../../app/studio';
import { blindRows, blindStats } from '../../app/blind';
import { readPng } from '../../engine/image/png';
import type { HistoryStore } from './history';
import type { InputStore } from './inputs';
import { compareImages, quantise, ssimPng } from './images';
import { esc, lines, scatter, stackedBars } from './report-svg';
import { DEFAULT_THRESHOLDS, readVerdict, VERDICT_TEXT } from '../../app/verdict';

const STAGES = [
  { label: 'text encoder', color: STAGE_COLORS.text },
  { label: 'denoising loop', color: STAGE_COLORS.denoise },
  { label: 'VAE decoder', color: STAGE_COLORS.vae },
];
const KIND_TITLE: Record<HistoryManifest['kind'], string> = { compare: 'A/B comparison', sweep: 'DeepCache sweep', grid: 'X/Y/Z grid', matrix: 'Compatibility matrix', blind: 'blind A/B session' };
const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** A self-contained HTML report of one entry: images inline, heatmaps, SVG charts, config, timings. */
export function buildReport(history: HistoryStore, m: HistoryManifest, inputs?: InputStore): string {
  const img = (file: string | undefined): string => {
    if (!file) return '';
    return existsSync(history.filePath(m.id, file)) ? `data:image/png;base64,${history.readFile(m.id, file).toString('base64')}` : '';
  };
  const body = m.compare ? compareSection(m, img, history) : m.grid ? gridSection(m, img) : m.blind ? blindSection(m) : sweepSection(m, img);
  const params = Object.entries(m.params).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(`A/B report: ${m.params.prompt}`)}</title>
<style>body{background:#11141b;color:#d5d9e3;font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #2a3040;padding-bottom:4px}
table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #232838;font-variant-numeric:tabular-nums}
th{color:#8b93a7;font-weight:500}.imgs{display:flex;gap:12px;flex-wrap:wrap}figure{margin:0}figcaption{color:#8b93a7;font-size:12px}
img{image-rendering:pixelated;width:240px;height:auto;background:#000;border:1px solid #2a3040}pre{background:#181c26;padding:10px;overflow:auto;font-size:12px}
.big{font-size:22px;font-weight:600}.status{color:#f7768e}</style></head><body>
<h1>Diffusion A/B Studio report</h1>
<p>${esc(KIND_TITLE[m.kind])} · ${esc(m.createdAt)} · model <b>${esc(m.model.name)}</b> ${esc(m.model.hash ?? '')} · status ${esc(m.status)}${m.error ? ` <span class="status">${esc(m.error)}</span>` : ''}</p>
<h2>Inputs</h2><table>${params}</table>${initImage(m, inputs)}${body}
<h2>Manifest</h2><pre>${esc(JSON.stringify(m, null, 1))}</pre></body></html>`;
}

/** The init image both sides started from, if it is still in the workspace. */
function initImage(m: HistoryManifest, inputs: InputStore | undefined): string {
  const ref = m.inputs?.initImage;
  if (!ref || !inputs) return '';
  try {
    const img = inputs.read(ref);
    const used = m.compare?.runs[0]?.result.params.strength ?? m.params.strength; // the engine's default when none was asked
    return `<div class="imgs"><figure><img src="${img.dataUrl}" alt="init image"><figcaption>init image (${img.width}x${img.height})${used === undefined ? '' : `, strength ${esc(String(used))}`}</figcaption></figure></div>`;
  } catch (e) {
    return `<p class="status">init image: ${esc((e as Error).message)}</p>`;
  }
}

function compareSection(m: HistoryManifest, img: (f?: string) => string, history: HistoryStore): string {
  const c = m.compare!;
  let ssimMap = '';
  if (c.images.a && c.images.b) {
    const a = readPng(history.filePath(m.id, c.images.a)), b = readPng(history.filePath(m.id, c.images.b));
    const cmp = compareImages(quantise(a), quantise(b));
    ssimMap = `data:image/png;base64,${Buffer.from(ssimPng(a.width, a.height, cmp.ssimMap)).toString('base64')}`;
  }
  const rows = stageRows(c.runs).map((r) => ({ label: r.name, parts: [r.text, r.denoise, r.vae] }));
  const steps = (['A', 'B'] as const).map((s) => {
    const { ms: ys, full } = stepSeries(c.runs, s);
    return { label: `${s} per step (full UNet = filled)`, color: SIDE_COLORS[s]!, ys, marks: full };
  });
  const ran = sideStats(c.runs, { A: c.a.label, B: c.b.label });
  const stats = (['A', 'B'] as const).map((s) => {
    const st = ran.find((x) => x.side === s);
    return `<tr><th>${s}: ${esc(st?.label ?? c[s === 'A' ? 'a' : 'b'].label)}</th><td>${esc(st?.summary ?? '')}</td><td>${esc(st?.provider ?? '')}${st?.fellBack ? ' (fell back)' : ''}</td>
<td>${st ? ms(st.median) : '-'}</td><td>${st ? `${ms(st.min)} … ${ms(st.max)}` : '-'}</td><td>${st?.firstMs !== undefined ? ms(st.firstMs) : '-'}</td><td>${st?.n ?? 0}</td></tr>`;
  }).join('');
  const sp = speedup(c.runs);
  const mt = c.metrics;
  return `<h2>Variants</h2><p>${esc(variantDifference(c.a, c.b))}</p>
<table><tr><th></th><th>summary</th><th>provider used</th><th>median total</th><th>min … max</th><th>first run</th><th>steady runs</th></tr>${stats}</table>
<p class="big">${sp ? `B is ${sp.toFixed(2)}× ${sp >= 1 ? 'faster' : 'slower'} than A` : ''}${mt ? ` · PSNR ${mt.psnr === null ? '∞' : mt.psnr.toFixed(2)} dB · SSIM ${mt.ssim.toFixed(4)} · ${VERDICT_TEXT[readVerdict(mt)]}` : ''}</p>
${mt ? `<p>Reading at the default thresholds: visually identical at SSIM ≥ ${DEFAULT_THRESHOLDS.identical}, small differences at ≥ ${DEFAULT_THRESHOLDS.small}, different below.</p>` : ''}
<h2>Images</h2><div class="imgs"><figure><img src="${img(c.images.a)}" alt="A"><figcaption>A</figcaption></figure><figure><img src="${img(c.images.b)}" alt="B"><figcaption>B</figcaption></figure>
<figure><img src="${img(c.images.diff)}" alt="difference"><figcaption>|A − B|, inferno, normalised to the largest difference${mt ? ` (${(mt.maxDiff * 100).toFixed(1)}%)` : ''}</figcaption></figure>
${ssimMap ? `<figure><img src="${ssimMap}" alt="SSIM map"><figcaption>1 − SSIM map</figcaption></figure>` : ''}</div>
<h2>Latency per stage (median; first run vs steady state)</h2>${stackedBars(rows, STAGES)}
<h2>Latency per step (steady state median)</h2>${lines(steps)}
<h2>Variant A</h2><pre>${esc(JSON.stringify(c.a, null, 1))}</pre><h2>Variant B</h2><pre>${esc(JSON.stringify(c.b, null, 1))}</pre>`;
}

/** A blind session: the preference with its interval, and every pair as exported (sides revealed). */
function blindSection(m: HistoryManifest): string {
  const st = blindStats(m.blind!.pairs, 0.95);
  const rows = blindRows(m.blind!);
  const head = rows[0] ? Object.keys(rows[0]).filter((k) => !k.startsWith('config')).map((k) => `<th>${esc(k)}</th>`).join('') : '';
  const body = rows.map((r) => `<tr>${Object.entries(r).filter(([k]) => !k.startsWith('config')).map(([, v]) => `<td>${esc(String(v))}</td>`).join('')}</tr>`).join('');
  const rate = st.bRate === undefined ? 'no pair decided' : `B preferred in ${(st.bRate * 100).toFixed(1)} % of ${st.a + st.b} decided pairs (95 % Wilson ${(st.ci![0] * 100).toFixed(1)}–${(st.ci![1] * 100).toFixed(1)} %)`;
  return `<h2>Blind A/B</h2><p>${esc(variantDifference(m.blind!.a, m.blind!.b))}</p><p class="big">${esc(rate)}</p>
<p>A ${st.a} · B ${st.b} · same ${st.same} · can't tell ${st.cantTell} · ${st.voted}/${st.total} voted</p><table><tr>${head}</tr>${body}</table>`;
}

function sweepSection(m: HistoryManifest, img: (f?: string) => string): string {
  const s = m.sweep!;
  const front = paretoFrontier(s.points);
  const best = fastestAbove(s.points, 0.95);
  const pts = s.points.map((p) => ({ x: p.latencyMs, y: p.ssim, label: `N=${p.interval} branch ${p.branch}: ${ms(p.latencyMs)}, SSIM ${p.ssim.toFixed(4)}`, color: BRANCH_COLORS[p.branch % 12]! }));
  const rows = s.points.map((p) => `<tr><td>${p.interval}</td><td>${p.branch}</td><td>${ms(p.latencyMs)}</td><td>${p.n && p.n > 1 ? `${p.q1!.toFixed(1)}–${p.q3!.toFixed(1)} ms` : '-'}</td><td>${p.n ?? 1}</td><td>${ms(p.denoiseMs)}</td><td>${p.fullSteps}</td><td>${p.ssim.toFixed(4)}</td><td>${p.psnr === null ? '∞' : p.psnr.toFixed(2)}</td><td>${front.includes(p) ? 'Pareto' : ''}</td></tr>`).join('');
  return `<h2>DeepCache sweep</h2><p>Base variant: ${esc(JSON.stringify(s.base))}</p>
<p class="big">${best ? `Fastest with SSIM ≥ 0.95: N=${best.interval}, branch ${best.branch} (${ms(best.latencyMs)}, SSIM ${best.ssim.toFixed(4)})` : 'No setting reaches SSIM 0.95'}</p>
${scatter(pts, front.map((p) => ({ x: p.latencyMs, y: p.ssim })), best ? { x: best.latencyMs, y: best.ssim } : undefined,
    s.branches.map((b) => ({ label: `branch ${b}`, color: BRANCH_COLORS[b % 12]! })))}
<table><tr><th>interval</th><th>branch</th><th>median total</th><th>IQR</th><th>runs</th><th>denoise</th><th>full steps</th><th>SSIM</th><th>PSNR</th><th></th></tr>${rows}</table>
<h2>Images</h2><div class="imgs">${s.points.map((p) => `<figure><img src="${img(p.image)}" alt=""><figcaption>N=${p.interval} b${p.branch} · SSIM ${p.ssim.toFixed(3)}</figcaption></figure>`).join('')}</div>`;
}

/** One page for a grid or matrix: its tables with every cell's image, time and spread, speed-up, SSIM/PSNR or reason. */
function gridSection(m: HistoryManifest, img: (f?: string) => string): string {
  const g = m.grid!;
  const ref = g.cells[g.reference];
  const cell = (i: number | undefined): string => {
    const c = i === undefined ? undefined : g.cells[i];
    if (!c) return '<td></td>';
    const what = c.status === 'ran'
      ? `${esc(latencyText(c))}<br>${esc([speedupText(c, ref), metricText(c)].filter(Boolean).join(' · '))}`
      : `<span class="status">${esc(c.status)}${c.reason ? `: ${esc(c.reason)}` : ''}</span>`;
    return `<td class="cell">${c.image ? `<img src="${img(c.image)}" alt="">` : ''}<div>${i === g.reference ? '<b>reference</b><br>' : ''}${what}</div></td>`;
  };
  const tables = gridTables(g).map((t) => `${t.title ? `<h3>${esc(t.title)}</h3>` : ''}<table class="grid"><tr><th>${esc(t.rowLabel)} \\ ${esc(t.colLabel)}</th>${t.cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>
${t.rows.map((r) => `<tr><th>${esc(r.label)}</th>${r.cells.map(cell).join('')}</tr>`).join('\n')}</table>`).join('');
  const what = g.mode === 'matrix'
    ? `Each option alone (diagonal) and every pair of options on the base variant; speed-up and SSIM against the base alone (${ref?.latency ? esc(latencyText(ref)) : 'did not run'}).`
    : `Axes: ${esc(g.axes.map((a) => `${a.label} (${a.values.join(', ')})`).join(' × '))}; PSNR/SSIM and speed-up against the first cell.`;
  return `<h2>${g.mode === 'matrix' ? 'Compatibility matrix' : 'Grid'}</h2><p>${what} ${g.repeats} repeat(s) per cell, interleaved; times are medians of the steady runs (a session's first run apart), "within noise" when the IQRs overlap.</p>
<style>table.grid td.cell{vertical-align:top;font-size:12px;max-width:220px}table.grid td.cell img{width:128px;display:block}</style>${tables}
<h2>Base variant</h2><pre>${esc(JSON.stringify(g.base, null, 1))}</pre>`;
}
