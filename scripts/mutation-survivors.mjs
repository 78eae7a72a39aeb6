#!/usr/bin/env node
// Lists the mutants of a Stryker JSON report that were not killed, one a line: file:line:col status mutator
// `original` -> `replacement`, then a per-file summary (killed, survived, no coverage, timeout, score).
// Usage: node scripts/mutation-survivors.mjs [reports/mutation/mutation.json] [--all]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const all = args.includes('--all');
const path = args.find((a) => !a.startsWith('--')) ?? 'reports/mutation/mutation.json';
const report = JSON.parse(readFileSync(path, 'utf8'));
const oneLine = (s) => (s.length > 70 ? `${s.slice(0, 67)}...` : s).replace(/\s+/g, ' ');

for (const [file, { source, mutants }] of Object.entries(report.files)) {
  const lines = source.split('\n');
  const count = {};
  for (const m of mutants) {
    count[m.status] = (count[m.status] ?? 0) + 1;
    if (!all && (m.status === 'Killed' || m.status === 'Timeout')) continue;
    const { start, end } = m.location;
    const original =
      start.line === end.line
        ? (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1)
        : `${(lines[start.line - 1] ?? '').slice(start.column - 1)}...`;
    console.log(
      `${file}:${start.line}:${start.column} ${m.status} ${m.mutatorName} \`${oneLine(original)}\` -> \`${oneLine(m.replacement ?? '')}\``,
    );
  }
  const killed = (count.Killed ?? 0) + (count.Timeout ?? 0);
  const detectable = killed + (count.Survived ?? 0) + (count.NoCoverage ?? 0);
  const score = detectable === 0 ? Number.NaN : (100 * killed) / detectable;
  console.log(
    `# ${file}: killed ${count.Killed ?? 0}, timeout ${count.Timeout ?? 0}, survived ${count.Survived ?? 0}, no coverage ${count.NoCoverage ?? 0}, errors ${(count.CompileError ?? 0) + (count.RuntimeError ?? 0)}, ignored ${count.Ignored ?? 0}: score ${score.toFixed(2)}%`,
  );
}
