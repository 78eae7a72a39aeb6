import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect } from 'nats';
import { BackendUnavailableError, describeError, InvalidInputError } from '../../src/core/errors.js';

/**
 * A private nats-server (JetStream, file store) or redis-server (AOF, fsync always) that a crash test owns:
 * it can kill -9 the broker and bring it back on the same port with the same data directory, leaving the
 * machine's shared brokers on 4222/6379 alone.
 */

export const OWN_BROKER_KINDS = ['nats', 'redis'] as const;
export type OwnBrokerKind = (typeof OWN_BROKER_KINDS)[number];

const BROKERS = {
  nats: { binary: 'nats-server', env: 'NATS_SERVER_BIN', scheme: 'nats' },
  redis: { binary: 'redis-server', env: 'REDIS_SERVER_BIN', scheme: 'redis' },
} as const;

/** Where a binary is looked for when `command -v` finds nothing (PATH often lacks the sbin dirs). */
const FALLBACK_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

export interface OwnBrokerOptions {
  /** How long start and restart wait for the broker to answer; generous because CI machines are busy. */
  readonly readyTimeoutMs?: number;
}

export interface OwnBroker {
  readonly kind: OwnBrokerKind;
  /** `nats://127.0.0.1:PORT` or `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Broker state (JetStream store dir for NATS, AOF dir for Redis); kept across kill and restart. */
  readonly dataDir: string;
  /** The broker's stdout and stderr, appended across restarts. */
  readonly logFile: string;
  /** Pid of the running broker, undefined after kill() or stop(). */
  readonly pid: number | undefined;
  /** SIGKILL the broker (no shutdown, no flush) and wait until it has exited. Safe when already dead. */
  kill(): Promise<void>;
  /**
   * Start the broker again on the same port and data dir (SIGKILLing it first if still running) and wait
   * until it answers: Redis PONG after loading its AOF, NATS a connection plus JetStream account info.
   */
  restart(): Promise<void>;
  /** kill() and remove the data dir and log. Safe twice. */
  stop(): Promise<void>;
}

export interface OwnBrokerAvailability {
  readonly kind: OwnBrokerKind;
  readonly available: boolean;
  /** Absolute path of the binary when available. */
  readonly binary: string | undefined;
  /** Suffix for a describe title: empty when available, otherwise why it is skipped. */
  readonly skipNote: string;
}

/**
 * Whether a suite can own a broker of this kind, with the conventions of services.ts: found -> run;
 * missing -> skip with a visible reason; missing with CI=true -> throw, failing the file.
 */
export async function ownBrokerAvailability(kind: OwnBrokerKind): Promise<OwnBrokerAvailability> {
  const binary = locateBrokerBinary(kindOrThrow(kind));
  if (binary !== undefined) return { kind, available: true, binary, skipNote: '' };
  const reason = missingBinaryReason(kind);
  if (process.env['CI'] === 'true') throw new Error(`CI=true requires ${BROKERS[kind].binary}: ${reason}`);
  console.warn(`[skip] ${reason}`);
  return { kind, available: false, binary: undefined, skipNote: ` [skipped: ${reason}]` };
}

/** Absolute path of the broker binary: $NATS_SERVER_BIN / $REDIS_SERVER_BIN, then PATH, then the usual dirs. */
export function locateBrokerBinary(kind: OwnBrokerKind): string | undefined {
  const { binary, env } = BROKERS[kindOrThrow(kind)];
  const override = process.env[env];
  if (override) return isExecutable(override) ? override : undefined;
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...pathDirs, ...FALLBACK_DIRS]) {
    const candidate = join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Start a private broker on a free loopback port with a fresh data dir; resolves once it answers. */
export async function startOwnBroker(kind: OwnBrokerKind, options: OwnBrokerOptions = {}): Promise<OwnBroker> {
  const binary = locateBrokerBinary(kindOrThrow(kind));
  if (binary === undefined) throw new BackendUnavailableError(missingBinaryReason(kind), { details: { kind } });
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  // The free port is picked by binding port 0 and closing; someone may take it before the broker binds,
  // so a first start that loses that race tries again on another port.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const broker = new ProcessBroker(kind, binary, await freeLoopbackPort(), readyTimeoutMs);
    try {
      await broker.restart();
      return broker;
    } catch (err) {
      await broker.stop();
      lastError = err;
      if (!(err instanceof BrokerStartError && err.portInUse)) break;
    }
  }
  throw lastError;
}

class BrokerStartError extends BackendUnavailableError {
  constructor(
    message: string,
    readonly portInUse: boolean,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** Brokers still running in this process, SIGKILLed on exit if a test forgot stop(). */
const live = new Set<ProcessBroker>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const broker of live) broker.killSync();
  });
}

class ProcessBroker implements OwnBroker {
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly #baseDir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #watchdog: ChildProcess | undefined;
  #stopped = false;

