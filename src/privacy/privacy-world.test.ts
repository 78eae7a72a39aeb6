import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/test-io.js';
import { InvalidInputError, ManualClock, MS_PER_HOUR, type TombstoneCheck } from '../core/index.js';
import { deployWorld, openDeployment, type WorldDeployment } from '../decision/index.js';
import { worldDefinitionsPath } from '../features/index.js';
import {
  BusReplayTarget,
  compileAggregationPlan,
  FileAggregatorStateStore,
  FileDeadLetterSink,
  MemoryEventBus,
  StreamIngestor,
} from '../stream/index.js';
import { generateWorld, replayEvents, tableFiles, type WorldManifest } from '../world/index.js';
import { openDeploymentPrivacy } from './deployment-privacy.js';

const lit = (p: string) => `'${p.replaceAll("'", "''")}'`;

/** The World's events through a bus into the deployment's feature store, as `adnova stream run` keeps its files. */
async function runStream(deploymentDir: string, worldDir: string, tombstones?: TombstoneCheck) {
  const d = await openDeployment({ dir: deploymentDir, ...(tombstones ? { tombstones } : {}) });
  const streamDir = join(d.layout.features, 'stream');
  const state = new FileAggregatorStateStore(join(streamDir, 'stream-aggregates.state'));
  const deadLetters = await FileDeadLetterSink.open(join(streamDir, 'dead-letters.ndjson'));
  const lateEvents = await FileDeadLetterSink.open(join(streamDir, 'late-events.ndjson'));
  const bus = new MemoryEventBus();
  try {
    const target = new BusReplayTarget(bus, 'events');
    await replayEvents({ dir: worldDir, target });
    await target.flush();
    const ingestor = await StreamIngestor.start({
      bus,
      topic: 'events',
      plan: compileAggregationPlan(d.store.definitions()),
      features: d.store,
      state,
      deadLetters,
      lateEvents,
      ...(tombstones ? { tombstones } : {}),
      flushEveryMessages: 20_000,
    });
    const stats = await ingestor.runUntilIdle(300);
    await ingestor.close();
    await d.flush();
    return stats;
  } finally {
    await deadLetters.close();
    await lateEvents.close();
    await bus.close();
    await d.close();
  }
}

