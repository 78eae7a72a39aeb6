/**
 * The drift report as one self-contained HTML page: a sortable table (click a header) with a small inline-SVG
 * histogram per feature (reference vs current shares on the reference bins, or the top categories). No external
 * scripts, styles or fonts.
 */
import type { DatasetDriftResult, FeatureDriftResult } from './drift-detector.js';
import { alignCategories } from './feature-comparison.js';

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );

const fmt = (x: number | null | undefined, digits = 4): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? ''
    : Math.abs(x) < 1e-4 && x !== 0
      ? x.toExponential(2)
      : x.toFixed(digits);

function shares(c: ArrayLike<number>): number[] {
  let t = 0;
  for (let i = 0; i < c.length; i++) t += c[i] as number;
  return Array.from({ length: c.length }, (_, i) => (t > 0 ? (c[i] as number) / t : 0));
}

function histogramSvg(f: FeatureDriftResult): string {
  const { reference, current } = f.comparison;
  let ref: number[];
  let cur: number[];
  let labels: string[];
  if (reference.kind === 'numeric' && current.kind === 'numeric') {
    ref = shares(reference.binCounts);
    cur = shares(current.binCounts);
    const e = Array.from(reference.edges);
    labels = ref.map((_, i) =>
      i === 0
        ? `<= ${fmt(e[0], 3)}`
        : i === e.length
          ? `> ${fmt(e[i - 1], 3)}`
          : `${fmt(e[i - 1], 3)} .. ${fmt(e[i], 3)}`,
    );
  } else if (reference.kind === 'categorical' && current.kind === 'categorical') {
    const a = alignCategories(reference, current);
    const rs = shares(a.ref);
    const cs = shares(a.cur);
    const order = rs
      .map((_, i) => i)
      .sort((x, y) => Math.max(rs[y] as number, cs[y] as number) - Math.max(rs[x] as number, cs[x] as number))
      .slice(0, 12);
    ref = order.map((i) => rs[i] as number);
    cur = order.map((i) => cs[i] as number);
    labels = order.map((i) => a.categories[i] as string);
  } else return '';
  const w = 180;
  const h = 48;
  const n = ref.length;
  if (n === 0) return '';
  const max = Math.max(...ref, ...cur, 1e-9);
  const bw = w / n;
  const bars = ref
    .map((r, i) => {
      const c = cur[i] as number;
      const rh = (r / max) * h;
      const ch = (c / max) * h;
      const title = `<title>${esc(labels[i] ?? '')}: reference ${(r * 100).toFixed(1)}%, current ${(c * 100).toFixed(1)}%</title>`;
      return `<g>${title}<rect x="${(i * bw + 1).toFixed(1)}" y="${(h - rh).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${rh.toFixed(1)}" class="r"/><rect x="${(i * bw + bw / 2).toFixed(1)}" y="${(h - ch).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${ch.toFixed(1)}" class="c"/></g>`;
    })
    .join('');
  return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img">${bars}</svg>`;
}

export function renderDriftHtml(result: DatasetDriftResult, title = 'adnova drift report'): string {
  const rows = result.features
    .map((f) => {
      const c = f.comparison;
      const s = c.stats;
      const cell = (x: number | null, d = 4): string =>
        `<td data-v="${x === null || !Number.isFinite(x) ? '' : x}">${fmt(x, d)}</td>`;
      const verdict = f.drifted ? 'DRIFT' : f.alarm ? 'QUALITY' : 'ok';
      return `<tr class="${f.alarm ? 'drift' : ''}"><td data-v="${esc(c.name)}">${esc(c.name)}</td><td data-v="${c.kind}">${c.kind}</td><td data-v="${f.rank}">${verdict}</td><td data-v="${f.method}">${f.method}</td>${cell(f.score)}${cell(f.threshold)}${cell(c.nullShareReference, 3)}${cell(c.nullShareCurrent, 3)}${cell(s.psi)}${cell(s.jsDistance)}${cell(s.wassersteinNorm)}${cell(s.ksStatistic)}${cell(s.chi2Statistic, 2)}${cell(s.linf)}<td data-v="${esc(f.quality.issues.join('; '))}" class="q">${esc(f.quality.issues.join('; '))}</td><td>${histogramSvg(f)}</td></tr>`;
    })
    .join('\n');
  const headers = [
    'feature',
    'kind',
    'verdict',
    'method',
    'score',
    'threshold',
    'null ref',
    'null cur',
    'PSI',
    'JS',
    'W norm',
    'KS',
    'chi2',
    'L-inf',
    'data quality',
    'histogram (ref | cur)',
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:middle}
td:first-child,th:first-child{text-align:left}th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}
tr.drift td:nth-child(3){color:#b00;font-weight:bold}.r{fill:#7a9cc6}.c{fill:#e08a3c}
.summary span{margin-right:24px}td.q{text-align:left;color:#b00;max-width:28em}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="summary"><span>rows: reference ${result.rowsReference}, current ${result.rowsCurrent}</span><span>drifted share ${fmt(result.driftedShare, 3)}</span><span>weighted drifted share ${fmt(result.weightedDriftedShare, 3)}</span><span><b>dataset ${result.drifted ? 'DRIFTED' : 'not drifted'}</b></span><span>data-quality alarms ${result.qualityAlarms}</span></p>
<p>Bars: <span style="color:#7a9cc6">reference</span> vs <span style="color:#e08a3c">current</span> share per reference bin (numeric) or top categories. Click a column header to sort.</p>
<table id="t"><thead><tr>${headers.map((h, i) => `<th data-i="${i}">${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
<script>
(function(){var t=document.getElementById('t'),dir={};t.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){var i=+th.dataset.i;dir[i]=!dir[i];var b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows);rs.sort(function(x,y){var a=x.cells[i].dataset.v||'',c=y.cells[i].dataset.v||'';var na=parseFloat(a),nc=parseFloat(c);var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return dir[i]?-r:r;});rs.forEach(function(r){b.appendChild(r);});});});})();
</script>
</body></html>
`;
}
