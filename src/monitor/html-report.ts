/**
 * The drift report as one self-contained HTML page: a sortable table (click a header) with a small inline-SVG
 * histogram per feature (reference vs current shares on the reference bins, or the top categories). No external
 * scripts, styles or fonts.
 */
import type { DatasetDriftResult, FeatureDriftResult } from './drift-detector.js';
import type { LabelDriftReport } from './drift-report.js';
import { alignCategories, featureKindOf } from './feature-comparison.js';

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );

// exponents outside [1e-4, 1e4), so a unit change (a score of 5e11) does not widen its column to 17 characters
const fmt = (x: number | null | undefined, digits = 4): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? ''
    : (Math.abs(x) < 1e-4 && x !== 0) || Math.abs(x) >= 1e4
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
  const w = 140;
  const h = 36;
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

const HEADERS = [
  ['feature', 'text'],
  ['kind', 'text'],
  ['method', 'text'],
  ['score', 'num'],
  ['threshold', 'num'],
  ['p-value', 'num'],
  ['rank', 'num'],
  ['verdict', 'text'],
  ['null ref → cur', 'num'],
  ['PSI', 'num'],
  ['JS', 'num'],
  ['W norm', 'num'],
  ['KS', 'num'],
  ['chi2', 'num'],
  ['L-inf', 'num'],
  ['histogram (ref | cur)', 'none'],
] as const;
const RANK_COLUMN = HEADERS.findIndex(([h]) => h === 'rank');

/** One feature as a tbody: its statistics row, and its data-quality issues on a full-width row below. */
function featureBody(f: FeatureDriftResult, name = f.comparison.name): string {
  const c = f.comparison;
  const s = c.stats;
  const cell = (x: number | null, d = 4): string =>
    `<td data-v="${x === null || !Number.isFinite(x) ? '' : x}">${fmt(x, d)}</td>`;
  const verdict = f.drifted ? 'DRIFT' : f.alarm ? 'QUALITY' : 'ok';
  const kind = featureKindOf(c);
  const method = `${f.method}${c.binned ? ' on bins' : ''}`;
  const nulls = `${fmt(c.nullShareReference, 3)} → ${fmt(c.nullShareCurrent, 3)}`;
  const main = `<tr><td data-v="${esc(name)}" class="n">${esc(name)}</td><td data-v="${kind}">${kind}</td><td data-v="${esc(method)}">${esc(method)}</td>${cell(f.score)}${cell(f.threshold)}${cell(f.pvalue)}${cell(f.rank, 3)}<td data-v="${verdict}" class="v">${verdict}</td><td data-v="${c.nullShareCurrent - c.nullShareReference}">${nulls}</td>${cell(s.psi)}${cell(s.jsDistance)}${cell(s.wassersteinNorm)}${cell(s.ksStatistic)}${cell(s.chi2Statistic, 2)}${cell(s.linf)}<td class="h">${histogramSvg(f)}</td></tr>`;
  const issues =
    f.quality.issues.length === 0
      ? ''
      : `<tr class="qi"><td colspan="${HEADERS.length}">data quality: ${f.quality.issues.map(esc).join('; ')}</td></tr>`;
  return `<tbody class="${f.drifted ? 'drift' : f.alarm ? 'quality' : ''}">${main}${issues}</tbody>`;
}

function tableHtml(id: string, bodies: string, sortable: boolean): string {
  const th = HEADERS.map(
    ([h, type], i) =>
      `<th data-i="${i}" data-t="${type}"${sortable && i === RANK_COLUMN ? ' aria-sort="descending"' : ''}>${esc(h)}${sortable && i === RANK_COLUMN ? ' ▼' : ''}</th>`,
  ).join('');
  return `<div class="wrap"><table id="${id}"${sortable ? ' class="sortable"' : ''}><thead><tr>${th}</tr></thead>\n${bodies}\n</table></div>`;
}

