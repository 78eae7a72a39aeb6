/**
 * The read side of privacy deletions, the port every writer consults (the stream ingestor, materialization,
 * imports, the user index, audience builds and refreshes, the request log, training sets): once a user asked to be
 * deleted, nothing about them may be written or served again, by any path. The `privacy` module owns the ledger
 * behind it; a writer given no check deletes nothing (`NO_TOMBSTONES`).
 */
export interface TombstoneCheck {
  /** True when the user's deletion was requested (the request is durable before this answers true). */
  isDeleted(userId: string): boolean;
}

/** The check of a deployment with no privacy ledger: nobody is deleted. */
export const NO_TOMBSTONES: TombstoneCheck = Object.freeze({ isDeleted: (_userId: string) => false });