  constructor(
    readonly kind: OwnBrokerKind,
    readonly binary: string,
    readonly port: number,
    readonly readyTimeoutMs: number,
  ) {
    this.url = `${BROKERS[kind].scheme}://127.0.0.1:${port}`;
    this.#baseDir = mkdtempSync(join(tmpdir(), `adnova-own-${kind}-`));
    this.dataDir = join(this.#baseDir, 'data');
    this.logFile = join(this.#baseDir, 'broker.log');
  }

  get pid(): number | undefined {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  async kill(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (child === undefined || exited === undefined) return;
    this.#endWatchdog();
    // the child is unref'd so a forgotten broker never holds the process open; waiting for it must
    child.ref();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new InvalidInputError(`restart() needs a broker that is not stopped; ${this.url} was`);
    await this.kill();
    const child = this.#spawn();
    try {
      await this.#waitReady(child);
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.kill();
    rmSync(this.#baseDir, { recursive: true, force: true });
  }

  /** For the exit hook, where nothing async runs. */
  killSync(): void {
    this.#endWatchdog();
    this.#child?.kill('SIGKILL');
    rmSync(this.#baseDir, { recursive: true, force: true });
  }

  #args(): string[] {
    const port = String(this.port);
    if (this.kind === 'nats') return ['-a', '127.0.0.1', '-p', port, '-js', '-sd', this.dataDir];
    // Every write fsynced to the AOF so acknowledged entries survive SIGKILL; no RDB snapshots.
    // `--save ""` must be passed as a real empty argument.
    return [
      '--port',
      port,
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dataDir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--daemonize',
      'no',
      '--logfile',
      '',
    ];
  }

  #spawn(): ChildProcess {
    mkdirSync(this.dataDir, { recursive: true });
    // The log is a file, not a pipe: a broker never blocks on a full pipe, and the log outlives the process.
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, this.#args(), { stdio: ['ignore', log, log], cwd: this.dataDir });
    } finally {
      closeSync(log);
    }
    child.unref();
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.#child === child) this.#endWatchdog();
        live.delete(this);
        resolve();
      });
      // spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'
      child.once('error', () => {
        live.delete(this);
        resolve();
      });
    });
    this.#child = child;
    if (child.pid !== undefined) {
      live.add(this);
      installExitHook();
      this.#watchdog = startWatchdog(child.pid, this.#baseDir);
    }
    return child;
  }

  #endWatchdog(): void {
    this.#watchdog?.kill('SIGKILL');
    this.#watchdog = undefined;
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let lastProblem = 'no probe ran';
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await this.#exited;
        const tail = this.#logTail();
        const status =
          child.pid === undefined ? 'could not be spawned' : `exited (${child.exitCode ?? child.signalCode})`;
        throw new BrokerStartError(
          `${this.kind} broker ${this.binary} on port ${this.port} ${status} before answering; log tail:\n${tail}`,
          /address already in use/i.test(tail),
        );
      }
      const problem = await (this.kind === 'nats' ? probeNats(this.url) : probeRedis(this.port));
      if (problem === undefined) return;
      lastProblem = problem;
      if (Date.now() >= deadline) {
        throw new BrokerStartError(
          `${this.kind} broker on port ${this.port} did not answer within ${this.readyTimeoutMs} ms ` +
            `(last probe: ${lastProblem}); log tail:\n${this.#logTail()}`,
          false,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  #logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
    } catch (err) {
      return `(no log: ${describeError(err)})`;
    }
  }
}

/**
 * A shell that SIGKILLs the broker and removes its dir when its stdin reaches EOF, which happens when this
 * process dies by any means: vitest ends fork workers with SIGTERM then SIGKILL, where no 'exit' handler runs.
 */
function startWatchdog(brokerPid: number, baseDir: string): ChildProcess | undefined {
  try {
    const script = 'read _ignored; kill -9 "$1" 2>/dev/null; sleep 0.2; rm -rf "$2"';
    const watchdog = spawn('sh', ['-c', script, 'own-broker-watchdog', String(brokerPid), baseDir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => {}); // without sh there is only the exit hook
    watchdog.unref();
    (watchdog.stdin as unknown as Socket | null)?.unref();
    return watchdog;
  } catch {
    return undefined;
  }
}

async function probeNats(url: string): Promise<string | undefined> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
    const jsm = await nc.jetstreamManager({ timeout: 1000 });
    await jsm.getAccountInfo();
    return undefined;
  } catch (err) {
    return describeError(err);
  } finally {
    await nc?.close().catch(() => {});
  }
}

/** PING over raw RESP: +PONG only once the AOF is loaded (until then Redis answers -LOADING). */
function probeRedis(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(1000, () => done(`no reply within 1000 ms${reply ? ` (got ${JSON.stringify(reply)})` : ''}`));
    socket.once('error', (err) => done(err.message));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (!reply.includes('\r\n')) return;
      done(reply.startsWith('+PONG') ? undefined : `PING answered ${JSON.stringify(reply.trim())}`);
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address !== null && typeof address === 'object' ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port from listen(0)')) : resolve(port)));
    });
  });
}

function kindOrThrow(kind: string): OwnBrokerKind {
  if ((OWN_BROKER_KINDS as readonly string[]).includes(kind)) return kind as OwnBrokerKind;
  throw new InvalidInputError(`broker kind must be one of ${OWN_BROKER_KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
}

function missingBinaryReason(kind: OwnBrokerKind): string {
  const { binary, env } = BROKERS[kind];
  const override = process.env[env];
  if (override) return `${env}=${override} is not an executable file`;
  return `${binary} not found on PATH nor in ${FALLBACK_DIRS.join(', ')}; install it or set ${env}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
