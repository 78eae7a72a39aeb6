export {
  HashSet64,
  KeyedHasher,
  keyPathOf,
  loadOrCreatePrivacyKey,
  PRIVACY_KEY_BYTES,
  type TombstoneHash,
} from './keys.js';
export {
  FileTombstoneLog,
  type OpenTombstoneLedgerOptions,
  openTombstoneLedger,
  type TombstoneLedger,
  type TombstoneLog,
  type TombstoneRecord,
} from './tombstone-ledger.js';
