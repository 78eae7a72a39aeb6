import { statSync } from 'node:fs';
import type { Campaign, ModelResolver, ScoringModel } from '../decision/index.js';

/**
 * A model resolver's answers per goal, kept until the registry file changes. The registry resolver reads and
 * parses `registry.json` on every `forCampaign` (right for the CLI, 50 parses per online request of 50 campaigns:
 * most of its scoring time); `refresh` is one stat per request.
 */
export class CachedModelResolver implements ModelResolver {
  readonly #inner: ModelResolver;
  readonly #file: string;
  #stamp = '';
  #byGoal = new Map<string, ScoringModel>();

  constructor(inner: ModelResolver, registryFile: string) {
    this.#inner = inner;
    this.#file = registryFile;
  }

  /** Drops the cached models when the registry changed (a promotion) since the last call. */
  refresh(): void {
    let stamp = 'none';
    try {
      const st = statSync(this.#file, { bigint: true });
      stamp = `${st.ino}:${st.mtimeNs}:${st.size}`;
    } catch {
      // no registry: every campaign fails to resolve, as the inner resolver says
    }
    if (stamp !== this.#stamp) {
      this.#byGoal = new Map();
      this.#stamp = stamp;
    }
  }

  forCampaign(c: Campaign): ScoringModel {
    let m = this.#byGoal.get(c.goal);
    if (!m) {
      m = this.#inner.forCampaign(c);
      this.#byGoal.set(c.goal, m);
    }
    return m;
  }
}
