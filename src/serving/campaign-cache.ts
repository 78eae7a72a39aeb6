import { statSync } from 'node:fs';
import type { Campaign, FileCampaignRegistry } from '../decision/index.js';

/**
 * The registry's campaigns held in memory, re-read when its file changes (one stat per request instead of a JSON
 * parse per campaign). The same Campaign objects are handed to every decision until the file changes, which
 * keeps the decision's per-campaign column plans cached.
 */
export class CampaignCache {
  readonly registry: FileCampaignRegistry;
  #stamp = '';
  #byId = new Map<string, Campaign>();

  constructor(registry: FileCampaignRegistry) {
    this.registry = registry;
  }

  async get(id: string): Promise<Campaign | undefined> {
    await this.#refresh();
    return this.#byId.get(id);
  }

  async #refresh(): Promise<void> {
    let stamp = 'none';
    try {
      const st = statSync(this.registry.file, { bigint: true });
      stamp = `${st.ino}:${st.mtimeNs}:${st.size}`;
    } catch {
      // no file yet: no campaigns
    }
    if (stamp === this.#stamp) return;
    const all = await this.registry.list();
    this.#byId = new Map(all.map((c) => [c.id, c]));
    this.#stamp = stamp;
  }
}
