import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  type Clock,
  describeError,
  InvalidInputError,
  isValidEntityId,
  type Logger,
  type MetricsRegistry,
  MS_PER_HOUR,
  silentLogger,
  systemClock,
} from '../core/index.js';
import type { StoreEraser } from './erasers.js';
import type { TombstoneLedger } from './tombstone-ledger.js';

/** The deletion SLA: every store within 24 hours of the request. */
export const DELETION_SLA_MS = 24 * MS_PER_HOUR;
/** Pending requests this old are alerted on (metric and log), before the SLA is missed. */
export const DELETION_ALERT_MS = 20 * MS_PER_HOUR;

export type DeletionStatus = 'pending' | 'applying' | 'complete' | 'failed-verification';

/** One store's part of a receipt. */
export interface StoreReceipt {
  /** When the batch holding this request was erased from the store (ISO). */
  readonly removedAt: string;
  /** Records the store removed for the whole batch (its own unit: rows, entries, entities). */
  readonly batchRecords: number;
  /** Of this request's users, how many the store held; null when the store cannot tell per user. */
  readonly usersFound: number | null;
  readonly verifiedAt: string;
  readonly verifiedBy: string;
  /** What the verifier still found of the batch's users: 0 or the request is not complete. */
  readonly leftovers: number;
  readonly durationMs: number;
}

/** A model whose training data may have held the request's users, and what removes them from it. */
export interface ModelRetrain {
  readonly modelId: string;
  readonly goal: string;
  readonly role: string | null;
  readonly registeredAt: string;
  /** `retrain` for a serving model (champion, challenger, fallback); `do-not-restore` for an older version. */
  readonly action: 'retrain' | 'do-not-restore';
  /** The retrain must land by then (the request's SLA). */
  readonly dueBy: string;
  readonly reason: string;
}

/**
 * The receipt of a deletion request. It never names the users: only how many, and per store when they were
 * removed and how that was checked.
 */
export interface DeletionReceipt {
  readonly id: string;
  status: DeletionStatus;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly users: number;
  /** Users with data in at least one store that can tell (null until applied). */
  usersFound: number | null;
  /** True when no store held anything of the users (an unknown user: not an error). */
  nothingFound: boolean | null;
  batchId: string | null;
  completedAt: string | null;
  stores: Record<string, StoreReceipt>;
  models: ModelRetrain[];
  /** The last failure while applying (the batch resumes at the next apply). */
  error: string | null;
}

/** What `submit` answers (serving's `DeletionRequests` shape). */
export interface DeletionSubmitted {
  readonly id: string;
  readonly status: DeletionStatus;
  /** True when the same users were already requested (the existing request is returned). */
  readonly repeated: boolean;
}

/** The models the receipts list: which were trained before a request, on data that could hold its users. */
export interface ModelCatalog {
  list(): ReadonlyArray<{ id: string; goal: string; registeredAt: string; role: string | null }>;
}

export interface DeletionServiceOptions {
  /** The privacy directory (`layout.privacy`): requests, pending ids, the batch journal. */
  readonly dir: string;
  readonly ledger: TombstoneLedger;
  /** The stores, in erase order (offline history before the online copy it feeds). */
  readonly erasers: readonly StoreEraser[];
  readonly models?: ModelCatalog;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
  /** Apply when this many users are pending (default 10,000)... */
  readonly batchUsers?: number;
  /** ...or when the oldest pending request is this old (default 15 minutes). */
  readonly batchIntervalMs?: number;
}

interface BatchJournal {
  readonly id: string;
  readonly requestIds: string[];
  readonly startedAtMs: number;
  /** Per store, what erase and verify gave (kept until the batch's receipts are written). */
  readonly stores: Record<
    string,
    {
      removedAtMs: number;
      records: number;
      found: string[] | null;
      verifiedAtMs: number;
      leftovers: number;
      durationMs: number;
    }
  >;
}

export interface ApplyResult {
  readonly batchId: string | null;
  readonly requests: number;
  readonly users: number;
  /** Per store: ms spent erasing and verifying (0 for a store a resumed batch had done). */
  readonly storeMs: Readonly<Record<string, number>>;
  readonly resumed: boolean;
}

