import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const ONLINE_STORE_KINDS = ['memory', 'redis'] as const;
export const BUS_KINDS = ['memory', 'redis', 'nats'] as const;

const intIn = (min: number, max: number) =>
  z
    .number({ error: `expected an integer from ${min} to ${max}` })
    .int({ error: `expected an integer from ${min} to ${max}` })
    .min(min, { error: `expected an integer from ${min} to ${max}` })
    .max(max, { error: `expected an integer from ${min} to ${max}` });

const url = (schemes: readonly string[]) =>
  z.string().refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { error: `expected a URL with scheme ${schemes.join(' or ')}` },
  );

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });

export const configSchema = z.strictObject({
  /** Where embedded stores keep their files (DuckDB, Parquet, registry, snapshots). */
  storeDir: z.string().min(1, { error: 'expected a non-empty directory path' }),
  log: z.strictObject({ level: oneOf(LOG_LEVELS) }),
  serving: z.strictObject({
    host: z.string().min(1, { error: 'expected a host name or address' }),
    port: intIn(1, 65535),
    requestTimeoutMs: intIn(1, 600_000),
  }),
  redis: z.strictObject({ url: url(['redis', 'rediss']), keyPrefix: z.string() }),
  nats: z.strictObject({ url: url(['nats', 'tls']), streamPrefix: z.string().min(1) }),
  onlineStore: z.strictObject({ kind: oneOf(ONLINE_STORE_KINDS) }),
  bus: z.strictObject({ kind: oneOf(BUS_KINDS) }),
});

export type AdnovaConfig = z.infer<typeof configSchema>;

/** The embedded defaults: everything in-process, nothing to install. */
export function defaultConfig(): AdnovaConfig {
  return {
    storeDir: '.adnova',
    log: { level: 'info' },
    serving: { host: '127.0.0.1', port: 8080, requestTimeoutMs: 1000 },
    redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'adnova:' },
    nats: { url: 'nats://127.0.0.1:4222', streamPrefix: 'ADNOVA' },
    onlineStore: { kind: 'memory' },
    bus: { kind: 'memory' },
  };
}

/** Where each effective value came from: `default`, `file:<path>` or `env:<NAME>`. */
export type ConfigSources = Record<string, string>;

export interface LoadedConfig {
  readonly config: AdnovaConfig;
  readonly sources: ConfigSources;
  readonly file: string | undefined;
}

export interface LoadConfigOptions {
  /** Explicit config file; otherwise `ADNOVA_CONFIG`, otherwise `adnova.config.json` in `cwd` if present. */
  readonly file?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

export const CONFIG_FILE_ENV = 'ADNOVA_CONFIG';
const DEFAULT_CONFIG_FILE = 'adnova.config.json';

/** Defaults, then the config file, then `ADNOVA_*` environment variables; validated once, here. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const merged = defaultConfig() as unknown as Record<string, unknown>;
  const leaves = leafPaths(merged);
  const sources: ConfigSources = Object.fromEntries(leaves.map((p) => [p.join('.'), 'default']));

  const file = resolveConfigFile(options.file ?? env[CONFIG_FILE_ENV], cwd);
  if (file !== undefined) {
    const fromFile = readConfigFile(file);
    mergeInto(merged, fromFile, [], file, sources);
  }

  const envNames = new Map(leaves.map((p) => [envNameFor(p), p]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('ADNOVA_') || name === CONFIG_FILE_ENV || raw === undefined) continue;
    const path = envNames.get(name);
    if (path === undefined) {
      throw new ConfigError(
        `unknown configuration variable ${name}; expected one of ${[...envNames.keys()].sort().join(', ')}`,
      );
    }
    setAt(merged, path, coerceEnv(raw, getAt(defaultConfig() as unknown as Record<string, unknown>, path)));
    sources[path.join('.')] = `env:${name}`;
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const source = sources[key] ?? 'file';
      const value = issue.path.length > 0 ? getAt(merged, issue.path.map(String)) : undefined;
      const origin = source.startsWith('file:') ? ` (${key}, from ${source.slice(5)})` : ` (${key})`;
      const where = source.startsWith('env:') ? source.slice(4) : key;
      return `${where}=${JSON.stringify(value)}${source.startsWith('env:') ? origin : source === 'default' ? '' : origin}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return { config: parsed.data, sources, file };
}

/** `serving.port` -> `ADNOVA_SERVING_PORT`, `storeDir` -> `ADNOVA_STORE_DIR`. */
export function envNameFor(path: readonly string[]): string {
  return `ADNOVA_${path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

function resolveConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist`);
    return path;
  }
  const implicit = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(implicit) ? implicit : undefined;
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(parsed))
    throw new ConfigError(`config file ${path} must hold a JSON object, got ${typeName(parsed)}`);
  return parsed;
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  path: string[],
  file: string,
  sources: ConfigSources,
): void {
  for (const [key, value] of Object.entries(source)) {
    const here = [...path, key];
    const current = target[key];
    if (current === undefined) {
      throw new ConfigError(`config file ${file}: unknown key ${here.join('.')}`);
    }
    if (isPlainObject(current)) {
      if (!isPlainObject(value)) {
        throw new ConfigError(`config file ${file}: ${here.join('.')} must be an object, got ${typeName(value)}`);
      }
      mergeInto(current, value, here, file, sources);
    } else {
      target[key] = value;
      sources[here.join('.')] = `file:${file}`;
    }
  }
}

function coerceEnv(raw: string, defaultValue: unknown): unknown {
  const text = raw.trim();
  if (typeof defaultValue === 'number') return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : raw;
  if (typeof defaultValue === 'boolean') {
    if (/^(true|1|yes)$/i.test(text)) return true;
    if (/^(false|0|no)$/i.test(text)) return false;
    return raw;
  }
  return raw;
}

function leafPaths(obj: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(obj).flatMap(([key, value]) =>
    isPlainObject(value) ? leafPaths(value, [...prefix, key]) : [[...prefix, key]],
  );
}

function getAt(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const part of path) cur = isPlainObject(cur) ? cur[part] : undefined;
  return cur;
}

function setAt(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const part of path.slice(0, -1)) cur = cur[part] as Record<string, unknown>;
  cur[path[path.length - 1] as string] = value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
