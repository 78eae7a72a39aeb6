import net from 'node:net';
import { BackendUnavailableError, describeError } from '../core/index.js';

/**
 * The Redis online store's read path: one pipeline of HMGETs on a socket of its own, with the replies parsed as they
 * arrive into memory reused from read to read.
 *
 * Why not ioredis for this one command: a 100-entity read of a 2,500-feature service is about 1 MB of replies. Through
 * ioredis each read allocates that megabyte (and again for every reply that spans two socket chunks: the RESP parser
 * concatenates), which is memory outside the JS heap, and V8 answers external allocation with full collections: at
 * one read every 1-2 ms a Mark-Compact every 30-50 reads, pausing 2-14 ms (`--trace-gc`). The p99 of such a read was
 * 12-19 ms here against a p50 of 1-2.5 ms. Reading with `onread` into one fixed buffer and copying each bulk string
 * into a reused arena allocates no external memory per read. Everything else (writes, scripts, scans, deletes) stays
 * on ioredis; `rediss://` URLs (TLS) are not handled here and the store falls back to ioredis reads for them.
 */

/** Connection settings read from a `redis://[[user]:password@]host[:port][/db]` URL. */
export interface RespEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
}

/** The endpoint of a plain `redis://` URL, or undefined for what this reader does not speak (TLS, sockets paths). */
export function respEndpointOf(url: string): RespEndpoint | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'redis:' || u.hostname === '') return undefined;
  const dbPart = u.pathname.replace(/^\//, '');
  if (dbPart !== '' && !/^\d+$/.test(dbPart)) return undefined;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return {
    host,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(dbPart !== '' && dbPart !== '0' ? { db: Number(dbPart) } : {}),
  };
}

/**
 * HMGET replies of one read: record (row, field) is `lengths[row * fields + field]` bytes (-1: no such field) at
 * byte `offsets[...]` of the memory `f32`/`f64` view, a multiple of 8, so its header and values read in place.
 */
export interface PackedReplies {
  readonly rows: number;
  readonly fields: number;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

/**
 * Receives each row of a read as soon as its reply is complete. `replies` holds the records of the rows since the
 * sink last returned true; returning true hands that memory back for the next rows (so the records are valid until
 * then). Decoding blocks of rows while the rest are still in flight overlaps the decode with the transfer, and keeps
 * the records in a few cache-hot KB.
 */
export type RowSink = (replies: PackedReplies, row: number) => boolean;

/** A read's packed replies in the reader's reused memory: valid until `release()`; decode, then release. */
export interface HmgetReplies extends PackedReplies {
  release(): void;
}

/** The bytes of record (row, field), or null (tests and tools; the store decodes in place). */
export function replyBytes(r: HmgetReplies, row: number, field: number): Buffer | null {
  const slot = row * r.fields + field;
  const len = r.lengths[slot] as number;
  if (len < 0) return null;
  return Buffer.from(r.f64.buffer, r.f64.byteOffset + (r.offsets[slot] as number), len);
}

/** Memory one read's replies land in, pooled by the reader. */
class ReplySlab {
  arena: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  f32 = new Float32Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >>> 2);
  f64 = new Float64Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >>> 3);
  offsets = new Int32Array(1024);
  lengths = new Int32Array(1024);

  reserve(slots: number): void {
    if (this.offsets.length < slots) {
      this.offsets = new Int32Array(Math.max(slots, this.offsets.length * 2));
      this.lengths = new Int32Array(this.offsets.length);
    }
  }

  /** Takes the arena the parser may have grown (an aligned Buffer of its own: byteOffset 0). */
  adopt(arena: Buffer): void {
    if (arena === this.arena) return;
    this.arena = arena;
    this.f32 = new Float32Array(arena.buffer, arena.byteOffset, arena.length >>> 2);
    this.f64 = new Float64Array(arena.buffer, arena.byteOffset, arena.length >>> 3);
  }
}

enum State {
  Line = 0,
  Bulk = 1,
  BulkEnd = 2,
}

const CR = 13;
const LF = 10;

/** One expected run of top-level replies: HMGET arrays of `fields` bulk strings, or status replies (AUTH, SELECT). Exported for tests. */
export interface Expectation {
  readonly kind: 'hmget' | 'status';
  readonly replies: number;
  readonly fields: number;
  /** where bulk strings land: 8-byte aligned offsets and lengths (-1 for null) per (row, field) */
  arena: Buffer;
  offsets: Int32Array;
  lengths: Int32Array;
  arenaUsed: number;
  done: number;
  error: string | undefined;
  /** Row-at-a-time delivery: called with each completed row; true drops the records so far from the arena. */
  onRow?: (row: number) => boolean;
  settle(err: string | undefined): void;
}

