import { InvalidInputError } from '../core/index.js';
import { type Tree, TreeBuilder } from './tree-ensemble.js';
import type { ImportedModel } from './xgboost-import.js';

function fail(what: string): never {
  throw new InvalidInputError(`not a LightGBM binary text model: ${what}`);
}

/** Smallest Float32 strictly above a Float32 value. */
function nextUp32(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  if (x === 0) u[0] = 1;
  else if (x > 0) u[0] = (u[0] as number) + 1;
  else u[0] = (u[0] as number) - 1;
  return f[0] as number;
}

/**
 * LightGBM compares `x <= threshold` in double; our features are Float32 and we test `x < t`. For Float32 x,
 * `x <= thr` equals `x < t` with t the smallest Float32 above thr (exactly representable) or fround(thr) when
 * rounding went up.
 */
function strictFloat32Threshold(thr: number): number {
  if (!Number.isFinite(thr)) return thr;
  const t = Math.fround(thr);
  return t > thr ? t : nextUp32(t);
}

const nums = (s: string | undefined, what: string, tree: number): number[] => {
  if (s === undefined) fail(`tree ${tree} has no ${what}`);
  return s.trim() === '' ? [] : s.trim().split(/\s+/).map(Number);
};

/**
 * Reads a LightGBM text model (`Booster.save_model('m.txt')`, objective binary). Decision types: bit 0 categorical,
 * bit 1 default left, bits 2-3 missing type (0 none: NaN is treated as 0; 2 NaN). Missing type "zero" is rejected.
 */
export function importLightgbmText(text: string): ImportedModel {
  const lines = text.split(/\r?\n/);
  const header = new Map<string, string>();
  let i = 0;
  for (; i < lines.length && !(lines[i] as string).startsWith('Tree='); i++) {
    const line = lines[i] as string;
    const eq = line.indexOf('=');
    if (eq > 0) header.set(line.slice(0, eq), line.slice(eq + 1));
  }
  if (lines[0]?.trim() !== 'tree') fail('the first line is not "tree"');
  const objective = header.get('objective') ?? '';
  if (!objective.startsWith('binary')) fail(`objective is "${objective}", expected "binary"`);
  const sig = /sigmoid:([0-9.eE+-]+)/.exec(objective);
  const sigmoid = sig ? Number(sig[1]) : 1;
  if (Number(header.get('num_class') ?? '1') !== 1) fail('num_class is not 1');
  const maxFeature = Number(header.get('max_feature_idx'));
  if (!Number.isInteger(maxFeature) || maxFeature < 0) fail(`max_feature_idx is ${header.get('max_feature_idx')}`);
  const numFeatures = maxFeature + 1;
  const names = (header.get('feature_names') ?? '').split(/\s+/).filter((s) => s.length > 0);
  const columns = names.length === numFeatures ? names : Array.from({ length: numFeatures }, (_, k) => `Column_${k}`);
  const categorical = new Array<boolean>(numFeatures).fill(false);
  const trees: Tree[] = [];
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.startsWith('end of trees')) break;
    if (!line.startsWith('Tree=')) {
      i++;
      continue;
    }
    const idx = trees.length;
    const kv = new Map<string, string>();
    for (
      i++;
      i < lines.length && (lines[i] as string).trim() !== '' && !(lines[i] as string).startsWith('Tree=');
      i++
    ) {
      const l = lines[i] as string;
      const eq = l.indexOf('=');
      if (eq > 0) kv.set(l.slice(0, eq), l.slice(eq + 1));
    }
    trees.push(convertTree(kv, idx, numFeatures, sigmoid, categorical));
  }
  if (trees.length === 0) fail('no "Tree=" sections');
  return { source: 'lightgbm-text', columns, categorical, ensemble: { numFeatures, baseMargin: 0, trees } };
}

