// Figures for a write-up: each chart the page draws, written again as a standalone SVG (vector, with its
// caption under it) from the same numbers, with those numbers as CSV or JSON beside it; PNG is the SVG
// rasterised at twice its size. Plain string building: no DOM, so the SVGs are the same in any tab.

export interface Figure {
  /** file name without extension */
  name: string;
  caption: string;
  svg: string;
  /** the numbers behind the figure */
  data: { csv: string } | { json: unknown };
}

const W = 640;
const H = 360;
const PAD = { left: 64, right: 64, top: 24, bottom: 52 };
const FONT_FACE = 'font-family="system-ui, sans-serif" font-size="12"';
const FONT = `${FONT_FACE} fill="#1f2933"`;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(1) : Number(x.toPrecision(3)).toString());

/** the caption as wrapped lines of text under the plot, and the figure's total height */
function captionLines(caption: string, y0: number, width = W): { svg: string; height: number } {
  const words = caption.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  const max = Math.floor((width - 24) / 6.4);
  for (const w of words) {
    if ((line + ' ' + w).trim().length > max) {
      lines.push(line.trim());
      line = w;
    } else line += ' ' + w;
  }
  if (line.trim()) lines.push(line.trim());
  const svg = lines.map((l, i) => `<text x="12" y="${y0 + 16 + i * 16}" ${FONT}>${esc(l)}</text>`).join('');
  return { svg, height: y0 + 16 * lines.length + 12 };
}

function frame(width: number, plotHeight: number, body: string, caption: string): string {
  const cap = captionLines(caption, plotHeight, width);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${cap.height}" viewBox="0 0 ${width} ${cap.height}"><rect width="100%" height="100%" fill="#fff"/>${body}${cap.svg}</svg>`;
}

function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / n));
  const mult = [1, 2, 5, 10].find((m) => (hi - lo) / (step * m) <= n)!;
  const s = step * mult;
  const out: number[] = [];
  for (let t = Math.ceil(lo / s) * s; t <= hi + 1e-9 * s; t += s) out.push(t);
  return out;
}

interface Axes {
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
  /** a second y axis on the right */
  y2?: { range: [number, number]; label: string };
}

/** the axes, grid and labels; returns the drawing and the data → pixel maps */
function axes(a: Axes) {
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - a.x[0]) / (a.x[1] - a.x[0] || 1)) * pw;
  const sy = (y: number, r = a.y) => PAD.top + ph - ((y - r[0]) / (r[1] - r[0] || 1)) * ph;
  let g = `<rect x="${PAD.left}" y="${PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#9aa5b1"/>`;
  for (const t of ticks(a.x[0], a.x[1])) g += `<line x1="${sx(t)}" x2="${sx(t)}" y1="${PAD.top + ph}" y2="${PAD.top + ph + 4}" stroke="#9aa5b1"/><text x="${sx(t)}" y="${PAD.top + ph + 17}" text-anchor="middle" ${FONT}>${num(t)}</text>`;
  for (const t of ticks(a.y[0], a.y[1])) g += `<line x1="${PAD.left}" x2="${PAD.left + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e4e7eb"/><text x="${PAD.left - 6}" y="${sy(t) + 4}" text-anchor="end" ${FONT}>${num(t)}</text>`;
  if (a.y2) for (const t of ticks(a.y2.range[0], a.y2.range[1])) g += `<text x="${PAD.left + pw + 6}" y="${sy(t, a.y2.range) + 4}" ${FONT}>${num(t)}</text>`;
  g += `<text x="${PAD.left + pw / 2}" y="${H - 12}" text-anchor="middle" ${FONT}>${esc(a.xLabel)}</text>`;
  g += `<text transform="translate(16 ${PAD.top + ph / 2}) rotate(-90)" text-anchor="middle" ${FONT}>${esc(a.yLabel)}</text>`;
  if (a.y2) g += `<text transform="translate(${W - 14} ${PAD.top + ph / 2}) rotate(90)" text-anchor="middle" ${FONT}>${esc(a.y2.label)}</text>`;
  return { g, sx, sy };
}

const extent = (xs: number[]): [number, number] => {
  const f = xs.filter(Number.isFinite);
  return f.length ? [Math.min(...f), Math.max(...f)] : [0, 1];
};

