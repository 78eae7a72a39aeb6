import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../core/index.js';
import {
  type Expectation,
  type HmgetReplies,
  HmgetReplyParser,
  RespHmgetReader,
  replyBytes,
  respEndpointOf,
} from './resp-hmget-reader.js';

const bulk = (b: Buffer | null) =>
  b === null ? Buffer.from('$-1\r\n') : Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
const arrayReply = (items: Array<Buffer | null>) =>
  Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map(bulk)]);

/** What a test expects back per (row, field), null for a missing field. */
type Rows = Array<Array<Buffer | null>>;

function expectation(replies: number, fields: number, settled: Array<string | undefined>): Expectation {
  return {
    kind: 'hmget',
    replies,
    fields,
    arena: Buffer.alloc(8),
    offsets: new Int32Array(replies * fields),
    lengths: new Int32Array(replies * fields),
    arenaUsed: 0,
    done: 0,
    error: undefined,
    settle: (err) => void settled.push(err),
  };
}

function readBack(e: Expectation): Rows {
  return Array.from({ length: e.replies }, (_, row) =>
    Array.from({ length: e.fields }, (_, f) => {
      const slot = row * e.fields + f;
      const len = e.lengths[slot] as number;
      const at = e.offsets[slot] as number;
      expect(at % 8).toBe(0);
      return len < 0 ? null : Buffer.from(e.arena.subarray(at, at + len));
    }),
  );
}

// binary values that contain the protocol's own bytes, an empty value, missing fields and a 300-byte value that
// outgrows the 8-byte starting arena
const ROWS: Rows = [
  [Buffer.from('a\r\nb'), null, Buffer.alloc(0)],
  [Buffer.from('$3\r\n*1\r\n'), Buffer.alloc(300, 0x0d), Buffer.from([0, 255, 10])],
  [null, null, null],
];
const STREAM = Buffer.concat([...ROWS.map(arrayReply)]);

