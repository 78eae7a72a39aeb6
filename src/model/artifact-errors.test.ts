import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/test-io.js';
import { exitCodeFor, NotFoundError, Rng } from '../core/index.js';
import { loadArtifact, saveArtifact } from './artifact.js';
import { ModelArtifactError } from './errors.js';
import { trainModel } from './train-pipeline.js';

let dir: string;
let out: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-artifact-'));
  out = join(dir, 'm');
  const rng = new Rng(2);
  const n = 400;
  const values = Float32Array.from({ length: n }, () => rng.normal());
  const labels = Uint8Array.from(values, (v) => (rng.next() < 1 / (1 + Math.exp(-2 * v)) ? 1 : 0));
  const columns = [{ name: 'a', kind: 'numeric' as const }];
  saveArtifact(out, trainModel({ rows: n, columns: ['a'], values }, labels, columns, { gbdt: { trees: 3 } }).artifact);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function expectArtifactError(path: string, problem: RegExp): void {
  let caught: unknown;
  try {
    loadArtifact(out);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ModelArtifactError);
  const e = caught as ModelArtifactError;
  expect(e.code).toBe('MODEL_ARTIFACT_INVALID');
  expect(e.path).toBe(path);
  expect(e.problem).toMatch(problem);
  expect(e.message).toContain(path);
  expect(exitCodeFor(e)).toBe(1);
}

describe('loadArtifact errors', () => {
  it('a corrupt or incompatible artifact is ModelArtifactError (exit 1) naming the file and the problem', () => {
    const headerPath = join(out, 'model.json');
    const treePath = join(out, 'trees.bin');
    const header = JSON.parse(readFileSync(headerPath, 'utf8'));
    const bytes = readFileSync(treePath);

    writeFileSync(
      treePath,
      Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([(bytes[bytes.length - 1] as number) ^ 0xff])]),
    );
    expectArtifactError(treePath, /has sha256 [0-9a-f]{64}, the header expects/);

    // truncated, with a header checksum that matches: the decoder's complaint, still this error
    const cut = bytes.subarray(0, 20);
    writeFileSync(treePath, cut);
    writeFileSync(
      headerPath,
      JSON.stringify({ ...header, trees: { ...header.trees, sha256: createHash('sha256').update(cut).digest('hex') } }),
    );
    expectArtifactError(treePath, /truncated/);

    writeFileSync(headerPath, JSON.stringify({ ...header, formatVersion: 99 }));
    expectArtifactError(headerPath, /format version is 99, this build reads 1/);
    writeFileSync(headerPath, JSON.stringify({ ...header, format: 'other' }));
    expectArtifactError(headerPath, /format is "other", expected "adnova-model"/);
    writeFileSync(headerPath, '{"format": "adnova-model",');
    expectArtifactError(headerPath, /not valid JSON/);

    rmSync(dir, { recursive: true, force: true });
    expect(() => loadArtifact(out)).toThrow(NotFoundError);
  });

  it('model describe on a corrupt artifact exits 1 with the path', async () => {
    writeFileSync(join(out, 'model.json'), 'not json');
    const r = await runCliCaptured(['model', 'describe', '--model', out]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(out, 'model.json'));
    expect(r.err).toContain('MODEL_ARTIFACT_INVALID');
  });
});