/**
 * A RESP2 reply parser for pipelined HMGET and status replies, fed with socket chunks in any split. Pure (no I/O), so
 * its tests split byte streams at every position.
 */
export class HmgetReplyParser {
  readonly #queue: Expectation[] = [];
  #state: State = State.Line;
  #line = new Uint8Array(64);
  #lineLength = 0;
  /** elements still to come in the current array reply, -1 between replies */
  #elementsLeft = -1;
  #bulkLeft = 0;
  #bulkAt = 0;
  #skip = 0;
  /** All of the memory the chunks are fed from, for copyWithin */
  #whole: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

  get pending(): number {
    return this.#queue.length;
  }

  expect(e: Expectation): void {
    this.#queue.push(e);
  }

  /** Rejects every expectation (the connection is gone) and resets the parse state. */
  failAll(reason: string): void {
    const q = this.#queue.splice(0);
    this.#state = State.Line;
    this.#lineLength = 0;
    this.#elementsLeft = -1;
    this.#skip = 0;
    for (const e of q) e.settle(reason);
  }

  /** Consumes `chunk[0, n)`. Throws on bytes that are not a reply it expects (the stream is then unusable). */
  feed(chunk: Buffer, n: number): void {
    let i = 0;
    while (i < n) {
      if (this.#state === State.Bulk) {
        const e = this.#head();
        const take = Math.min(this.#bulkLeft, n - i);
        if (e.arena.buffer === chunk.buffer) {
          // the arena shares the chunk's memory (the reader's row arena): copyWithin allocates nothing, where
          // Buffer#copy makes a view of the source per call (~100 bytes of garbage per value)
          const whole = this.#wholeOf(chunk);
          const from = chunk.byteOffset + i;
          whole.copyWithin(e.arena.byteOffset + this.#bulkAt, from, from + take);
        } else chunk.copy(e.arena, this.#bulkAt, i, i + take);
        this.#bulkAt += take;
        this.#bulkLeft -= take;
        i += take;
        if (this.#bulkLeft === 0) {
          this.#state = State.BulkEnd;
          this.#skip = 2;
        }
      } else if (this.#state === State.BulkEnd) {
        const b = chunk[i] as number;
        if (b !== (this.#skip === 2 ? CR : LF)) throw new Error('bulk string not followed by CRLF');
        i++;
        if (--this.#skip === 0) {
          this.#state = State.Line;
          this.#elementDone();
        }
      } else {
        // a header line, copied byte by byte up to LF (lines are short: a type byte and a number, or an error)
        let line = this.#line;
        let at = this.#lineLength;
        while (i < n) {
          const b = chunk[i++] as number;
          if (b === LF) break;
          if (at === line.length) {
            const grown = new Uint8Array(line.length * 2);
            grown.set(line);
            this.#line = line = grown;
          }
          line[at++] = b;
        }
        this.#lineLength = at;
        if (chunk[i - 1] !== LF) return;
        const lineLength = this.#lineLength;
        this.#lineLength = 0;
        if (lineLength < 2 || this.#line[lineLength - 1] !== CR) throw new Error('reply line not ended by CRLF');
        this.#onLine(lineLength - 1);
      }
    }
  }

  #wholeOf(chunk: Buffer): Uint8Array {
    if (this.#whole.buffer !== chunk.buffer) this.#whole = new Uint8Array(chunk.buffer);
    return this.#whole;
  }

  #head(): Expectation {
    const e = this.#queue[0];
    if (e === undefined) throw new Error('a reply arrived with no command waiting for it');
    return e;
  }

  #int(from: number, to: number): number {
    const line = this.#line;
    let neg = false;
    let k = from;
    if (line[k] === 45) {
      neg = true;
      k++;
    }
    if (k >= to) throw new Error('empty number in a reply header');
    let v = 0;
    for (; k < to; k++) {
      const d = (line[k] as number) - 48;
      if (d < 0 || d > 9) throw new Error('malformed number in a reply header');
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }

  #text(from: number, to: number): string {
    return Buffer.from(this.#line.buffer, this.#line.byteOffset + from, to - from).toString('utf8');
  }

  #onLine(end: number): void {
    const e = this.#head();
    const type = this.#line[0];
    if (this.#elementsLeft >= 0) {
      // inside an HMGET array: only bulk strings (or nulls) belong here
      if (type !== 36 /* $ */) throw new Error(`unexpected reply type ${String.fromCharCode(type ?? 0)} in an array`);
      const len = this.#int(1, end);
      const slot = e.done * e.fields + (e.fields - this.#elementsLeft);
      if (len < 0) {
        e.lengths[slot] = -1;
        this.#elementDone();
        return;
      }
      const at = (e.arenaUsed + 7) & ~7;
      if (at + len > e.arena.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(e.arena.length * 2, at + len));
        e.arena.copy(grown, 0, 0, e.arenaUsed);
        e.arena = grown;
      }
      e.offsets[slot] = at;
      e.lengths[slot] = len;
      e.arenaUsed = at + len;
      this.#bulkAt = at;
      this.#bulkLeft = len;
      if (len === 0) {
        this.#state = State.BulkEnd;
        this.#skip = 2;
      } else this.#state = State.Bulk;
      return;
    }
    if (type === 42 /* * */) {
      const count = this.#int(1, end);
      if (e.kind !== 'hmget' || count !== e.fields)
        throw new Error(`expected an array of ${e.fields} values, got one of ${count}`);
      if (count === 0) this.#replyDone(undefined);
      else this.#elementsLeft = count;
    } else if (type === 45 /* - */) this.#replyDone(this.#text(1, end));
    else if (type === 43 /* + */ || type === 58 /* : */) {
      if (e.kind !== 'status') throw new Error('expected an array reply, got a status');
      this.#replyDone(undefined);
    } else throw new Error(`unexpected reply type ${String.fromCharCode(type ?? 0)}`);
  }

  #elementDone(): void {
    if (--this.#elementsLeft === 0) {
      this.#elementsLeft = -1;
      this.#replyDone(undefined);
    }
  }

  #replyDone(error: string | undefined): void {
    const e = this.#head();
    // an error reply takes the place of a whole reply: its row reads as nulls, and the read fails at its end
    if (error !== undefined) {
      e.error ??= error;
      if (e.kind === 'hmget') e.lengths.fill(-1, e.done * e.fields, (e.done + 1) * e.fields);
    }
    if (e.onRow?.(e.done) === true) e.arenaUsed = 0;
    if (++e.done === e.replies) {
      this.#queue.shift();
      e.settle(e.error);
    }
  }
}

export interface RespHmgetReaderOptions {
  readonly endpoint: RespEndpoint;
  /** A read (and a connect) that takes longer fails, and the connection is dropped. */
  readonly timeoutMs?: number;
  /** Size of the one socket read buffer; tests make it tiny to split every reply. */
  readonly readBufferBytes?: number;
}

/**
 * Pipelined HMGETs on one connection, connected on first use and again after a failure; a failed read is retried
 * once on a new connection (reads are idempotent). Reads may overlap: replies come back in order.
 */
export class RespHmgetReader {
  readonly #endpoint: RespEndpoint;
  readonly #timeoutMs: number;
  readonly #readBytes: number;
  /**
   * The socket reads into `#readBuffer`, and streamed rows land in `#rowArena`: two views of one ArrayBuffer, so
   * the parser moves each value with copyWithin (no allocation). Replaced by a larger pair when a row outgrows the
   * arena; the socket takes the new read buffer from its next read on.
   */
  #readBuffer: Buffer;
  #rowArena: Buffer;
  readonly #parser = new HmgetReplyParser();
  readonly #slabs: ReplySlab[] = [];
  readonly #commandBuffers: Buffer[] = [];
  #socket: net.Socket | undefined;
  #connected: Promise<void> | undefined;
  #fieldsKey: readonly string[] | undefined;
  #fieldsSuffix = Buffer.alloc(0);
  #commandHead = '';
  #closed = false;

  constructor(options: RespHmgetReaderOptions) {
    this.#endpoint = options.endpoint;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#readBytes = ((options.readBufferBytes ?? 256 * 1024) + 7) & ~7;
    [this.#readBuffer, this.#rowArena] = ioMemory(this.#readBytes, 64 * 1024);
  }

  /**
   * HMGET of `fields` for each key `keyPrefix + ids[row]`. With `onRow`, each row goes to it as its reply completes
   * (a retried read delivers its rows again from row 0), and the replies returned hold no records, only `rows` and
   * `fields`.
   */
  async hmget(
    ids: readonly string[],
    fields: readonly string[],
    keyPrefix = '',
    onRow?: RowSink,
  ): Promise<HmgetReplies> {
    try {
      return await this.#hmgetOnce(ids, fields, keyPrefix, onRow);
    } catch (err) {
      if (this.#closed || !(err instanceof ConnectionLost)) throw toUnavailable(err);
      try {
        return await this.#hmgetOnce(ids, fields, keyPrefix, onRow);
      } catch (again) {
        throw toUnavailable(again);
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#drop('reader closed');
  }

  async #hmgetOnce(
    ids: readonly string[],
    fields: readonly string[],
    keyPrefix: string,
    onRow: RowSink | undefined,
  ): Promise<HmgetReplies> {
    if (this.#closed) throw new BackendUnavailableError('redis online read: the store is closed');
    const rows = ids.length;
    const slab = this.#slabs.pop() ?? new ReplySlab();
    const packed = (): HmgetReplies => ({
      rows,
      fields: fields.length,
      offsets: slab.offsets,
      lengths: slab.lengths,
      f32: slab.f32,
      f64: slab.f64,
      release: () => void this.#slabs.push(slab),
    });
    if (rows === 0) return packed();
    const socket = await this.#connect();
    slab.reserve(rows * fields.length);
    const command = this.#encode(ids, fields, keyPrefix);
    return new Promise<HmgetReplies>((resolve, reject) => {
      const timer = setTimeout(() => this.#drop(`no reply within ${this.#timeoutMs} ms`), this.#timeoutMs);
      const e: Expectation = {
        kind: 'hmget',
        replies: rows,
        fields: fields.length,
        arena: onRow === undefined ? slab.arena : this.#rowArena,
        offsets: slab.offsets,
        lengths: slab.lengths,
        arenaUsed: 0,
        done: 0,
        error: undefined,
        settle: (err) => {
          clearTimeout(timer);
          if (onRow === undefined) slab.adopt(e.arena);
          if (e.done === rows && err === undefined) return resolve(packed());
          this.#slabs.push(slab);
          reject(
            e.done < rows
              ? new ConnectionLost(err ?? 'connection lost')
              : new BackendUnavailableError(`redis online read failed: ${err}`),
          );
        },
      };
      if (onRow !== undefined) {
        let arena = e.arena;
        const view = {
          rows,
          fields: fields.length,
          offsets: slab.offsets,
          lengths: slab.lengths,
          ...floatViews(arena),
        };
        e.onRow = (row) => {
          if (e.arena !== arena) {
            // the parser grew the arena for a large row: later reads get a row arena that size, next to the socket's
            arena = e.arena;
            Object.assign(view, floatViews(arena));
            if (arena.length > this.#rowArena.length)
              [this.#readBuffer, this.#rowArena] = ioMemory(this.#readBytes, arena.length);
          }
          return onRow(view, row);
        };
      }
      this.#parser.expect(e);
      socket.write(command.bytes, () => void this.#commandBuffers.push(command.buffer));
    });
  }

  /** The pipeline's bytes, written into a pooled buffer (back in the pool once the socket has taken them). */
  #encode(ids: readonly string[], fields: readonly string[], keyPrefix: string): { buffer: Buffer; bytes: Buffer } {
    if (this.#fieldsKey !== fields) {
      this.#fieldsKey = fields;
      this.#fieldsSuffix = Buffer.from(fields.map((f) => `$${Buffer.byteLength(f)}\r\n${f}\r\n`).join(''));
      this.#commandHead = `*${2 + fields.length}\r\n$5\r\nHMGET\r\n$`;
    }
    const suffix = this.#fieldsSuffix;
    const head = this.#commandHead;
    // keys are written as UTF-8 (entity ids are ASCII, but a read may be asked for anything): up to 3 bytes a char
    const prefixBytes = Buffer.byteLength(keyPrefix);
    let size = 0;
    for (let row = 0; row < ids.length; row++)
      size += head.length + 16 + prefixBytes + 3 * (ids[row] as string).length + suffix.length;
    let buffer = this.#commandBuffers.pop();
    if (buffer === undefined || buffer.length < size) buffer = Buffer.allocUnsafeSlow(Math.max(size, 16 * 1024));
    let at = 0;
    for (let row = 0; row < ids.length; row++) {
      const id = ids[row] as string;
      at += buffer.write(head, at, 'latin1');
      at += buffer.write(String(prefixBytes + Buffer.byteLength(id)), at, 'latin1');
      buffer[at++] = CR;
      buffer[at++] = LF;
      at += buffer.write(keyPrefix, at, 'utf8');
      at += buffer.write(id, at, 'utf8');
      buffer[at++] = CR;
      buffer[at++] = LF;
      at += suffix.copy(buffer, at);
    }
    return { buffer, bytes: buffer.subarray(0, at) };
  }

  #connect(): Promise<net.Socket> {
    const current = this.#socket;
    if (current !== undefined && this.#connected !== undefined) return this.#connected.then(() => current);
    const { host, port } = this.#endpoint;
    const socket = net.connect({
      host,
      port,
      onread: {
        buffer: () => this.#readBuffer,
        callback: (n: number, chunk: Uint8Array) => {
          try {
            this.#parser.feed(chunk as Buffer, n);
          } catch (err) {
            this.#drop(`unreadable reply: ${describeError(err)}`);
            return false;
          }
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    this.#socket = socket;
    socket.on('error', (err) => this.#drop(describeError(err), socket));
    socket.on('close', () => this.#drop('connection closed', socket));
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#drop(`connect to ${host}:${port} timed out after ${this.#timeoutMs} ms`, socket);
        reject(new ConnectionLost(`connect to ${host}:${port} timed out`));
      }, this.#timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new ConnectionLost(`could not connect to ${host}:${port}`));
      });
    }).then(() => this.#handshake(socket));
    this.#connected = connected;
    connected.catch(() => {
      // reported to the read that awaits it
    });
    return connected.then(() => socket);
  }

  /** AUTH and SELECT from the URL, answered before any read's replies. */
  #handshake(socket: net.Socket): Promise<void> {
    const { username, password, db } = this.#endpoint;
    const parts: string[][] = [];
    if (password !== undefined) parts.push(username !== undefined ? ['AUTH', username, password] : ['AUTH', password]);
    if (db !== undefined) parts.push(['SELECT', String(db)]);
    if (parts.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const e: Expectation = {
        kind: 'status',
        replies: parts.length,
        fields: 0,
        arena: Buffer.alloc(0),
        offsets: new Int32Array(0),
        lengths: new Int32Array(0),
        arenaUsed: 0,
        done: 0,
        error: undefined,
        settle: (err) => {
          if (e.done < e.replies) return reject(new ConnectionLost(err ?? 'connection lost'));
          if (err === undefined) return resolve();
          // a refused AUTH or SELECT is not a connection problem: retrying would be refused again
          this.#drop(`handshake refused: ${err}`, socket);
          reject(new BackendUnavailableError(`redis online read: ${parts.map((p) => p[0]).join('/')} refused: ${err}`));
        },
      };
      this.#parser.expect(e);
      socket.write(parts.map(encodeCommand).join(''));
    });
  }

  #drop(reason: string, socket: net.Socket | undefined = this.#socket): void {
    if (socket === undefined || socket !== this.#socket) return;
    this.#socket = undefined;
    this.#connected = undefined;
    socket.destroy();
    this.#parser.failAll(reason);
  }
}

/** A socket read buffer and a row arena after it, 8-byte aligned, in one ArrayBuffer. */
function ioMemory(readBytes: number, arenaBytes: number): [Buffer, Buffer] {
  const memory = new ArrayBuffer(readBytes + arenaBytes);
  return [Buffer.from(memory, 0, readBytes), Buffer.from(memory, readBytes, arenaBytes)];
}

function floatViews(arena: Buffer): { f32: Float32Array; f64: Float64Array } {
  return {
    f32: new Float32Array(arena.buffer, arena.byteOffset, arena.length >>> 2),
    f64: new Float64Array(arena.buffer, arena.byteOffset, arena.length >>> 3),
  };
}

/** A read that never got all its replies (connection lost or timed out): safe to retry. */
class ConnectionLost extends Error {}

function toUnavailable(err: unknown): BackendUnavailableError {
  if (err instanceof BackendUnavailableError) return err;
  return new BackendUnavailableError(`redis online read failed: ${describeError(err)}`, { cause: err });
}

function encodeCommand(parts: readonly string[]): string {
  let s = `*${parts.length}\r\n`;
  for (const p of parts) s += `$${Buffer.byteLength(p)}\r\n${p}\r\n`;
  return s;
}