describe("a World's deletions on its deployment", () => {
  let root: string;
  let worldDir: string;
  let manifest: WorldManifest;
  let built: WorldDeployment;
  let deleted: string[];
  /** Offline rows per user of everyone not deleted, before any deletion. */
  let othersBefore: Map<string, number>;

  const offlineRowsByUser = async (dir: string, exclude: readonly string[]) => {
    const d = await openDeployment({ dir });
    try {
      const rows = await d.store.offline.query(
        `SELECT entity_id AS u, count(*)::DOUBLE AS n FROM read_parquet(${lit(`${d.store.offline.offlineRoot}/*/*/*.parquet`)}, union_by_name = true) GROUP BY ALL`,
      );
      const skip = new Set(exclude);
      return new Map(rows.filter((r) => !skip.has(String(r['u']))).map((r) => [String(r['u']), Number(r['n'])]));
    } finally {
      await d.close();
    }
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'adnova-privacy-'));
    worldDir = join(root, 'w');
    manifest = await generateWorld({
      outDir: worldDir,
      users: 900,
      days: 8,
      seed: 11,
      features: 24,
      scenarios: ['deletion-wave'],
    });
    built = await deployWorld({
      worldDir,
      dir: join(root, 'd'),
      definitionsPath: worldDefinitionsPath(),
      gbdt: { trees: 15 },
    });
    // the stream job ran during the window: its state, dead letters and late events hold the users too
    await runStream(built.dir, worldDir);
    const d = await openDeployment({ dir: built.dir, clock: new ManualClock(manifest.endTs) });
    try {
      const sends = tableFiles(worldDir, manifest, 'sends')[0] as string;
      const labels = join(root, 'labels.parquet');
      await d.store.offline.execute(
        `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet(${lit(sends)})) TO ${lit(labels)} (FORMAT parquet)`,
      );
      await d.store.trainingSet({ service: d.service, labelsPath: labels, outPath: join(root, 'train.parquet') });
      const rows = await d.store.offline.query(
        `SELECT DISTINCT user_id FROM read_parquet(${lit(tableFiles(worldDir, manifest, 'deletions')[0] as string)})`,
      );
      deleted = rows.map((r) => String(r['user_id'])).sort();
      for (const u of deleted.slice(0, 3)) d.ledger.add(u, 'email', manifest.endTs);
      await d.flush();
    } finally {
      await d.close();
    }
    othersBefore = await offlineRowsByUser(built.dir, deleted);
  }, 300_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('erases every request of deletions.parquet from every store: verify --all finds 0 leftovers', async () => {
    expect(deleted.length).toBeGreaterThan(10);
    const p = await openDeploymentPrivacy({ dir: built.dir, clock: new ManualClock(manifest.endTs) });
    let ids: string[];
    try {
      ids = [];
      for (const u of deleted) ids.push((await p.service.submit([u], 'world')).id);
      // tombstoned, not yet erased: the verifier sees them everywhere they are
      const before = await p.service.verify();
      expect(before.checked).toBe(deleted.length);
      for (const store of ['offline', 'online', 'trainingSets', 'aggregatorState', 'segmentIndex', 'capLedger'])
        expect(before.stores[store]?.leftovers, store).toBeGreaterThan(0);
      expect(p.service.sla(manifest.endTs + 21 * MS_PER_HOUR)).toMatchObject({ atRisk: ids.length, missed: 0 });
      const applied = await p.service.apply();
      expect(applied).toMatchObject({ requests: ids.length, users: deleted.length, resumed: false });
      expect(p.service.batchDue()).toBe(false);
    } finally {
      await p.close();
    }
    const cli = await runCliCaptured(['privacy', 'verify', '--all', '--json', '--deployment', built.dir]);
    expect(cli.code, cli.err).toBe(0);
    const report = JSON.parse(cli.out) as {
      checked: number;
      leftovers: number;
      stores: Record<string, { leftovers: number | null }>;
    };
    expect(report.checked).toBe(deleted.length);
    expect(report.leftovers).toBe(0);
    for (const [name, s] of Object.entries(report.stores)) expect(s.leftovers, name).toBe(0);
    const byUser = await runCliCaptured([
      'privacy',
      'verify',
      '--user',
      deleted[0] as string,
      '--json',
      '--deployment',
      built.dir,
    ]);
    expect(JSON.parse(byUser.out)).toMatchObject({ checked: 1, leftovers: 0 });

    // the receipts: complete, every store removed and verified, the models to retrain, and no user id anywhere
    const status = await runCliCaptured(['privacy', 'status', ids[0] as string, '--json', '--deployment', built.dir]);
    const receipt = JSON.parse(status.out);
    expect(receipt).toMatchObject({ status: 'complete', users: 1, usersFound: 1, nothingFound: false });
    for (const s of Object.values(receipt.stores) as { leftovers: number; verifiedBy: string }[]) {
      expect(s.leftovers).toBe(0);
      expect(s.verifiedBy.length).toBeGreaterThan(5);
    }
    expect(receipt.stores.offline.usersFound).toBe(1);
    expect(receipt.models.filter((m: { action: string }) => m.action === 'retrain').length).toBe(6);
    const privacyDir = join(built.dir, 'privacy');
    for (const f of ['tombstones.log', `requests/${ids[0]}.json`])
      expect(readFileSync(join(privacyDir, f), 'utf8')).not.toContain(deleted[0]);
    expect(existsSync(join(privacyDir, 'pending', `${ids[0]}.json`))).toBe(false);
    expect(readFileSync(join(built.dir, 'index', 'users.txt'), 'utf8').split('\n')).not.toContain(deleted[0]);

    // everyone else's history is untouched, row for row
    expect(await offlineRowsByUser(built.dir, deleted)).toEqual(othersBefore);
  }, 120_000);

  it('replaying the whole event stream, importing and materializing again brings none of them back', async () => {
    const p = await openDeploymentPrivacy({ dir: built.dir, clock: new ManualClock(manifest.endTs) });
    try {
      const stats = await runStream(built.dir, worldDir, p.ledger);
      expect(stats.tombstoned).toBeGreaterThan(0);
      // the others' events are duplicates of what the saved state has seen (its dedup ids), the deleted users' dropped
      expect(stats.duplicates).toBeGreaterThan(0);
      const store = p.deployment.store;
      expect(await store.importSource('user_batch', worldDir)).toBeGreaterThan(0);
      await store.materialize({ asOfMs: manifest.endTs });
      expect(p.deployment.index.upsertUser(deleted[0] as string, { country: 'US' })).toBe(-1);
      const sends = tableFiles(worldDir, manifest, 'sends')[0] as string;
      const labels = join(root, 'labels.parquet');
      const again = await store.trainingSet({
        service: p.deployment.service,
        labelsPath: labels,
        outPath: join(root, 'train2.parquet'),
      });
      const [{ n }] = (await store.offline.query(
        `SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit(sends)}) WHERE user_id NOT IN (SELECT user_id FROM read_parquet(${lit(tableFiles(worldDir, manifest, 'deletions')[0] as string)}))`,
      )) as [{ n: number }];
      expect(again.rows).toBe(n);
      const v = await p.service.verify();
      expect(Object.fromEntries(Object.entries(v.stores).map(([k, s]) => [k, s.leftovers]))).toEqual(
        Object.fromEntries(Object.keys(v.stores).map((k) => [k, 0])),
      );
      expect(v.leftovers).toBe(0);
    } finally {
      await p.close();
    }
  }, 120_000);

  it('a crash half-way through a batch resumes and completes; the other users keep every row', async () => {
    const victims = [...othersBefore.keys()].sort().slice(0, 25);
    const before = await offlineRowsByUser(built.dir, [...deleted, ...victims]);
    let rewritten = 0;
    const crashing = await openDeploymentPrivacy({
      dir: built.dir,
      onOfflineFileRewritten: () => {
        if (++rewritten === 3) throw new Error('power cut');
      },
    });
    try {
      await crashing.service.submit(victims.slice(0, 10), 'ops');
      await crashing.service.submit(victims.slice(10), 'ops');
      await expect(crashing.service.apply()).rejects.toThrow('power cut');
    } finally {
      await crashing.close();
    }
    expect(await offlineRowsByUser(built.dir, [...deleted, ...victims])).toEqual(before);
    const p = await openDeploymentPrivacy({ dir: built.dir });
    try {
      const statuses = p.service.receipts().filter((r) => r.requestedBy === 'ops');
      expect(statuses.map((r) => r.status)).toEqual(['applying', 'applying']);
      expect(statuses[0]?.error).toMatch(/offline: power cut/);
      const r = await p.service.apply();
      expect(r).toMatchObject({ resumed: true, requests: 2, users: 25 });
      expect(
        p.service
          .receipts()
          .filter((x) => x.requestedBy === 'ops')
          .map((x) => x.status),
      ).toEqual(['complete', 'complete']);
      expect((await p.service.verify(victims)).leftovers).toBe(0);
    } finally {
      await p.close();
    }
    expect(await offlineRowsByUser(built.dir, [...deleted, ...victims])).toEqual(before);
  }, 120_000);

  it('bad input: a malformed id is refused, a repeated request is the same request, an unknown user is found nowhere', async () => {
    const p = await openDeploymentPrivacy({ dir: built.dir });
    try {
      await expect(p.service.submit(['ok-1', 'not an id'], 'ops')).rejects.toThrow(InvalidInputError);
      await expect(p.service.submit(['ok-1', 'not an id'], 'ops')).rejects.toThrow(/userIds\[1\].*"not an id"/);
      await expect(p.service.submit([], 'ops')).rejects.toThrow(/non-empty/);
      const first = await p.service.submit([deleted[0] as string], 'again');
      expect(first).toMatchObject({ status: 'complete', repeated: true });
      const unknown = await p.service.submit(['nobody-ever-42'], 'ops');
      expect(unknown).toMatchObject({ status: 'pending', repeated: false });
      expect(await p.service.submit(['nobody-ever-42'], 'ops')).toMatchObject({ id: unknown.id, repeated: true });
      await p.service.apply();
      expect(p.service.status(unknown.id)).toMatchObject({
        status: 'complete',
        nothingFound: true,
        usersFound: 0,
        models: [],
      });
      expect(p.service.status('del_nope')).toBeNull();
    } finally {
      await p.close();
    }
    const bad = await runCliCaptured(['privacy', 'delete', '--user', 'bad id', '--deployment', built.dir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad id/);
    const missing = await runCliCaptured(['privacy', 'status', 'del_00000000000000000000', '--deployment', built.dir]);
    expect(missing.code).toBe(2);
    const delCli = await runCliCaptured([
      'privacy',
      'delete',
      '--user',
      'cli-user-1',
      '--json',
      '--deployment',
      built.dir,
    ]);
    expect(delCli.code, delCli.err).toBe(0);
    expect(JSON.parse(delCli.out).requests[0]).toMatchObject({ status: 'complete', repeated: false });
    const sla = await runCliCaptured(['privacy', 'sla', '--json', '--deployment', built.dir]);
    expect(JSON.parse(sla.out)).toMatchObject({ pending: [], atRisk: 0 });
  }, 60_000);
});
