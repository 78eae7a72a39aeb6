import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  defineTransform,
  type FeatureDefinitions,
  resolveService,
  validateDefinitions,
} from './definitions.js';
import { loadDefinitionsFile, parseDefinitions } from './definitions-file.js';
import { FeatureDefinitionError, FeatureNotFoundError, IncompatibleChangeError } from './errors.js';
import { FeatureRegistry } from './registry.js';

const user = defineEntity({ name: 'user' });
const stats = defineFeatureView({
  name: 'stats',
  entity: 'user',
  ttlSeconds: 3600,
  owner: 'growth',
  tags: ['pii'],
  features: [
    { name: 'clicks', dtype: 'int' },
    { name: 'ctr', default: 0.01 },
  ],
});
const base = () =>
  defineFeatures({
    entities: [user],
    views: [stats],
    services: [defineFeatureService({ name: 's', features: ['stats.ctr', 'stats.clicks'] })],
  });

function expectBad(defs: FeatureDefinitions, message: RegExp) {
  expect(() => validateDefinitions(defs)).toThrow(FeatureDefinitionError);
  expect(() => validateDefinitions(defs)).toThrow(message);
}

describe('definitions validation', () => {
  it('accepts a consistent set and resolves a service into view runs', () => {
    validateDefinitions(base());
    const layout = resolveService(base(), 's');
    expect(layout.columns).toEqual(['stats.ctr', 'stats.clicks']);
    expect(layout.runs).toHaveLength(1);
    expect(Array.from(layout.runs[0]?.featureIndex ?? [])).toEqual([1, 0]);
    expect(Array.from(layout.runs[0]?.defaults ?? [])).toEqual([Math.fround(0.01), 0]);
    expect(layout.runs[0]?.ttlMs).toBe(3_600_000);
  });

  it('rejects an unknown entity', () => {
    expectBad({ ...base(), views: [{ ...stats, entity: 'campaign' }] }, /view stats: unknown entity "campaign"/);
  });
  it('rejects a duplicate feature', () => {
    expectBad(
      { ...base(), views: [{ ...stats, features: [...stats.features, stats.features[0]!] }] },
      /duplicate feature "clicks"/,
    );
  });
  it('rejects TTL <= 0', () => {
    expectBad({ ...base(), views: [{ ...stats, ttlSeconds: 0 }] }, /ttlSeconds must be a number > 0 or "none" .*got 0/);
    expectBad(
      { ...base(), views: [{ ...stats, ttlSeconds: -5 }] },
      /ttlSeconds must be a number > 0 or "none" .*got -5/,
    );
  });
  it('takes ttlSeconds: none (never expires) with an explicit freshness SLA, in YAML as in TypeScript', () => {
    const yaml = (ttl: string, sla: string) =>
      `entities: [{name: user}]\nviews: [{name: v, entity: user, ${ttl}${sla}features: [{name: f}]}]\nservices: [{name: s, features: [v.f]}]`;
    const defs = parseDefinitions(yaml('ttlSeconds: none, ', 'freshnessSlaSeconds: 3600, '), 'yaml');
    expect(defs.views[0]?.ttlSeconds).toBe('none');
    expect(resolveService(defs, 's').runs[0]?.ttlMs).toBe(Number.POSITIVE_INFINITY);
    expect(() => parseDefinitions(yaml('ttlSeconds: none, ', ''), 'yaml')).toThrow(
      /ttlSeconds is "none", so freshnessSlaSeconds has no default/,
    );
    // a missing TTL is not "none", and neither is another word
    expect(() => parseDefinitions(yaml('', 'freshnessSlaSeconds: 3600, '), 'yaml')).toThrow(/views\.0\.ttlSeconds/);
    expect(() => parseDefinitions(yaml('ttlSeconds: never, ', 'freshnessSlaSeconds: 3600, '), 'yaml')).toThrow(
      /views\.0\.ttlSeconds/,
    );
    expectBad(
      { ...base(), views: [{ ...stats, ttlSeconds: 'none', freshnessSlaSeconds: Number.NaN }] },
      /freshnessSlaSeconds has no default/,
    );
  });
  it('rejects a service naming a missing feature', () => {
    expectBad(
      { ...base(), services: [defineFeatureService({ name: 's', features: ['stats.nope'] })] },
      /feature "stats.nope" does not exist/,
    );
  });
  it('rejects a transform reading a missing feature and a bad expression', () => {
    expectBad(
      {
        ...base(),
        transforms: [defineTransform({ name: 't', outputs: [{ name: 'o', expression: 'stats.gone * 2' }] })],
      },
      /reads "stats.gone"/,
    );
    expectBad(
      {
        ...base(),
        transforms: [defineTransform({ name: 't', outputs: [{ name: 'o', expression: 'log(stats.ctr' }] })],
      },
      /expected "\)"/,
    );
  });
  it('names an unknown service with NotFound', () => {
    expect(() => resolveService(base(), 'zzz')).toThrow(FeatureNotFoundError);
  });
});

