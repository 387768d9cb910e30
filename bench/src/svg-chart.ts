/**
 * A hand-written SVG line chart: delivered rate (x, log scale) against p99 latency (y, log
 * scale), one line per system, with the latency limit drawn across.
 */
export interface Series {
  label: string;
  color: string;
  /** x: delivered rate, y: p99 ms; `offered` places a point that delivered nothing (drawn as × at the top). */
  points: { x: number; y: number; pass: boolean; offered: number }[];
}

const W = 840;
const H = 460;
const LEFT = 70;
const RIGHT = 250;
const TOP = 40;
const BOTTOM = 60;

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decades(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/** The 1-2-5 step at or below / above a value, so the axis ends on a labelled tick. */
function niceBelow(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((m) => m * e).find((x) => x <= v) ?? e;
}

function niceAbove(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * e).find((x) => x >= v) ?? 10 * e;
}

function label(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  return v >= 1 ? String(v) : String(Number(v.toPrecision(2)));
}

export function rateLatencyChart(title: string, series: Series[], limitMs: number): string {
  const collapsed = (p: Series['points'][number]): boolean => !(p.x > 0 && p.y > 0);
  const xs = series.flatMap((s) => s.points.map((p) => (collapsed(p) ? p.offered : p.x))).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => v > 0);
  const xMin = niceBelow(Math.min(...xs) / 1.2);
  const xMax = niceAbove(Math.max(...xs) * 1.2);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys, 1)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys, limitMs * 2)));
  const px = (x: number): number => LEFT + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (W - LEFT - RIGHT);
  const py = (y: number): number => TOP + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - TOP - BOTTOM);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`);
  for (const t of decades(xMin, xMax)) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${TOP}" x2="${x}" y2="${H - BOTTOM}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x}" y="${H - BOTTOM + 16}" text-anchor="middle" fill="#444">${label(t)}</text>`);
  }
  for (const t of decades(yMin, yMax)) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${LEFT}" y1="${y}" x2="${W - RIGHT}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${LEFT - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end" fill="#444">${label(t)}</text>`);
  }
  out.push(`<rect x="${LEFT}" y="${TOP}" width="${W - LEFT - RIGHT}" height="${H - TOP - BOTTOM}" fill="none" stroke="#888"/>`);
  const ly = py(limitMs).toFixed(1);
  out.push(`<line x1="${LEFT}" y1="${ly}" x2="${W - RIGHT}" y2="${ly}" stroke="#c00" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${W - RIGHT - 4}" y="${(py(limitMs) - 5).toFixed(1)}" text-anchor="end" fill="#c00">p99 limit ${limitMs} ms</text>`);
  out.push(`<text x="${(LEFT + (W - RIGHT)) / 2}" y="${H - 18}" text-anchor="middle">delivered rate (messages/s reaching every member, log scale)</text>`);
  out.push(`<text transform="translate(18 ${(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">p99 latency (ms, log scale)</text>`);
  series.forEach((s, i) => {
    for (const p of s.points.filter(collapsed)) {
      // Nothing delivered in the window (every member cut off): an × at the offered rate, on top.
      const cx = px(p.offered);
      const cy = TOP + 8;
      out.push(`<path d="M${(cx - 5).toFixed(1)},${cy - 5} l10,10 m0,-10 l-10,10" stroke="${s.color}" stroke-width="2"/>`);
    }
    const pts = s.points.filter((p) => !collapsed(p)).sort((a, b) => a.x - b.x);
    if (pts.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const p of pts) {
        const cx = px(p.x).toFixed(1);
        const cy = py(p.y).toFixed(1);
        out.push(
          p.pass
            ? `<circle cx="${cx}" cy="${cy}" r="4" fill="${s.color}"/>`
            : `<circle cx="${cx}" cy="${cy}" r="4" fill="white" stroke="${s.color}" stroke-width="2"/>`,
        );
      }
    }
    const ky = TOP + 10 + i * 22;
    out.push(`<line x1="${W - RIGHT + 16}" y1="${ky}" x2="${W - RIGHT + 40}" y2="${ky}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<circle cx="${W - RIGHT + 28}" cy="${ky}" r="4" fill="${s.color}"/>`);
    out.push(`<text x="${W - RIGHT + 46}" y="${ky + 4}">${escape(s.label)}</text>`);
  });
  const ky = TOP + 10 + series.length * 22 + 8;
  out.push(`<circle cx="${W - RIGHT + 28}" cy="${ky}" r="4" fill="#666"/><text x="${W - RIGHT + 46}" y="${ky + 4}" fill="#444">passed</text>`);
  out.push(
    `<circle cx="${W - RIGHT + 28}" cy="${ky + 18}" r="4" fill="white" stroke="#666" stroke-width="2"/><text x="${W - RIGHT + 46}" y="${ky + 22}" fill="#444">failed (loss or p99)</text>`,
  );
  out.push(
    `<path d="M${W - RIGHT + 23},${ky + 31} l10,10 m0,-10 l-10,10" stroke="#666" stroke-width="2"/><text x="${W - RIGHT + 46}" y="${ky + 40}" fill="#444">nothing delivered</text>`,
  );
  out.push(`<text x="${W - RIGHT + 46}" y="${ky + 54}" fill="#444">(at the offered rate)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
