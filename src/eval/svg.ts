// A hand-written horizontal bar chart as standalone SVG (no dependencies), for the probing ranking.

export interface Bar {
  label: string;
  value: number;
  /** Optional secondary text drawn after the value (e.g. "I2T 81.0 / T2I 79.5"). */
  note?: string;
}

/** Escape text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/**
 * Bars in the given order (first at the top), scaled to `max` (default: 100 when all values are
 * percentages <= 100, else the largest value). Non-finite values draw as empty bars labelled "n/a".
 */
export function barChartSvg(bars: readonly Bar[], opts: { title?: string; unit?: string; max?: number; width?: number } = {}): string {
  const width = opts.width ?? 760;
  const labelW = Math.min(260, 14 + 7 * Math.max(8, ...bars.map((b) => b.label.length)));
  const barH = 22;
  const gap = 10;
  const top = opts.title ? 44 : 16;
  const chartW = width - labelW - 220;
  const finite = bars.map((b) => b.value).filter(Number.isFinite);
  const max = opts.max ?? (finite.every((v) => v <= 100) ? 100 : Math.max(1e-12, ...finite));
  const height = top + bars.length * (barH + gap) + 30;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (opts.title) out.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${xmlEscape(opts.title)}</text>`);
  // light vertical grid at quarters of the scale
  for (let q = 0; q <= 4; q++) {
    const x = labelW + (chartW * q) / 4;
    out.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${height - 26}" stroke="#dddddd"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${height - 10}" text-anchor="middle" fill="#666666">${fmt((max * q) / 4)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * (barH + gap);
    const w = Number.isFinite(b.value) ? Math.max(0, Math.min(1, b.value / max)) * chartW : 0;
    const color = i === 0 ? '#2b7bb9' : '#8fb8d8';
    out.push(`<text x="${labelW - 8}" y="${y + barH * 0.7}" text-anchor="end">${xmlEscape(b.label)}</text>`);
    out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
    const value = Number.isFinite(b.value) ? fmt(b.value) + (opts.unit ?? '') : 'n/a';
    const note = b.note ? `  ${b.note}` : '';
    out.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + barH * 0.7}">${xmlEscape(value + note)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
}
