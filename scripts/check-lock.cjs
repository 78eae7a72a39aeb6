#!/usr/bin/env node
// The registry reachable from our machines lacks some platform builds of newer versions; a lock made against it
// then silently misses optional entries and `npm ci` refuses it. Run after changing dependencies.
const { readFileSync } = require('node:fs');
const lock = JSON.parse(readFileSync(process.argv[2] ?? 'package-lock.json', 'utf8'));
const packages = lock.packages;
const missing = [];
for (const [path, meta] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = path ? `${path}/node_modules/${dep}` : `node_modules/${dep}`;
    if (!packages[nested] && !packages[`node_modules/${dep}`])
      missing.push(`${dep}@${version} (optional dependency of ${path || 'the root'})`);
  }
}
if (missing.length > 0) {
  console.error(
    `package-lock.json lacks ${missing.length} optional packages; npm ci will refuse it:\n  ${missing.join('\n  ')}`,
  );
  console.error(
    'pin the parent to a version whose platform packages all exist in the registry (npm view NAME versions)',
  );
  process.exit(1);
}
console.log('package-lock.json lists every optional platform package');