function convertTree(
  kv: Map<string, string>,
  idx: number,
  numFeatures: number,
  sigmoid: number,
  categorical: boolean[],
): Tree {
  const numLeaves = Number(kv.get('num_leaves'));
  if (!Number.isInteger(numLeaves) || numLeaves < 1) fail(`tree ${idx} has num_leaves ${kv.get('num_leaves')}`);
  const leafValue = nums(kv.get('leaf_value'), 'leaf_value', idx);
  if (kv.get('is_linear') !== undefined && kv.get('is_linear') !== '0') fail(`tree ${idx} is a linear tree`);
  const b = new TreeBuilder();
  if (numLeaves === 1) {
    b.addLeaf((leafValue[0] ?? 0) * sigmoid, 0);
    return b.finish();
  }
  const nInternal = numLeaves - 1;
  const splitFeature = nums(kv.get('split_feature'), 'split_feature', idx);
  const threshold = nums(kv.get('threshold'), 'threshold', idx);
  const decision = nums(kv.get('decision_type'), 'decision_type', idx);
  const leftChild = nums(kv.get('left_child'), 'left_child', idx);
  const rightChild = nums(kv.get('right_child'), 'right_child', idx);
  const gains = kv.has('split_gain') ? nums(kv.get('split_gain'), 'split_gain', idx) : [];
  const catBoundaries = kv.has('cat_boundaries') ? nums(kv.get('cat_boundaries'), 'cat_boundaries', idx) : [];
  const catThreshold = kv.has('cat_threshold') ? nums(kv.get('cat_threshold'), 'cat_threshold', idx) : [];
  for (const [name, arr] of [
    ['split_feature', splitFeature],
    ['threshold', threshold],
    ['decision_type', decision],
    ['left_child', leftChild],
    ['right_child', rightChild],
  ] as const) {
    if (arr.length !== nInternal) fail(`tree ${idx} ${name} has ${arr.length} values, expected ${nInternal}`);
  }
  if (leafValue.length !== numLeaves)
    fail(`tree ${idx} leaf_value has ${leafValue.length} values, expected ${numLeaves}`);
  // our node ids: internal nodes 0..nInternal-1, then leaves nInternal + k
  for (let k = 0; k < nInternal; k++) b.addLeaf(0, 0);
  for (let k = 0; k < numLeaves; k++) b.addLeaf((leafValue[k] as number) * sigmoid, 0);
  const child = (c: number): number => (c < 0 ? nInternal + ~c : c);
  for (let k = 0; k < nInternal; k++) {
    const f = splitFeature[k] as number;
    if (!(f >= 0 && f < numFeatures)) fail(`tree ${idx} node ${k} splits on feature ${f}`);
    const dt = decision[k] as number;
    const isCat = (dt & 1) === 1;
    const defaultLeft = (dt & 2) === 2;
    const missingType = (dt >> 2) & 3;
    if (missingType === 1)
      fail(`tree ${idx} node ${k} uses missing type "zero" (zero_as_missing), which is not supported`);
    const gain = gains[k] ?? 0;
    if (isCat) {
      categorical[f] = true;
      const ci = threshold[k] as number;
      const start = catBoundaries[ci];
      const end = catBoundaries[ci + 1];
      if (start === undefined || end === undefined)
        fail(`tree ${idx} node ${k} points to category set ${ci} that does not exist`);
      const codes: number[] = [];
      for (let w = start; w < end; w++) {
        const word = (catThreshold[w] as number) >>> 0;
        for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) codes.push((w - start) * 32 + bit);
      }
      // NaN goes right for missing type NaN; otherwise it counts as category 0
      const nanLeft = missingType === 2 ? false : codes.includes(0);
      b.setCategoricalSplit(k, f, codes, true, nanLeft, gain);
    } else {
      const thr = threshold[k] as number;
      // missing type none: NaN is compared as 0
      const nanLeft = missingType === 2 ? defaultLeft : 0 <= thr;
      b.setNumericSplit(k, f, strictFloat32Threshold(thr), 0, nanLeft, gain);
    }
    b.setChildren(k, child(leftChild[k] as number), child(rightChild[k] as number));
  }
  return b.finish();
}
