import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featuresDemoStage } from '../../src/cli/demo/features.js';
import { runCli } from '../../src/cli/program.js';
import { capturingIo } from '../../src/cli/test-io.js';
import { defaultConfig, ManualClock, silentLogger, viewStatus } from '../../src/core/index.js';
import {
  FeatureStore,
  loadDefinitionsFile,
  MemoryOnlineStore,
  worldDefinitionsPath,
} from '../../src/features/index.js';
import { generateWorld, type WorldManifest } from '../../src/world/index.js';

// A small simulated World: the feature store reads its nightly batch snapshots through the example YAML.
let root: string;
let worldDir: string;
let manifest: WorldManifest;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'adnova-fw-'));
  worldDir = join(root, 'world');
  manifest = await generateWorld({ outDir: worldDir, users: 400, days: 5, seed: 5, features: 16 });
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('feature store on a World dataset', () => {
  it('parity after materialization reports zero mismatches on every feature and status', async () => {
    const clock = new ManualClock(manifest.endTs);
    const store = await FeatureStore.open({ dir: join(root, 'api-store'), clock, online: new MemoryOnlineStore() });
    try {
      store.apply(loadDefinitionsFile(worldDefinitionsPath()));
      const imported = await store.importSource('user_batch', worldDir);
      expect(imported).toBe(manifest.tables['batch']?.rows);
      const mat = await store.materialize();
      expect(mat[0]?.entitiesRead).toBeGreaterThan(300);
      const report = await store.parity({ service: 'audience_scoring', atMs: manifest.endTs, sample: 400 });
      expect(report.entities).toBeGreaterThan(300);
      expect(report.totalMismatches).toBe(0);
      expect(report.views.every((v) => v.statusMismatches === 0)).toBe(true);
      // and the read is not vacuous: present values, NULL averages served as NaN on both sides
      const m = await store.readOnline('audience_scoring', ['u00000001', 'u00000002', 'u00000003'], {
        atMs: manifest.endTs,
      });
      expect(viewStatus(m, 0, 0)).toBe('present');
      // a day later the snapshot is still within TTL; three days later it has expired on both sides
      for (const later of [manifest.endTs + 86_400_000, manifest.endTs + 3 * 86_400_000]) {
        const r = await store.parity({ service: 'audience_scoring', atMs: later, sample: 100, seed: 3 });
        expect(r.totalMismatches).toBe(0);
        expect(r.views.every((v) => v.statusMismatches === 0)).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('runs apply, import, training-set, materialize, parity and freshness through the CLI', async () => {
    const storeDir = join(root, 'cli-store');
    const run = async (...args: string[]) => {
      const io = capturingIo();
      const code = await runCli(['features', ...args, '--store', storeDir], io);
      return { code, out: io.stdout(), err: io.stderr() };
    };
    const applied = await run('apply', '--file', worldDefinitionsPath(), '--json');
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.out).outcomes.map((o: { action: string }) => o.action)).toContain('created');
    expect((await run('apply', '--file', worldDefinitionsPath())).out).toMatch(/unchanged\s+view user_batch v1/);
    expect((await run('list')).out).toMatch(
      /view\s+user_batch v1\s+batch entity=user features=12 ttl=172800s owner=data-platform tags=pii/,
    );
    const described = JSON.parse((await run('describe', 'user_batch', '--json')).out);
    expect(described.kind).toBe('view');
    expect((await run('import', '--view', 'user_batch', '--source-root', worldDir)).code).toBe(0);

    // labels: sends with the request feature the service needs
    const labels = join(root, 'labels.parquet');
    const helper = await FeatureStore.open({ dir: join(root, 'helper') });
    await helper.offline.execute(
      `COPY (SELECT user_id, send_ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet('${join(worldDir, 'sends.parquet')}')) TO '${labels}' (FORMAT parquet)`,
    );
    await helper.close();
    const out = join(root, 'train.parquet');
    const ts = await run(
      'training-set',
      '--labels',
      labels,
      '--service',
      'audience_scoring',
      '--out',
      out,
      '--timestamp-column',
      'send_ts',
      '--json',
    );
    expect(ts.code).toBe(0);
    expect(JSON.parse(ts.out).rows).toBe(manifest.tables['sends']?.rows);
    // the leakage guard: a send before that night's snapshot was written (2-6 h after midnight) reads the day before (nothing, on the first day)
    const guarded = join(root, 'train-known.parquet');
    const args = ['--labels', labels, '--service', 'audience_scoring', '--timestamp-column', 'send_ts', '--json'];
    expect((await run('training-set', ...args, '--out', guarded, '--known-at-label-time')).code).toBe(0);
    const check = await FeatureStore.open({ dir: join(root, 'helper') });
    try {
      const [diff] = await check.offline.query(
        `SELECT count(*) FILTER (WHERE a."user_batch.__age_ms" <> b."user_batch.__age_ms")::INT AS changed,
                count(*) FILTER (WHERE b."user_batch.__age_ms" BETWEEN 0 AND a."user_batch.__age_ms" - 1)::INT AS fresher,
                count(*) FILTER (WHERE a."user_batch.__age_ms" <> b."user_batch.__age_ms" AND (a.send_ts % 86400000) >= 6 * 3600000)::INT AS late
         FROM '${out}' a JOIN '${guarded}' b USING (label_row)`,
      );
      expect(diff?.['changed']).toBeGreaterThan(0);
      expect(diff?.['fresher']).toBe(0);
      expect(diff?.['late']).toBe(0);
    } finally {
      await check.close();
    }

    const at = new Date(manifest.endTs).toISOString();
    const mat = await run('materialize', '--as-of', at, '--json');
    expect(mat.code).toBe(0);
    const parity = await run('parity', '--service', 'audience_scoring', '--at', at, '--sample', '200', '--json');
    expect(parity.code).toBe(0);
    const report = JSON.parse(parity.out);
    expect(report.entities).toBe(200);
    expect(report.totalMismatches).toBe(0);
    const fresh = await run('freshness', '--at', at, '--json');
    expect(JSON.parse(fresh.out)[0]).toMatchObject({ view: 'user_batch', slaSeconds: 108000 });
    const inc = await run('materialize', '--incremental', '--as-of', at, '--json');
    expect(JSON.parse(inc.out).results[0].entitiesRead).toBe(0); // the full run set the mark; nothing new since
  });

  it('fails bad inputs with exit code 2 and a message saying what was expected', async () => {
    const storeDir = join(root, 'cli-store');
    const run = async (...args: string[]) => {
      const io = capturingIo();
      const code = await runCli(['features', ...args, '--store', storeDir], io);
      return { code, err: io.stderr() };
    };
    const noTs = await run(
      'training-set',
      '--labels',
      join(worldDir, 'sends.parquet'),
      '--service',
      'audience_scoring',
      '--out',
      join(root, 'x.parquet'),
    );
    expect(noTs.code).toBe(2);
    expect(noTs.err).toMatch(/no timestamp column "ts"/);
    expect((await run('parity', '--service', 'audience_scoring', '--at', 'soon')).err).toMatch(
      /--at expects an ISO-8601 time or epoch milliseconds, got "soon"/,
    );
    expect((await run('parity', '--service', 'nope', '--at', '0')).code).toBe(2);
    expect((await run('parity', '--service', 'audience_scoring', '--at', '0', '--sample', '-3')).err).toMatch(
      /--sample expects a positive integer/,
    );
    expect((await run('apply', '--file', join(root, 'missing.yaml'))).err).toMatch(/cannot read definitions file/);
    expect((await run('describe', 'ghost')).code).toBe(2);
  });

  it('runs the demo stage with and without a World, with zero parity mismatches', async () => {
    for (const state of [{ worldDir }, {}]) {
      const workDir = join(root, `demo-${Object.keys(state).length}`);
      const summary = await featuresDemoStage.run?.({
        config: defaultConfig(),
        io: capturingIo(),
        logger: silentLogger,
        workDir,
        state,
      });
      expect(summary).toMatchObject({ source: 'worldDir' in state ? 'world' : 'synthetic', parityMismatches: 0 });
      expect(summary?.['trainingRows']).toBeGreaterThan(0);
      expect((state as { trainingSetPath?: string }).trainingSetPath).toBe(
        join(workDir, 'features', 'training-set.parquet'),
      );
    }
  });
});
