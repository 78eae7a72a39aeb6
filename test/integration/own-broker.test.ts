import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { connect, StringCodec } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { type OwnBroker, ownBrokerAvailability, startOwnBroker } from './own-broker.js';

const natsBroker = await ownBrokerAvailability('nats');
const redisBroker = await ownBrokerAvailability('redis');

const TOTAL = 100;
const owned: OwnBroker[] = [];

afterEach(async () => {
  for (const broker of owned.splice(0)) await broker.stop();
});

async function own(kind: 'nats' | 'redis'): Promise<OwnBroker> {
  const broker = await startOwnBroker(kind);
  owned.push(broker);
  return broker;
}

/** Resolves to the connect error, or undefined if something accepted the connection. */
function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

async function expectKilled(broker: OwnBroker): Promise<void> {
  expect(broker.pid).toBeUndefined();
  expect(await connectError(broker.port)).toBe('ECONNREFUSED');
}

describe.skipIf(!natsBroker.available)(`own nats-server, killed and restarted${natsBroker.skipNote}`, () => {
  it('keeps every acknowledged JetStream message across kill -9 and restart', async () => {
    const broker = await own('nats');
    expect(broker.port).not.toBe(4222);
    const stream = 'CRASH';
    const sc = StringCodec();

    const before = await connect({ servers: broker.url, timeout: 2000 });
    try {
      const jsm = await before.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: ['crash.>'] });
      const js = before.jetstream();
      for (let i = 0; i < TOTAL; i++) {
        const ack = await js.publish(`crash.${i % 5}`, sc.encode(`m${i}`));
        expect(ack.seq).toBe(i + 1);
      }
    } finally {
      await before.close();
    }

    const firstPid = broker.pid;
    await broker.kill();
    await expectKilled(broker);
    await broker.restart();
    expect(broker.pid).toBeDefined();
    expect(broker.pid).not.toBe(firstPid);

    const after = await connect({ servers: broker.url, timeout: 2000 });
    try {
      const jsm = await after.jetstreamManager();
      const info = await jsm.streams.info(stream);
      expect(info.config.storage).toBe('file');
      expect(info.state.messages).toBe(TOTAL);
      expect(info.state.first_seq).toBe(1);
      expect(info.state.last_seq).toBe(TOTAL);
      const bodies: string[] = [];
      for (let seq = 1; seq <= TOTAL; seq++)
        bodies.push(sc.decode((await jsm.streams.getMessage(stream, { seq })).data));
      expect(bodies).toEqual(Array.from({ length: TOTAL }, (_, i) => `m${i}`));
    } finally {
      await after.close();
    }

    const dataDir = broker.dataDir;
    await broker.stop();
    await broker.stop(); // safe twice
    await expectKilled(broker);
    expect(existsSync(dataDir)).toBe(false);
    await expect(broker.restart()).rejects.toThrow(/not stopped/);
  });
});

describe.skipIf(!redisBroker.available)(`own redis-server, killed and restarted${redisBroker.skipNote}`, () => {
  it('keeps every XADDed entry across kill -9 and restart (AOF, fsync always)', async () => {
    const broker = await own('redis');
    expect(broker.port).not.toBe(6379);
    const key = 'crash:events';

    const before = new Redis(broker.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await before.connect();
      for (let i = 0; i < TOTAL; i++) await before.xadd(key, '*', 'n', String(i));
      expect(await before.xlen(key)).toBe(TOTAL);
    } finally {
      before.disconnect();
    }

    const firstPid = broker.pid;
    await broker.kill();
    await expectKilled(broker);
    await broker.restart();
    expect(broker.pid).not.toBe(firstPid);

    const after = new Redis(broker.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await after.connect();
      expect(await after.xlen(key)).toBe(TOTAL);
      const entries = await after.xrange(key, '-', '+');
      expect(entries.map(([, fields]) => fields[1])).toEqual(Array.from({ length: TOTAL }, (_, i) => String(i)));
    } finally {
      after.disconnect();
    }

    // a second crash right after recovery loses nothing either
    await broker.kill();
    await broker.restart();
    const again = new Redis(broker.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await again.connect();
      expect(await again.xlen(key)).toBe(TOTAL);
    } finally {
      again.disconnect();
    }

    const dataDir = broker.dataDir;
    await broker.stop();
    await expectKilled(broker);
    expect(existsSync(dataDir)).toBe(false);
  });
});