describe('HmgetReplyParser', () => {
  it('parses pipelined HMGET replies however the stream is split', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const settled: Array<string | undefined> = [];
      const p = new HmgetReplyParser();
      const e = expectation(3, 3, settled);
      p.expect(e);
      p.feed(STREAM.subarray(0, cut), cut);
      // fed from a larger buffer whose bytes past `n` are garbage, as the socket's reused read buffer is
      const rest = Buffer.concat([STREAM.subarray(cut), Buffer.from('\r\n*9\r\n')]);
      p.feed(rest, STREAM.length - cut);
      expect(settled).toEqual([undefined]);
      expect(readBack(e)).toEqual(ROWS);
      expect(p.pending).toBe(0);
    }
  });

  it('parses a stream fed one byte at a time, across consecutive reads', () => {
    const settled: Array<string | undefined> = [];
    const p = new HmgetReplyParser();
    const first = expectation(2, 3, settled);
    const second = expectation(1, 3, settled);
    p.expect(first);
    p.expect(second);
    for (let i = 0; i < STREAM.length; i++) p.feed(STREAM.subarray(i, i + 1), 1);
    expect(settled).toEqual([undefined, undefined]);
    expect(readBack(first)).toEqual(ROWS.slice(0, 2));
    expect(readBack(second)).toEqual(ROWS.slice(2));
  });

  it('hands each completed row to onRow, and reuses the arena only after the sink returns true', () => {
    // released every second row: rows 0-1 share the arena, row 2 starts it over
    for (const split of [1, 2, 5, 7, STREAM.length]) {
      const parser = new HmgetReplyParser();
      const settled: Array<string | undefined> = [];
      const e = expectation(ROWS.length, 3, settled);
      const seen: Rows = [];
      const arenaStarts: number[] = [];
      e.onRow = (row) => {
        seen.push(readBack(e)[row] as Array<Buffer | null>);
        arenaStarts.push(
          Math.min(
            ...[0, 1, 2].map((f) =>
              (e.lengths[row * 3 + f] as number) < 0 ? 1e9 : (e.offsets[row * 3 + f] as number),
            ),
          ),
        );
        return row % 2 === 1;
      };
      parser.expect(e);
      for (let at = 0; at < STREAM.length; at += split) {
        const chunk = STREAM.subarray(at, at + split);
        parser.feed(chunk, chunk.length);
      }
      expect(seen).toEqual(ROWS);
      expect(settled).toEqual([undefined]);
      // row 1 was appended after row 0 (not released), row 2 (all null) would start at 0 again
      expect(arenaStarts[0]).toBe(0);
      expect(arenaStarts[1]).toBeGreaterThan(0);
      expect(e.arenaUsed).toBe(0);
    }
  });

  it('reports an error reply once its whole read has arrived, with that row as nulls', () => {
    const settled: Array<string | undefined> = [];
    const p = new HmgetReplyParser();
    const e = expectation(3, 1, settled);
    p.expect(e);
    const stream = Buffer.concat([
      arrayReply([Buffer.from('x')]),
      Buffer.from('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
    ]);
    p.feed(stream, stream.length);
    expect(settled).toEqual([]);
    const last = arrayReply([Buffer.from('z')]);
    p.feed(last, last.length);
    expect(settled).toEqual(['WRONGTYPE Operation against a key holding the wrong kind of value']);
    expect(readBack(e)).toEqual([[Buffer.from('x')], [null], [Buffer.from('z')]]);
  });

  it('refuses bytes that are not the replies it waits for', () => {
    const cases: Array<[string, string]> = [
      ['*2\r\n$1\r\na\r\n$1\r\nb\r\n', 'expected an array of 1 values, got one of 2'],
      ['+OK\r\n', 'expected an array reply, got a status'],
      ['*1\r\n:5\r\n', 'unexpected reply type : in an array'],
      ['*1\r\n$1\r\nab\r\n', 'bulk string not followed by CRLF'],
      ['*1\r\n$x\r\n', 'malformed number'],
      ['*1\n', 'reply line not ended by CRLF'],
    ];
    for (const [bytes, message] of cases) {
      const p = new HmgetReplyParser();
      p.expect(expectation(1, 1, []));
      expect(() => p.feed(Buffer.from(bytes), bytes.length), bytes).toThrow(message);
    }
    expect(() => new HmgetReplyParser().feed(Buffer.from('+OK\r\n'), 5)).toThrow('no command waiting');
  });
});

