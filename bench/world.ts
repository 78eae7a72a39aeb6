/**
 * World generation speed and memory: `npx tsx bench/world.ts [--cases small,100k,1m] [--repeat N] [--keep]`.
 * Each case runs in a fresh child process (peak RSS is the child's, DuckDB included). The baseline, measured in the
 * same run on the same files, is DuckDB re-reading and re-writing every Parquet file the case produced: the floor
 * for any generator that writes this much data this way.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld, readManifest } from '../src/world/index.js';
import { machineLine } from './lib.js';

interface CaseSpec {
  readonly name: string;
  readonly users: number;
  readonly days: number;
  readonly features: number;
}
const CASES: Record<string, CaseSpec> = {
  small: { name: '10K users x 200 features x 14 days', users: 10_000, days: 14, features: 200 },
  '100k': { name: '100K users x 200 features x 14 days', users: 100_000, days: 14, features: 200 },
  '1m': { name: '1M users x 2,500 features x 1 day', users: 1_000_000, days: 1, features: 2_500 },
};

interface ChildResult {
  readonly generateMs: number;
  /** CPU seconds of the whole process during generation (JS + DuckDB threads): steadier than wall time on a busy machine. */
  readonly generateCpuS: number;
  readonly rewriteMs: number;
  readonly maxRssMb: number;
  readonly rows: Record<string, number>;
  readonly bytes: number;
}

async function child(users: number, days: number, features: number, dir: string): Promise<void> {
  const began = performance.now();
  const cpu0 = process.cpuUsage();
  const m = await generateWorld({ outDir: dir, users, days, features, seed: 1, overwrite: true });
  const generateMs = performance.now() - began;
  const cpu = process.cpuUsage(cpu0);
  const generateCpuS = (cpu.user + cpu.system) / 1e6;
  const rssAfterGenerate = process.resourceUsage().maxRSS / 1024;
  // baseline: DuckDB rewriting the same files (read + write Parquet), in this process after generation
  const { WorldDb } = await import('../src/world/duckdb-world-db.js');
  const db = await WorldDb.open({ path: ':memory:', memoryLimit: '1GB', tempDirectory: join(dir, '.tmp') });
  const r0 = performance.now();
  for (const [name, t] of Object.entries(m.tables)) {
    for (const [k, f] of (t?.files ?? []).entries()) {
      await db.exec(
        `COPY (SELECT * FROM read_parquet('${join(dir, f)}')) TO '${join(dir, `.rewrite-${name}-${k}.parquet`)}' (FORMAT parquet, COMPRESSION snappy)`,
      );
    }
  }
  const rewriteMs = performance.now() - r0;
  db.close();
  const rows: Record<string, number> = {};
  for (const [name, t] of Object.entries(readManifest(dir).tables)) rows[name] = t?.rows ?? 0;
  const bytes = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
  const result: ChildResult = { generateMs, generateCpuS, rewriteMs, maxRssMb: rssAfterGenerate, rows, bytes };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await child(Number(args[1]), Number(args[2]), Number(args[3]), args[4] as string);
    return;
  }
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
  };
  const cases = opt('--cases', 'small,100k').split(',');
  const repeat = Number(opt('--repeat', '1'));
  console.log(machineLine());
  console.log(
    'case | generate wall (median) | generate CPU | DuckDB rewrite of the same files | ratio (wall) | peak RSS | events | batch rows | size',
  );
  for (const key of cases) {
    const spec = CASES[key];
    if (!spec) throw new Error(`unknown case ${key}; expected ${Object.keys(CASES).join(', ')}`);
    const results: ChildResult[] = [];
    for (let r = 0; r < repeat; r++) {
      const dir = mkdtempSync(join(tmpdir(), 'adnova-bench-world-'));
      try {
        const out = execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            new URL(import.meta.url).pathname,
            '--child',
            String(spec.users),
            String(spec.days),
            String(spec.features),
            dir,
          ],
          { maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] },
        ).toString();
        const line = out.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) throw new Error(`child printed no result: ${out.slice(0, 500)}`);
        results.push(JSON.parse(line.slice(7)) as ChildResult);
      } finally {
        if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
      }
    }
    const gen = median(results.map((x) => x.generateMs));
    const genCpu = median(results.map((x) => x.generateCpuS));
    const rew = median(results.map((x) => x.rewriteMs));
    const rss = Math.max(...results.map((x) => x.maxRssMb));
    const last = results[results.length - 1] as ChildResult;
    console.log(
      `${spec.name} | ${(gen / 1000).toFixed(1)} s | ${genCpu.toFixed(1)} s | ${(rew / 1000).toFixed(1)} s | ${(gen / rew).toFixed(1)}x | ${rss.toFixed(0)} MB | ${(last.rows['events'] ?? 0).toLocaleString('en-US')} | ${(last.rows['batch'] ?? 0).toLocaleString('en-US')} | ${(last.bytes / 1e9).toFixed(2)} GB`,
    );
  }
}

await main();
