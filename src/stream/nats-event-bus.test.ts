import { describe, expect, it } from 'vitest';
import { type AckSubjectInfo, readAckSubject } from './nats-event-bus.js';

// Broker-backed behaviour is in test/integration/stream-bus-nats.test.ts; this is the ack subject reader alone.
describe('readAckSubject', () => {
  const read = (reply: string): AckSubjectInfo | undefined => {
    const into: AckSubjectInfo = { position: '', deliveryCount: 0, tsNanos: 0, pending: -1 };
    return readAckSubject(reply, into) ? into : undefined;
  };

  it('reads the 9-token subject of servers without domains', () => {
    expect(read('$JS.ACK.adnova_events.stream-aggregates.3.12345.678.1795507811035793537.27655')).toEqual({
      position: '12345',
      deliveryCount: 3,
      tsNanos: Number.parseInt('1795507811035793537', 10),
      pending: 27655,
    });
  });

  it('reads the subject with a domain and an account hash, with or without a last token', () => {
    const expected = { position: '42', deliveryCount: 1, tsNanos: 1_700_000_000_000_000_000, pending: 0 };
    expect(read('$JS.ACK.hub.ACCHASH.adnova_events.grp.1.42.7.1700000000000000000.0')).toEqual(expected);
    expect(read('$JS.ACK._.ACCHASH.adnova_events.grp.1.42.7.1700000000000000000.0.r4nd0m')).toEqual(expected);
  });

  it('refuses what is not a JetStream ack subject', () => {
    for (const reply of [
      '',
      '_INBOX.abc.def',
      '$JS.ACK.adnova_events.grp.1.42.7.1700000000000000000',
      '$JS.ACK.adnova_events.grp.x.42.7.1700000000000000000.0',
      '$JS.ACK.adnova_events.grp.1..7.1700000000000000000.0',
      '$JS.ACK.adnova_events.grp.0.42.7.1700000000000000000.0',
      '$JS.ACK.adnova_events.grp.1.42.7.1700000000000000000.x',
      `$JS.ACK.${'a.'.repeat(20)}1.42.7.1700000000000000000.0`,
    ]) {
      expect(read(reply), reply).toBeUndefined();
    }
  });
});