describe('definitions file (YAML and JSON)', () => {
  const yaml = `
entities:
  - name: user
views:
  - name: stats
    entity: user
    ttlSeconds: 3600
    owner: growth
    tags: [pii]
    source: { kind: batch, path: data/stats.parquet }
    features:
      - { name: clicks, dtype: int }
      - { name: ctr, default: 0.01, description: click-through rate }
transforms:
  - name: derived
    outputs:
      - { name: log_clicks, expression: "log(stats.clicks + 1)" }
services:
  - name: s
    features: [stats.ctr, derived.log_clicks]
`;
  it('loads YAML into the same shape as the TypeScript API', () => {
    const defs = parseDefinitions(yaml, 'yaml');
    expect(defs.views[0]).toMatchObject({ name: 'stats', version: 1, freshnessSlaSeconds: 3600, tags: ['pii'] });
    expect(defs.views[0]?.source).toEqual({ kind: 'batch', path: 'data/stats.parquet' });
    expect(defs.views[0]?.features[1]).toEqual({
      name: 'ctr',
      dtype: 'float',
      default: 0.01,
      description: 'click-through rate',
    });
    expect(resolveService(defs, 's').runs.map((r) => r.kind)).toEqual(['stored', 'transform']);
  });
  it('loads JSON files and reports bad ones with their path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-defs-'));
    try {
      const path = join(dir, 'defs.json');
      writeFileSync(
        path,
        JSON.stringify({
          entities: [{ name: 'user' }],
          views: [{ name: 'v', entity: 'user', ttlSeconds: 10, features: [{ name: 'f' }] }],
        }),
      );
      expect(loadDefinitionsFile(path).views[0]?.name).toBe('v');
      writeFileSync(path, JSON.stringify({ views: [{ name: 'v', entity: 'user', ttlSeconds: '10', features: [] }] }));
      expect(() => loadDefinitionsFile(path)).toThrow(/views\.0\.ttlSeconds/);
      expect(() => loadDefinitionsFile(join(dir, 'x.txt'))).toThrow(/\.yaml, \.yml or \.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('rejects unknown keys and bad dtypes', () => {
    expect(() =>
      parseDefinitions('views: [{name: v, entity: user, ttlSeconds: 1, features: [{name: f, dtype: text}]}]', 'yaml'),
    ).toThrow(FeatureDefinitionError);
    expect(() => parseDefinitions('entities: [{name: user, colour: red}]', 'yaml')).toThrow(/colour/);
  });
});

describe('registry', () => {
  const withDir = (fn: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-reg-'));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('stores versions, accepts compatible edits in place and refuses incompatible ones', () =>
    withDir((dir) => {
      const reg = FeatureRegistry.open(dir);
      expect(reg.apply(base(), 1).map((o) => o.action)).toEqual(['created', 'created', 'created']);
      expect(reg.apply(base(), 2).map((o) => o.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      const edited = {
        ...stats,
        ttlSeconds: 7200,
        features: [...stats.features, { name: 'extra', dtype: 'float' as const, default: 0, description: '' }],
      };
      const out = reg.apply(defineFeatures({ views: [edited] }), 3);
      expect(out[0]).toMatchObject({ action: 'updated', version: 1 });
      expect(out[0]?.changes).toEqual(expect.arrayContaining(['feature extra appended', 'ttlSeconds changed']));
      const dtypeChange = {
        ...edited,
        features: [{ ...stats.features[0]!, dtype: 'float' as const }, ...edited.features.slice(1)],
      };
      expect(() => reg.apply(defineFeatures({ views: [dtypeChange] }), 4)).toThrow(IncompatibleChangeError);
      expect(() => reg.apply(defineFeatures({ views: [dtypeChange] }), 4)).toThrow(/dtype int -> float.*version 2/);
      const removed = { ...edited, features: edited.features.slice(1) };
      // removing a feature the service uses fails validation first; as v2 with the service moved it is accepted
      expect(() => reg.apply(defineFeatures({ views: [removed] }), 5)).toThrow(/clicks/);
      const v2 = reg.apply(
        defineFeatures({
          views: [{ ...removed, version: 2 }],
          services: [defineFeatureService({ name: 's', version: 2, features: ['stats.ctr'] })],
        }),
        6,
      );
      expect(v2.map((o) => o.action)).toEqual(['new-version', 'new-version']);
      const reopened = FeatureRegistry.open(dir);
      expect(reopened.current().views[0]?.version).toBe(2);
      expect(reopened.history('view', 'stats').map((e) => [e.version, e.revision])).toEqual([
        [1, 1],
        [1, 2],
        [2, 1],
      ]);
      expect(() =>
        reopened.apply(
          defineFeatures({ services: [defineFeatureService({ name: 's', version: 2, features: ['stats.extra'] })] }),
          7,
        ),
      ).toThrow(/features changed/);
    }));
});
