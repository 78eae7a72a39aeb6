import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenarios, SCENARIO_NAMES } from './scenarios.js';
import { batchFeatureColumns, fillerColumnName, TABLES, tableColumns } from './schema.js';

const docs = readFileSync(join(import.meta.dirname, '../../docs/world.md'), 'utf8');

describe('published layout', () => {
  it('docs/world.md documents every table, column and scenario', () => {
    const missing: string[] = [];
    for (const t of TABLES) {
      if (!docs.includes(`\`${t.path}\``)) missing.push(t.path);
      for (const c of tableColumns(t.name, 16))
        if (!docs.includes(`| ${c.name} | ${c.type} |`)) missing.push(`${t.name}.${c.name}`);
    }
    for (const s of SCENARIO_NAMES) if (!docs.includes(`| ${s} |`)) missing.push(`scenario ${s}`);
    expect(missing).toEqual([]);
  });

  it('batch width is the requested feature count', () => {
    expect(batchFeatureColumns(200)).toHaveLength(200);
    expect(batchFeatureColumns(2500).at(-1)?.name).toBe(fillerColumnName(2484));
  });

  it('parses scenario lists and refuses unknown names or baseline combined with drift', () => {
    expect(parseScenarios('unit-change, label-delay')).toEqual(['unit-change', 'label-delay']);
    expect(() => parseScenarios('unit-change,nope')).toThrow(/unknown scenario "nope"/);
    expect(() => parseScenarios('baseline,unit-change')).toThrow(/cannot be combined/);
  });
});