describe('respEndpointOf', () => {
  it('reads host, port, credentials and db from redis:// URLs and declines the rest', () => {
    expect(respEndpointOf('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(respEndpointOf('redis://cache')).toEqual({ host: 'cache', port: 6379 });
    expect(respEndpointOf('redis://u%40x:p%3Aw@h:7000/3')).toEqual({
      host: 'h',
      port: 7000,
      username: 'u@x',
      password: 'p:w',
      db: 3,
    });
    expect(respEndpointOf('redis://:secret@[::1]:6380/0')).toEqual({ host: '::1', port: 6380, password: 'secret' });
    expect(respEndpointOf('rediss://h:6379')).toBeUndefined();
    expect(respEndpointOf('redis://h/notadb')).toBeUndefined();
    expect(respEndpointOf('not a url')).toBeUndefined();
  });
});

/** A local peer that answers each HMGET from `data` with the bytes chunked as the test says. */
class ScriptedRedis {
  readonly server: net.Server;
  readonly sockets: net.Socket[] = [];
  connections = 0;
  /** called per command; return false to swallow it (no reply) */
  onCommand: (args: string[], socket: net.Socket) => boolean = () => true;

  constructor(
    readonly data: Map<string, Map<string, Buffer>>,
    readonly chunk = 5,
  ) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.push(socket);
      let pending = Buffer.alloc(0);
      socket.on('data', (d) => {
        pending = Buffer.concat([pending, d]);
        for (;;) {
          const parsed = parseCommand(pending);
          if (parsed === undefined) return;
          pending = pending.subarray(parsed.used);
          if (!this.onCommand(parsed.args, socket)) continue;
          const [name, key, ...fields] = parsed.args;
          let reply: Buffer;
          if (name === 'HMGET') {
            const hash = this.data.get(key as string);
            reply = arrayReply(fields.map((f) => hash?.get(f) ?? null));
          } else reply = Buffer.from('+OK\r\n');
          for (let i = 0; i < reply.length; i += this.chunk) socket.write(reply.subarray(i, i + this.chunk));
        }
      });
      socket.on('error', () => {});
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function parseCommand(buf: Buffer): { args: string[]; used: number } | undefined {
  const lineEnd = (from: number) => {
    const i = buf.indexOf('\r\n', from);
    return i < 0 ? undefined : i;
  };
  let at = 0;
  const head = lineEnd(at);
  if (head === undefined) return undefined;
  const n = Number(buf.subarray(1, head).toString());
  at = head + 2;
  const args: string[] = [];
  for (let k = 0; k < n; k++) {
    const e = lineEnd(at);
    if (e === undefined) return undefined;
    const len = Number(buf.subarray(at + 1, e).toString());
    if (buf.length < e + 2 + len + 2) return undefined;
    args.push(buf.subarray(e + 2, e + 2 + len).toString());
    at = e + 2 + len + 2;
  }
  return { args, used: at };
}

describe('RespHmgetReader against a scripted peer', () => {
  const opened: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  const data = new Map([
    ['k1', new Map([['f', Buffer.from('one\r\n')]])],
    ['k2', new Map([['g', Buffer.alloc(70_000, 7)]])],
  ]);

  async function setup(options: { chunk?: number; readBufferBytes?: number; timeoutMs?: number; url?: string } = {}) {
    const peer = new ScriptedRedis(data, options.chunk);
    const port = await peer.listen();
    opened.push(peer);
    const endpoint = respEndpointOf(options.url?.replace('PORT', String(port)) ?? `redis://127.0.0.1:${port}`);
    if (endpoint === undefined) throw new Error('bad test URL');
    const reader = new RespHmgetReader({
      endpoint,
      ...(options.readBufferBytes !== undefined ? { readBufferBytes: options.readBufferBytes } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    opened.push(reader);
    return { peer, reader };
  }

  const values = (r: HmgetReplies) =>
    Array.from({ length: r.rows }, (_, row) =>
      Array.from({ length: r.fields }, (_, f) => replyBytes(r, row, f)?.toString('hex') ?? null),
    );

  it('reads replies split across tiny chunks and a tiny read buffer, and overlapping reads in order', async () => {
    const { reader } = await setup({ chunk: 3, readBufferBytes: 7 });
    const reads = await Promise.all([
      reader.hmget(['k1', 'k2', 'nope'], ['f', 'g']),
      reader.hmget(['k2'], ['g']),
      reader.hmget([], ['f']),
    ]);
    expect(values(reads[0])).toEqual([
      [Buffer.from('one\r\n').toString('hex'), null],
      [null, Buffer.alloc(70_000, 7).toString('hex')],
      [null, null],
    ]);
    expect(values(reads[1])).toEqual([[Buffer.alloc(70_000, 7).toString('hex')]]);
    expect(values(reads[2])).toEqual([]);
    for (const r of reads) r.release();
  });

  it('streams rows to a sink in released blocks, with plain reads between, past the arena size', async () => {
    const { reader } = await setup({ chunk: 4096, readBufferBytes: 1000 });
    const ids = ['k1', 'k2', 'nope', 'k2', 'k1'];
    const want = ids.map((id) => [
      data.get(id)?.get('f')?.toString('hex') ?? null,
      data.get(id)?.get('g')?.toString('hex') ?? null,
    ]);
    const stream = (blockRows: number) => {
      const got: Array<Array<string | null>> = [];
      let pending: number[] = [];
      const read = reader.hmget(ids, ['f', 'g'], '', (r, row) => {
        pending.push(row);
        if (pending.length < blockRows && row + 1 < ids.length) return false;
        // every row since the last release is still readable
        for (const p of pending)
          got[p] = [0, 1].map((f) => replyBytes(r as HmgetReplies, p, f)?.toString('hex') ?? null);
        pending = [];
        return true;
      });
      return read.then((r) => {
        expect(r.rows).toBe(ids.length);
        r.release();
        return got;
      });
    };
    const [a, plain, b, c] = await Promise.all([
      stream(1),
      reader.hmget(ids, ['f', 'g']),
      stream(2),
      stream(ids.length),
    ]);
    for (const got of [a, b, c]) expect(got).toEqual(want);
    expect(values(plain)).toEqual(want);
    plain.release();
    // the arena grew for the 70 KB value: later reads stream through the larger one
    expect(await stream(3)).toEqual(want);
  });

  it('sends AUTH and SELECT from the URL before the first read', async () => {
    const { peer, reader } = await setup({ url: 'redis://me:pw@127.0.0.1:PORT/4' });
    const seen: string[][] = [];
    peer.onCommand = (args) => {
      seen.push(args);
      return true;
    };
    (await reader.hmget(['k1'], ['f'])).release();
    expect(seen.slice(0, 2)).toEqual([
      ['AUTH', 'me', 'pw'],
      ['SELECT', '4'],
    ]);
  });

  it('refuses with the server error when AUTH is refused, without retrying', async () => {
    const { peer, reader } = await setup({ url: 'redis://:bad@127.0.0.1:PORT' });
    peer.onCommand = (args, socket) => {
      if (args[0] !== 'AUTH') return true;
      socket.write('-WRONGPASS invalid username-password pair\r\n');
      return false;
    };
    const err = await reader.hmget(['k1'], ['f']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String((err as Error).message)).toContain('AUTH refused: WRONGPASS');
    expect(peer.connections).toBe(1);
  });

  it('retries a read once on a new connection when the connection drops mid-reply', async () => {
    const { peer, reader } = await setup({ chunk: 1000 });
    let calls = 0;
    peer.onCommand = (_args, socket) => {
      if (++calls > 1) return true;
      // half a reply, then the connection is gone
      socket.write(Buffer.from('*1\r\n$5\r\non'));
      setTimeout(() => socket.destroy(), 20);
      return false;
    };
    const r = await reader.hmget(['k1'], ['f']);
    expect(values(r)).toEqual([[Buffer.from('one\r\n').toString('hex')]]);
    expect(peer.connections).toBe(2);
  });

  it('delivers the rows of a retried read again from row 0', async () => {
    const { peer, reader } = await setup({ chunk: 1000 });
    let calls = 0;
    peer.onCommand = (_args, socket) => {
      if (++calls > 1) return true;
      // the first of two replies whole, half the second, then the connection is gone
      socket.write(Buffer.from('*1\r\n$5\r\none\r\n\r\n*1\r\n$2'));
      setTimeout(() => socket.destroy(), 20);
      return false;
    };
    const rows: number[] = [];
    const r = await reader.hmget(['k1', 'k1'], ['f'], '', (_r, row) => {
      rows.push(row);
      return true;
    });
    r.release();
    expect(rows).toEqual([0, 0, 1]);
  });

  it('fails a read that gets no reply within the timeout, then works again', async () => {
    const { peer, reader } = await setup({ timeoutMs: 100 });
    let swallow = 2; // the read and its one retry
    peer.onCommand = () => swallow-- <= 0;
    const err = await reader.hmget(['k1'], ['f']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String((err as Error).message)).toContain('no reply within 100 ms');
    const r = await reader.hmget(['k1'], ['f']);
    expect(values(r)).toEqual([[Buffer.from('one\r\n').toString('hex')]]);
    expect(peer.connections).toBe(3);
  });

  it('fails clearly when nothing listens, and after close', async () => {
    const { peer, reader } = await setup();
    await peer.close();
    opened.splice(opened.indexOf(peer), 1);
    const err = await reader.hmget(['k1'], ['f']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String((err as Error).message)).toMatch(/could not connect|ECONNREFUSED/);
    reader.close();
    await expect(reader.hmget(['k1'], ['f'])).rejects.toThrow('closed');
  });
});
