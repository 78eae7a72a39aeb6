/** camelCase, starting lower-case: the rule for every key the CLI writes with `--json`. */
export const CAMEL_KEY = /^[a-z][a-zA-Z0-9]*$/;

/**
 * Keys of `value` (recursively) that are not camelCase, as `path: key`. A path is the dotted keys from the top, `[]`
 * for an array's elements (`features[].comparison`). Objects at one of `dataPaths` hold data as keys (feature names,
 * table names, category values): their own keys are not checked and stand as `*` in the paths below them
 * (`bySegment` and `bySegment.*` for segment column -> value -> metrics); their values are checked.
 */
export function nonCamelKeys(value: unknown, dataPaths: readonly string[] = []): string[] {
  const data = new Set(dataPaths);
  const found = new Set<string>();
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (const item of v) walk(item, `${path}[]`);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const isData = data.has(path);
    for (const [k, child] of Object.entries(v)) {
      if (!isData && !CAMEL_KEY.test(k)) found.add(`${path || '.'}: ${k}`);
      const key = isData ? '*' : k;
      walk(child, path ? `${path}.${key}` : key);
    }
  };
  walk(value, '');
  return [...found];
}
