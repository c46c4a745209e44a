// A training-curve plot as a self-contained SVG, written by hand (no plotting dependency).

/** One line of the plot: y values at the given x positions. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  color?: string;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round a positive span to a "nice" tick step (1, 2 or 5 times a power of ten). */
export function niceStep(span: number, targetTicks = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / targetTicks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * pow;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/**
 * Render line series as an SVG document. Non-finite points are skipped; axes get nice ticks; a legend is
 * drawn when there is more than one series.
 */
export function lineChartSvg(series: Series[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 400;
  const m = { left: 64, right: 16, top: 36, bottom: 48 };
  const pts = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  let x0 = Math.min(...pts.map((p) => p.x));
  let x1 = Math.max(...pts.map((p) => p.x));
  let y0 = Math.min(...pts.map((p) => p.y));
  let y1 = Math.max(...pts.map((p) => p.y));
  if (!pts.length) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const yStep = niceStep(y1 - y0);
  y0 = Math.floor(y0 / yStep) * yStep;
  y1 = Math.ceil(y1 / yStep) * yStep;
  const xStep = niceStep(x1 - x0);
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(opts.title)}</text>`);
  // grid and ticks
  for (let y = y0; y <= y1 + yStep * 1e-9; y += yStep) {
    const py = sy(y).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${py}" x2="${W - m.right}" y2="${py}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${m.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${fmt(y)}</text>`);
  }
  for (let x = Math.ceil(x0 / xStep) * xStep; x <= x1 + xStep * 1e-9; x += xStep) {
    const px = sx(x).toFixed(1);
    out.push(`<line x1="${px}" y1="${m.top + ph}" x2="${px}" y2="${m.top + ph + 4}" stroke="black"/>`);
    out.push(`<text x="${px}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);
  if (opts.xLabel) out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  if (opts.yLabel) {
    out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const good = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (good.length) {
      const d = good.map((p, j) => `${j ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    }
    if (series.length > 1) {
      const ly = m.top + 14 + i * 16;
      out.push(`<line x1="${W - m.right - 150}" y1="${ly}" x2="${W - m.right - 130}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
      out.push(`<text x="${W - m.right - 124}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
