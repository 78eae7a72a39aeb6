import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeError } from '../core/index.js';
import {
  AGGREGATION_OPS,
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  defineTransform,
  FEATURE_DTYPES,
  type FeatureDefinitions,
  NO_TTL,
  SOURCE_FORMATS,
  SOURCE_KINDS,
  validateDefinitions,
} from './definitions.js';
import { FeatureDefinitionError } from './errors.js';

export type DefinitionsFileFormat = 'yaml' | 'json';

const aggregation = z.strictObject({
  op: z.enum(AGGREGATION_OPS),
  column: z.string().optional(),
  window: z.string(),
  where: z.record(z.string(), z.array(z.string()).min(1)).optional(),
});

const feature = z.strictObject({
  name: z.string(),
  dtype: z.enum(FEATURE_DTYPES).optional(),
  default: z.number().optional(),
  description: z.string().optional(),
});

const fileSchema = z.strictObject({
  entities: z
    .array(z.strictObject({ name: z.string(), joinKey: z.string().optional(), description: z.string().optional() }))
    .default([]),
  views: z
    .array(
      z.strictObject({
        name: z.string(),
        version: z.number().int().optional(),
        entity: z.string(),
        source: z
          .strictObject({
            kind: z.enum(SOURCE_KINDS),
            topic: z.string().optional(),
            path: z.string().optional(),
            format: z.enum(SOURCE_FORMATS).optional(),
            eventTsColumn: z.string().optional(),
            createdTsColumn: z.string().optional(),
          })
          .optional(),
        features: z.array(feature.extend({ aggregation: aggregation.optional() })),
        ttlSeconds: z.union([z.number(), z.literal(NO_TTL)]),
        freshnessSlaSeconds: z.number().optional(),
        owner: z.string().optional(),
        tags: z.array(z.string()).optional(),
        description: z.string().optional(),
      }),
    )
    .default([]),
  transforms: z
    .array(
      z.strictObject({
        name: z.string(),
        version: z.number().int().optional(),
        description: z.string().optional(),
        outputs: z.array(feature.extend({ expression: z.string() })),
      }),
    )
    .default([]),
  services: z
    .array(
      z.strictObject({
        name: z.string(),
        version: z.number().int().optional(),
        features: z.array(z.string()),
        description: z.string().optional(),
      }),
    )
    .default([]),
});

/** Parses YAML or JSON definitions text (same shape as the TypeScript API) and validates it. */
export function parseDefinitions(
  text: string,
  format: DefinitionsFileFormat,
  origin = 'definitions',
): FeatureDefinitions {
  let raw: unknown;
  try {
    raw = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new FeatureDefinitionError(`${origin} is not valid ${format.toUpperCase()}: ${describeError(err)}`, {
      cause: err,
    });
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FeatureDefinitionError(`${origin}: ${problems.join('; ')}`, { details: { problems } });
  }
  const d = parsed.data;
  const strip = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const defs = defineFeatures({
    entities: d.entities.map((e) => defineEntity(strip(e))),
    views: d.views.map((v) =>
      defineFeatureView(
        strip({
          ...v,
          source: v.source ? strip(v.source) : undefined,
          features: v.features.map((f) =>
            strip({ ...f, aggregation: f.aggregation ? strip(f.aggregation) : undefined }),
          ),
        }),
      ),
    ),
    transforms: d.transforms.map((t) => defineTransform(strip({ ...t, outputs: t.outputs.map(strip) }))),
    services: d.services.map((s) => defineFeatureService(strip(s))),
  });
  validateDefinitions(defs);
  return defs;
}

/** Loads a `.yaml`/`.yml`/`.json` definitions file. */
export function loadDefinitionsFile(path: string): FeatureDefinitions {
  const ext = extname(path).toLowerCase();
  const format: DefinitionsFileFormat | undefined =
    ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (format === undefined)
    throw new FeatureDefinitionError(`definitions file must end in .yaml, .yml or .json, got ${path}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FeatureDefinitionError(`cannot read definitions file ${path}: ${describeError(err)}`, { cause: err });
  }
  return parseDefinitions(text, format, path);
}