export interface VerifyReport {
  /** Ids (or, with `all`, tombstones) checked. */
  readonly checked: number;
  /** Sum of the stores' leftovers that could be counted. */
  readonly leftovers: number;
  readonly stores: Record<string, { leftovers: number | null; method: string }>;
}

export interface SlaReport {
  readonly pending: ReadonlyArray<{ id: string; status: DeletionStatus; ageHours: number; users: number }>;
  /** Pending requests older than DELETION_ALERT_MS (alerted) and than the SLA (missed). */
  readonly atRisk: number;
  readonly missed: number;
  readonly oldestAgeHours: number | null;
}

const REQUEST_ID = /^del_[0-9a-f]{20}$/;

/**
 * Deletion requests, from submission to receipts. `submit` makes a request durable (tombstones first, then the ids
 * kept for erasure, then the receipt: a request is acknowledged only once its users cannot be written again);
 * `apply` erases pending requests in batches, store by store, each store verified after erasing and the progress
 * journaled, so a crash resumes the same batch where it stopped. The users' ids are kept only while their request
 * is pending; receipts and the ledger never hold them.
 */
export class DeletionService {
  readonly ledger: TombstoneLedger;
  readonly erasers: readonly StoreEraser[];
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #models: ModelCatalog | undefined;
  readonly #batchUsers: number;
  readonly #batchIntervalMs: number;
  readonly #metrics: MetricsRegistry | undefined;

