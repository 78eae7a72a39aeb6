import { readFileSync } from 'node:fs';

export interface VersionInfo {
  readonly name: string;
  readonly version: string;
  readonly node: string;
  readonly platform: string;
}

export function versionInfo(): VersionInfo {
  // package.json sits two levels above both src/cli and dist/cli
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return {
    name: pkg.name,
    version: pkg.version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
