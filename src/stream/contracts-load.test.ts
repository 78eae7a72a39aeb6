import { describe, expect, it } from 'vitest';

/**
 * contracts.ts compiles its JSON Schema export into predicates at load time and throws on a keyword or type the
 * compiler does not know. Imported inside the test (not at the top of the file) so that a contract the module
 * cannot compile fails this test, rather than failing to collect the file, which reports no test at all.
 */
describe('contract module', () => {
  it('loads and compiles a contract for every event type that accepts its minimal message', async () => {
    const { STREAM_EVENT_TYPES, passesContractFastPath, requiredFields } = await import('./contracts.js');
    const sample: Record<string, unknown> = {
      event_id: 1,
      user_id: 'u1',
      event_ts: 1_772_438_075_016,
      session_id: 3,
      category: 'books',
      item_id: 'books-0001',
      quantity: 1,
      amount: 9.5,
      campaign_id: 'c1',
      send_id: 's1',
    };
    const channelOf = (type: string) =>
      type.startsWith('email_')
        ? 'email'
        : type.startsWith('push_')
          ? 'push'
          : type === 'in_app_click'
            ? 'in_app'
            : 'email';
    expect(STREAM_EVENT_TYPES).toHaveLength(13);
    for (const type of STREAM_EVENT_TYPES) {
      const minimal = Object.fromEntries(requiredFields(type).map((f) => [f, sample[f]]));
      const message: Record<string, unknown> = {
        ...minimal,
        event_type: type,
        ...('channel' in minimal ? { channel: channelOf(type) } : {}),
      };
      expect(passesContractFastPath(type, message), type).toBe(true);
      const { user_id: _, ...withoutUser } = message;
      expect(passesContractFastPath(type, withoutUser), `${type} without user_id`).toBe(false);
    }
  });
});