export interface DriftHtmlExtras {
  /** Drift of the model's scores. */
  readonly prediction?: FeatureDriftResult;
  /** Label drift of the label column (kept out of the features). */
  readonly label?: LabelDriftReport;
}

export function renderDriftHtml(
  result: DatasetDriftResult,
  title = 'adnova drift report',
  extras: DriftHtmlExtras = {},
): string {
  const bodies = result.features.map((f) => featureBody(f)).join('\n');
  const prediction = extras.prediction
    ? `<h2>Prediction drift (model scores)</h2>\n${tableHtml('p', featureBody(extras.prediction, 'score'), false)}`
    : '';
  const l = extras.label;
  const label = l
    ? `<h2>Label drift</h2>\n<p class="summary"><span>label column <b>${esc(l.column)}</b></span><span>matured labels: reference ${l.maturedReference}, current ${l.maturedCurrent}</span><span>base rate ${fmt(l.baseRateReference)} → ${fmt(l.baseRateCurrent)} (difference ${fmt(l.difference)})</span><span>p-value ${fmt(l.pvalue)}</span><span class="${l.drifted ? 'bad' : ''}"><b>${l.drifted ? 'DRIFT' : 'ok'}</b></span></p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px 24px;color:#222}h1{font-size:20px;overflow-wrap:anywhere}h2{font-size:16px;margin-top:24px}
.wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:3px 6px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:middle;white-space:nowrap}
td.n,th:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:12em;max-width:20em}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;font-weight:600}table:not(.sortable) th{cursor:default}
tbody.drift td.v,tbody.quality td.v,.bad{color:#b00;font-weight:bold}.r{fill:#7a9cc6}.c{fill:#e08a3c}
tr.qi td{text-align:left;white-space:normal;color:#b00;border-bottom:1px solid #e4e4e4;padding:0 6px 4px 16px;font-size:12px}
tbody.drift tr:first-child td,tbody.quality tr:first-child td{border-bottom:none}td.h{padding:1px 6px}
.summary span{margin-right:24px;display:inline-block}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="summary"><span>rows: reference ${result.rowsReference}, current ${result.rowsCurrent}</span><span>drifted share ${fmt(result.driftedShare, 3)}</span><span>weighted drifted share ${fmt(result.weightedDriftedShare, 3)}</span><span><b>dataset ${result.drifted ? 'DRIFTED' : 'not drifted'}</b></span><span>data-quality alarms ${result.qualityAlarms}</span></p>
<p>Sorted by <b>rank</b> = max(drift severity, data-quality severity); above 1 is an alarm. Drift severity is score / threshold, or log10(p) / log10(alpha) when the score is a Benjamini-Hochberg-adjusted p-value (ks, chi2); p-value is the unadjusted test p-value. Click a column header to sort by it. Bars: <span style="color:#7a9cc6">reference</span> vs <span style="color:#e08a3c">current</span> share per reference bin (numeric) or top categories.</p>
${tableHtml('t', bodies, true)}
${prediction}
${label}
<script>
(function(){var t=document.getElementById('t'),dir={};dir[${RANK_COLUMN}]=true;t.querySelectorAll('th').forEach(function(th){if(th.dataset.t==='none')return;th.addEventListener('click',function(){var i=+th.dataset.i;dir[i]=!dir[i];var bs=Array.prototype.slice.call(t.tBodies);bs.sort(function(x,y){var a=x.rows[0].cells[i].dataset.v||'',c=y.rows[0].cells[i].dataset.v||'';var na=parseFloat(a),nc=parseFloat(c);var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return dir[i]?-r:r;});bs.forEach(function(b){t.appendChild(b);});t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');h.textContent=h.textContent.replace(/ [▲▼]$/,'');});th.setAttribute('aria-sort',dir[i]?'descending':'ascending');th.textContent+=dir[i]?' ▼':' ▲';});});})();
</script>
</body></html>
`;
}