  constructor(options: DeletionServiceOptions) {
    this.ledger = options.ledger;
    this.erasers = options.erasers;
    this.#dir = options.dir;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#models = options.models;
    this.#metrics = options.metrics;
    this.#batchUsers = options.batchUsers ?? 10_000;
    this.#batchIntervalMs = options.batchIntervalMs ?? 15 * 60_000;
    const names = new Set<string>();
    for (const e of this.erasers) {
      if (names.has(e.name)) throw new InvalidInputError(`two store erasers are named ${e.name}`);
      names.add(e.name);
    }
    mkdirSync(this.#requestsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.#pendingDir, { recursive: true, mode: 0o700 });
  }

  get #requestsDir(): string {
    return join(this.#dir, 'requests');
  }

  get #pendingDir(): string {
    return join(this.#dir, 'pending');
  }

  get #journalPath(): string {
    return join(this.#dir, 'batch.json');
  }

  /**
   * A deletion request for these users. Idempotent: the same users requested again return the first request.
   * A malformed id is an InvalidInputError naming it; an unknown user is accepted (its receipt says nothing was found).
   */
  async submit(userIds: readonly string[], requestedBy: string): Promise<DeletionSubmitted> {
    return (await this.submitMany([{ userIds, requestedBy }]))[0] as DeletionSubmitted;
  }

  /**
   * Many requests at once (a file of them): each as `submit` would take it, made durable together (one ledger
   * append, the pending ids and receipts synced as a group), so a file of 10K requests is not 30K fsyncs. Every
   * request is validated before any is recorded.
   */
  async submitMany(
    requests: ReadonlyArray<{ readonly userIds: readonly string[]; readonly requestedBy: string }>,
  ): Promise<DeletionSubmitted[]> {
    const checked = requests.map(({ userIds, requestedBy }, r) => {
      const at = requests.length === 1 ? '' : `request ${r}: `;
      if (!Array.isArray(userIds) || userIds.length === 0)
        throw new InvalidInputError(
          `${at}userIds: expected a non-empty array of user ids, got ${JSON.stringify(userIds)}`,
        );
      if (typeof requestedBy !== 'string' || requestedBy.trim().length === 0)
        throw new InvalidInputError(`${at}requestedBy: expected a non-empty name, got ${JSON.stringify(requestedBy)}`);
      userIds.forEach((id, i) => {
        if (typeof id !== 'string' || !isValidEntityId(id))
          throw new InvalidInputError(
            `${at}userIds[${i}]: expected a user id of 1-128 characters [A-Za-z0-9_.:-] starting with a letter or digit, got ${JSON.stringify(id)}`,
          );
      });
      const ids = [...new Set(userIds)].sort();
      return { id: this.#requestIdOf(ids), ids, requestedBy: requestedBy.trim() };
    });
    const out: DeletionSubmitted[] = [];
    const fresh = new Map<string, (typeof checked)[number]>();
    for (const c of checked) {
      const existing = this.#readReceipt(c.id);
      if (existing !== null) out.push({ id: c.id, status: existing.status, repeated: true });
      else if (fresh.has(c.id)) out.push({ id: c.id, status: 'pending', repeated: true });
      else {
        fresh.set(c.id, c);
        out.push({ id: c.id, status: 'pending', repeated: false });
      }
    }
    if (fresh.size === 0) return out;
    const now = this.#clock.now();
    const list = [...fresh.values()];
    // 1. tombstones: from here on no writer takes the users' data
    await this.ledger.addMany(
      list.map((c) => ({ userIds: c.ids, requestId: c.id })),
      now,
    );
    // 2. the ids, kept only until the request is applied; 3. the receipt: the request is acknowledged
    durableWriteMany(
      list.map((c) => [join(this.#pendingDir, `${c.id}.json`), JSON.stringify({ id: c.id, userIds: c.ids })]),
    );
    durableWriteMany(
      list.map((c) => {
        const receipt: DeletionReceipt = {
          id: c.id,
          status: 'pending',
          requestedBy: c.requestedBy,
          requestedAt: new Date(now).toISOString(),
          users: c.ids.length,
          usersFound: null,
          nothingFound: null,
          batchId: null,
          completedAt: null,
          stores: {},
          models: [],
          error: null,
        };
        this.#logger.info({ requestId: c.id, users: c.ids.length, requestedBy: c.requestedBy }, 'deletion requested');
        return [this.#receiptPath(c.id), receiptText(receipt)];
      }),
    );
    this.#metrics
      ?.counter({ name: 'adnova_privacy_deletion_requests_total', help: 'deletion requests accepted' })
      .inc({}, list.length);
    return out;
  }

  /** The receipt of a request, or null when there is no such request. */
  status(id: string): DeletionReceipt | null {
    if (typeof id !== 'string' || !REQUEST_ID.test(id)) return null;
    const r = this.#readReceipt(id);
    return r === null ? null : this.#withJournal(r, this.#readJournal());
  }

  /** The receipt as stored (no journal read: the batch's own bookkeeping uses this). */
  #readReceipt(id: string): DeletionReceipt | null {
    const file = join(this.#requestsDir, `${id}.json`);
    if (!existsSync(file)) return null;
    return JSON.parse(readFileSync(file, 'utf8')) as DeletionReceipt;
  }

  /** A pending receipt of the batch being applied says so (`applying`, its batch id). */
  #withJournal(r: DeletionReceipt, journal: BatchJournal | null): DeletionReceipt {
    if (r.status === 'pending' && journal?.requestIds.includes(r.id)) {
      r.status = 'applying';
      r.batchId = journal.id;
    }
    return r;
  }

  /** Every receipt, oldest request first. */
  receipts(): DeletionReceipt[] {
    const journal = this.#readJournal();
    return readdirSync(this.#requestsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) =>
        this.#withJournal(JSON.parse(readFileSync(join(this.#requestsDir, f), 'utf8')) as DeletionReceipt, journal),
      )
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id));
  }

  /** Whether a batch is due: enough users pending, the oldest pending request old enough, or a batch to resume. */
  batchDue(nowMs = this.#clock.now()): boolean {
    if (existsSync(this.#journalPath)) return true;
    const pending = this.#pendingRequests();
    if (pending.length === 0) return false;
    const users = pending.reduce((n, p) => n + p.userIds.length, 0);
    let oldest = nowMs;
    for (const p of pending) if (p.requestedAtMs < oldest) oldest = p.requestedAtMs;
    return users >= this.#batchUsers || nowMs - oldest >= this.#batchIntervalMs;
  }

  /** Applies a batch when one is due (`batchDue`); a scheduler calls this. */
  async applyDue(): Promise<ApplyResult | null> {
    return this.batchDue() ? this.apply() : null;
  }

  /**
   * Applies one batch now: the batch a crash interrupted, else the oldest pending requests up to `batchUsers`
   * users. Each store erases the batch's users once, is verified, and its result is journaled before the next.
   */
  async apply(): Promise<ApplyResult> {
    let journal = this.#readJournal();
    const resumed = journal !== null;
    if (journal === null) {
      const pending = this.#pendingRequests();
      if (pending.length === 0) return { batchId: null, requests: 0, users: 0, storeMs: {}, resumed: false };
      const take: string[] = [];
      let users = 0;
      for (const p of pending) {
        if (take.length > 0 && users + p.userIds.length > this.#batchUsers) break;
        take.push(p.id);
        users += p.userIds.length;
      }
      const now = this.#clock.now();
      journal = {
        id: `batch_${now.toString(36)}_${take[0]?.slice(4, 12)}`,
        requestIds: take,
        startedAtMs: now,
        stores: {},
      };
      // the receipts say `applying` from the journal (see #withJournal): no receipt write per request here
      this.#writeJournal(journal);
    }
    const byRequest = new Map<string, string[]>();
    for (const id of journal.requestIds) byRequest.set(id, this.#pendingIdsOf(id));
    const ids = [...new Set([...byRequest.values()].flat())].sort();
    const storeMs: Record<string, number> = {};
    for (const eraser of this.erasers) {
      if (journal.stores[eraser.name] !== undefined) {
        storeMs[eraser.name] = 0;
        continue;
      }
      const started = performance.now();
      let result: Awaited<ReturnType<StoreEraser['erase']>>;
      let leftovers: number;
      const removedAtMs = this.#clock.now();
      try {
        result = await eraser.erase(ids);
        leftovers = await eraser.count(ids);
      } catch (err) {
        const message = `${eraser.name}: ${describeError(err)}`;
        this.#updateReceipts(journal.requestIds, (r) => {
          r.error = message;
        });
        this.#logger.error(
          { batchId: journal.id, store: eraser.name, err: message },
          'deletion batch failed; it resumes at the next apply',
        );
        throw err;
      }
      const durationMs = performance.now() - started;
      storeMs[eraser.name] = durationMs;
      journal.stores[eraser.name] = {
        removedAtMs,
        records: result.records,
        found: result.found === undefined ? null : [...result.found],
        verifiedAtMs: this.#clock.now(),
        leftovers,
        durationMs,
      };
      this.#writeJournal(journal);
    }
    this.#finish(journal, byRequest);
    return { batchId: journal.id, requests: journal.requestIds.length, users: ids.length, storeMs, resumed };
  }

  /** Writes the batch's receipts, forgets the ids of the requests now complete, and closes the journal. */
  #finish(journal: BatchJournal, byRequest: ReadonlyMap<string, readonly string[]>): void {
    const now = this.#clock.now();
    const wallNow = Date.now();
    const models = this.#models?.list() ?? [];
    const results = new Map<
      string,
      { stores: Record<string, StoreReceipt>; found: number; anyRecords: boolean; leftovers: number }
    >();
    for (const [requestId, userIds] of byRequest) {
      const users = new Set(userIds);
      const found = new Set<string>();
      let anyRecords = false;
      let leftovers = 0;
      const stores: Record<string, StoreReceipt> = {};
      for (const eraser of this.erasers) {
        const s = journal.stores[eraser.name];
        if (s === undefined) continue;
        const mine = s.found === null ? null : s.found.filter((u) => users.has(u));
        for (const u of mine ?? []) found.add(u);
        // a store that cannot tell per user counts for a request only when it is the batch's one request
        if (mine === null ? s.records > 0 && byRequest.size === 1 : mine.length > 0) anyRecords = true;
        leftovers += s.leftovers;
        stores[eraser.name] = {
          removedAt: new Date(s.removedAtMs).toISOString(),
          batchRecords: s.records,
          usersFound: mine === null ? null : mine.length,
          verifiedAt: new Date(s.verifiedAtMs).toISOString(),
          verifiedBy: eraser.verifiedBy,
          leftovers: s.leftovers,
          durationMs: Math.round(s.durationMs),
        };
      }
      results.set(requestId, { stores, found: found.size, anyRecords, leftovers });
    }
    this.#updateReceipts(byRequest.keys(), (r) => {
      const { stores, found, anyRecords, leftovers } = results.get(r.id) as NonNullable<ReturnType<typeof results.get>>;
      const requestedMs = Date.parse(r.requestedAt);
      r.stores = stores;
      r.usersFound = found;
      r.nothingFound = found === 0 && !anyRecords;
      r.status = leftovers === 0 ? 'complete' : 'failed-verification';
      r.completedAt = leftovers === 0 ? new Date(now).toISOString() : null;
      r.error = leftovers === 0 ? null : `stores still hold ${leftovers} records of the batch's users`;
      // the registry does not record which users a model trained on: conservatively, every model registered
      // before the erasure completed (by the registry's wall clock), when the users had data anywhere
      r.models = r.nothingFound
        ? []
        : models
            .filter((m) => Date.parse(m.registeredAt) <= wallNow)
            .map((m) => ({
              modelId: m.id,
              goal: m.goal,
              role: m.role,
              registeredAt: m.registeredAt,
              action: m.role === null ? 'do-not-restore' : 'retrain',
              dueBy: new Date(requestedMs + DELETION_SLA_MS).toISOString(),
              reason: 'trained before the request on data that may hold the users',
            }));
    });
    // the receipts are durable: the ids of the complete requests go
    for (const [requestId, { leftovers, found }] of results) {
      if (leftovers === 0) rmSync(join(this.#pendingDir, `${requestId}.json`), { force: true });
      this.#logger.info(
        { requestId, batchId: journal.id, leftovers, usersFound: found },
        leftovers === 0 ? 'deletion complete' : 'deletion failed verification; it is applied again',
      );
    }
    rmSync(this.#journalPath, { force: true });
  }

  /**
   * Leftovers of tombstoned users in every store: for these ids (`count`), or, with none given, by scanning each
   * store that can list its users against the ledger (the ledger holds no ids to look up).
   */
  async verify(userIds?: readonly string[]): Promise<VerifyReport> {
    const stores: Record<string, { leftovers: number | null; method: string }> = {};
    let leftovers = 0;
    if (userIds !== undefined)
      userIds.forEach((id, i) => {
        if (!isValidEntityId(id)) throw new InvalidInputError(`user ${i}: not a user id: ${JSON.stringify(id)}`);
      });
    const deleted = userIds?.filter((id) => this.ledger.isDeleted(id));
    const check = (id: string) => this.ledger.isDeleted(id);
    for (const e of this.erasers) {
      let n: number | null;
      let method: string;
      if (deleted !== undefined) {
        n = deleted.length === 0 ? 0 : await e.count(deleted);
        method = e.verifiedBy;
      } else if (e.scan !== undefined) {
        n = await e.scan(check);
        method = `scan: ${e.verifiedBy}`;
      } else {
        n = null;
        method = 'cannot list its users: verified per request at erase time';
      }
      if (n !== null) leftovers += n;
      stores[e.name] = { leftovers: n, method };
    }
    const report = { checked: deleted === undefined ? this.ledger.size : deleted.length, leftovers, stores };
    this.#metrics
      ?.gauge({
        name: 'adnova_privacy_verify_leftovers',
        help: 'records of deleted users found by the last verify',
        labelNames: ['store'],
      })
      .set({ store: 'all' }, leftovers);
    return report;
  }

  /** Requests not complete, by age; alerts (metric and warning log) on those past DELETION_ALERT_MS. */
  sla(nowMs = this.#clock.now()): SlaReport {
    const pending = this.receipts()
      .filter((r) => r.status !== 'complete')
      .map((r) => ({
        id: r.id,
        status: r.status,
        users: r.users,
        ageHours: (nowMs - Date.parse(r.requestedAt)) / MS_PER_HOUR,
      }))
      .sort((a, b) => b.ageHours - a.ageHours);
    const atRisk = pending.filter((p) => p.ageHours * MS_PER_HOUR >= DELETION_ALERT_MS);
    const missed = pending.filter((p) => p.ageHours * MS_PER_HOUR >= DELETION_SLA_MS).length;
    const m = this.#metrics;
    m?.gauge({ name: 'adnova_privacy_pending_requests', help: 'deletion requests not complete' }).set(pending.length);
    m?.gauge({
      name: 'adnova_privacy_sla_at_risk_requests',
      help: 'deletion requests pending for 20 hours or more (SLA 24 h)',
    }).set(atRisk.length);
    m?.gauge({
      name: 'adnova_privacy_oldest_pending_age_seconds',
      help: 'age of the oldest deletion request not complete',
    }).set(pending.length === 0 ? 0 : (pending[0]?.ageHours ?? 0) * 3600);
    for (const p of atRisk)
      this.#logger.warn(
        { requestId: p.id, ageHours: Number(p.ageHours.toFixed(2)), status: p.status },
        `deletion request pending ${p.ageHours.toFixed(1)} h: the 24 h SLA is at risk`,
      );
    return {
      pending,
      atRisk: atRisk.length,
      missed,
      oldestAgeHours: pending.length === 0 ? null : (pending[0]?.ageHours ?? null),
    };
  }

  #requestIdOf(sortedIds: readonly string[]): string {
    const digest = this.ledger.hasher.hmac(`request:${sortedIds.join(',')}`);
    return `del_${digest.slice(0, 20)}`;
  }

  /** Pending requests with a receipt (one without was never acknowledged), oldest first; each receipt read once. */
  #pendingRequests(): Array<{ id: string; userIds: string[]; requestedAtMs: number }> {
    const out: Array<{ id: string; userIds: string[]; requestedAtMs: number }> = [];
    for (const f of readdirSync(this.#pendingDir)) {
      if (!f.endsWith('.json')) continue;
      const p = JSON.parse(readFileSync(join(this.#pendingDir, f), 'utf8')) as { id: string; userIds: string[] };
      const r = this.#readReceipt(p.id);
      if (r !== null) out.push({ ...p, requestedAtMs: Date.parse(r.requestedAt) });
    }
    return out.sort((a, b) => a.requestedAtMs - b.requestedAtMs || a.id.localeCompare(b.id));
  }

  #pendingIdsOf(requestId: string): string[] {
    const file = join(this.#pendingDir, `${requestId}.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { userIds: string[] }).userIds : [];
  }

  #readJournal(): BatchJournal | null {
    const file = this.#journalPath;
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BatchJournal) : null;
  }

  #writeJournal(journal: BatchJournal): void {
    durableWrite(this.#journalPath, JSON.stringify(journal));
  }

  #receiptPath(id: string): string {
    return join(this.#requestsDir, `${id}.json`);
  }

  /** Changes receipts and writes them back, synced as a group. */
  #updateReceipts(ids: Iterable<string>, change: (r: DeletionReceipt) => void): void {
    const writes: [string, string][] = [];
    for (const id of ids) {
      const r = this.#readReceipt(id);
      if (r === null) continue;
      change(r);
      writes.push([this.#receiptPath(id), receiptText(r)]);
    }
    durableWriteMany(writes);
  }
}

const receiptText = (r: DeletionReceipt) => `${JSON.stringify(r, null, 2)}\n`;

/** Temporary file, fsync, rename: the file is the old one or the new one after a crash. */
function durableWrite(file: string, text: string): void {
  durableWriteMany([[file, text]]);
}

/**
 * `durableWrite` for many files: every temporary written first, then synced (the first sync commits the journal
 * the others share, so the rest cost little), then renamed.
 */
function durableWriteMany(files: ReadonlyArray<readonly [string, string]>): void {
  const fds: number[] = [];
  try {
    for (const [file, text] of files) {
      const fd = openSync(`${file}.tmp-${process.pid}`, 'w', 0o600);
      fds.push(fd);
      writeSync(fd, text);
    }
    for (const fd of fds) fsyncSync(fd);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  for (const [file] of files) renameSync(`${file}.tmp-${process.pid}`, file);
}