export interface Series {
  label: string;
  color: string;
  x: number[];
  y: number[];
  /** drawn against the right-hand axis */
  right?: boolean;
  /** a dot at every point too (a sweep's runs, which a lone point would not show) */
  markers?: boolean;
}

/** lines over a shared x (loss curves, a sweep) */
export function lineFigure(name: string, caption: string, o: { xLabel: string; yLabel: string; y2Label?: string; series: Series[] }): Figure {
  const left = o.series.filter((s) => !s.right);
  const right = o.series.filter((s) => s.right);
  const ax = axes({
    x: extent(o.series.flatMap((s) => s.x)), y: extent(left.flatMap((s) => s.y)), xLabel: o.xLabel, yLabel: o.yLabel,
    y2: right.length ? { range: extent(right.flatMap((s) => s.y)), label: o.y2Label ?? '' } : undefined,
  });
  const y2 = right.length ? extent(right.flatMap((s) => s.y)) : undefined;
  let body = ax.g;
  let legend = PAD.left; // the legend runs along the top margin, clear of the curves
  o.series.forEach((s) => {
    const pts = s.x.map((x, i) => [x, s.y[i]!] as const).filter(([, y]) => Number.isFinite(y));
    const xy = pts.map(([x, y]) => [ax.sx(x).toFixed(1), ax.sy(y, s.right ? y2 : undefined).toFixed(1)] as const);
    body += `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${xy.map(([x, y]) => `${x},${y}`).join(' ')}"/>`;
    if (s.markers) body += xy.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`).join('');
    body += `<rect x="${legend}" y="${PAD.top - 14}" width="10" height="3" fill="${s.color}"/><text x="${legend + 14}" y="${PAD.top - 8}" ${FONT_FACE} fill="${s.color}">${esc(s.label)}</text>`;
    legend += 24 + s.label.length * 6.5;
  });
  const n = Math.max(...o.series.map((s) => s.x.length));
  const rows = [[o.xLabel, ...o.series.map((s) => s.label)].map(csvCell).join(',')];
  for (let i = 0; i < n; i++) rows.push([o.series[0]!.x[i] ?? '', ...o.series.map((s) => s.y[i] ?? '')].join(','));
  return { name, caption, svg: frame(W, H, body, caption), data: { csv: rows.join('\n') + '\n' } };
}

/** a histogram: bins from their left edges (the last edge closes the last bin) */
export function barsFigure(name: string, caption: string, o: { edges: number[]; counts: number[]; xLabel: string; yLabel: string; color?: string }): Figure {
  const step = o.edges.length > 1 ? o.edges[1]! - o.edges[0]! : 1;
  const right = o.edges.length > o.counts.length ? o.edges[o.counts.length]! : o.edges[o.edges.length - 1]! + step;
  const ax = axes({ x: [o.edges[0]!, right], y: [0, Math.max(1, ...o.counts)], xLabel: o.xLabel, yLabel: o.yLabel });
  let body = ax.g;
  o.counts.forEach((c, i) => {
    const x0 = ax.sx(o.edges[i]!);
    const x1 = ax.sx(o.edges[i + 1] ?? o.edges[i]! + step);
    body += `<rect x="${x0.toFixed(1)}" y="${ax.sy(c).toFixed(1)}" width="${Math.max(0.5, x1 - x0 - 0.5).toFixed(1)}" height="${(ax.sy(0) - ax.sy(c)).toFixed(1)}" fill="${o.color ?? '#457b9d'}"/>`;
  });
  const rows = ['bin_left,bin_right,count', ...o.counts.map((c, i) => `${o.edges[i]},${o.edges[i + 1] ?? o.edges[i]! + step},${c}`)];
  return { name, caption, svg: frame(W, H, body, caption), data: { csv: rows.join('\n') + '\n' } };
}

/** points in the plane coloured by a value (the dictionary map: UMAP of decoder directions by log density) */
export function scatterFigure(name: string, caption: string, o: { xy: Float32Array; value: Float32Array; valueLabel: string }): Figure {
  const n = o.value.length;
  const xs = Array.from({ length: n }, (_, i) => o.xy[2 * i]!);
  const ys = Array.from({ length: n }, (_, i) => o.xy[2 * i + 1]!);
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const [v0, v1] = extent(Array.from(o.value));
  const size = 480;
  const at = (v: number, lo: number, hi: number) => 16 + ((v - lo) / (hi - lo || 1)) * (size - 32);
  let body = '';
  for (let i = 0; i < n; i++) body += `<circle cx="${at(xs[i]!, x0, x1).toFixed(1)}" cy="${(size - at(ys[i]!, y0, y1)).toFixed(1)}" r="2" fill="${ramp((o.value[i]! - v0) / (v1 - v0 || 1))}"/>`;
  body += `<text x="${size + 12}" y="24" ${FONT}>${esc(o.valueLabel)}</text>`;
  for (let k = 0; k <= 4; k++) body += `<rect x="${size + 12}" y="${36 + k * 22}" width="14" height="14" fill="${ramp(k / 4)}"/><text x="${size + 32}" y="${47 + k * 22}" ${FONT}>${num(v0 + ((v1 - v0) * k) / 4)}</text>`;
  const rows = [`feature,x,y,${csvCell(o.valueLabel)}`, ...Array.from({ length: n }, (_, i) => `${i},${xs[i]},${ys[i]},${o.value[i]}`)];
  return { name, caption, svg: frame(size + 140, size, body, caption), data: { csv: rows.join('\n') + '\n' } };
}

/** texts as rows of tokens, each token's background by a feature's activation on it (0: white) */
export function tokensFigure(name: string, caption: string, rows: { label: string; tokens: string[]; acts: number[]; from?: number }[], data: unknown): Figure {
  const max = Math.max(1e-9, ...rows.flatMap((r) => r.acts));
  const width = 760;
  let y = 12;
  let body = '';
  for (const r of rows) {
    body += `<text x="12" y="${y + 14}" ${FONT} font-weight="bold">${esc(r.label)}</text>`;
    y += 22;
    let x = 12;
    r.tokens.forEach((t, i) => {
      const shown = t.replace(/\n/g, '⏎');
      const w = Math.max(4, shown.length * 7.23); // a 12 px monospace glyph's advance
      if (x + w > width - 12) {
        x = 12;
        y += 22;
      }
      const a = r.acts[i]! / max;
      const prompt = r.from !== undefined && i < r.from;
      body += `<rect x="${x}" y="${y}" width="${w.toFixed(1)}" height="18" fill="${activationShade(a) ?? '#fff'}" stroke="${prompt ? '#cbd2d9' : 'none'}"/>`;
      body += `<text x="${x.toFixed(1)}" y="${y + 13}" font-family="ui-monospace, monospace" font-size="12" fill="${prompt ? '#52606d' : '#1f2933'}" xml:space="preserve">${esc(shown)}</text>`;
      x += w;
    });
    y += 30;
  }
  return { name, caption, svg: frame(width, y, body, caption), data: { json: data } };
}

/** the shade of a token for a feature's activation a in (0, 1] of the largest shown (none at 0), in the page and in figures */
export function activationShade(a: number): string | undefined {
  return a > 0 ? `rgba(230, 57, 70, ${(0.15 + 0.85 * Math.min(1, a)).toFixed(2)})` : undefined;
}

/** white → red → dark red, for a value in [0, 1] */
function ramp(t: number): string {
  const c = Math.max(0, Math.min(1, t));
  const mix = (a: number, b: number, u: number) => Math.round(a + (b - a) * u);
  const [r, g, b] = c < 0.5 ? [mix(69, 244, c * 2), mix(123, 162, c * 2), mix(157, 97, c * 2)] : [mix(244, 157, (c - 0.5) * 2), mix(162, 2, (c - 0.5) * 2), mix(97, 8, (c - 0.5) * 2)];
  return `rgb(${r},${g},${b})`;
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** PNG bytes of an SVG, drawn at `scale` times its size (in a page: the browser rasterises it) */
export async function svgToPng(svg: string, scale = 2): Promise<Blob> {
  const img = new Image();
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth * scale;
    canvas.height = img.naturalHeight * scale;
    const g = canvas.getContext('2d')!;
    g.scale(scale, scale);
    g.drawImage(img, 0, 0);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the PNG could not be made'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}
