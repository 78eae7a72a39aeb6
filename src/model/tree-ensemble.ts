/**
 * The one tree representation every model (trained here, imported from XGBoost or LightGBM) is scored from.
 * Node i is a leaf when `left[i] < 0`. Numeric split: go left when `x < threshold[i]` (Float32 compare, as
 * XGBoost does); NaN goes left when `defaultLeft[i]`. Categorical split (`catOffset[i] >= 0`): the code's bit in
 * `catWords[catOffset .. catOffset + catLength)` decides; `catSetLeft[i]` says whether codes in the set go left
 * (ours, LightGBM) or right (XGBoost). Codes outside the bitset, negative or non-integer count as not in the set.
 * `binThreshold` (trained models only): go left when `bin <= binThreshold`, same decision on training bins.
 */
export interface Tree {
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float32Array;
  readonly binThreshold: Uint8Array;
  readonly defaultLeft: Uint8Array;
  readonly catOffset: Int32Array;
  readonly catLength: Int32Array;
  readonly catSetLeft: Uint8Array;
  readonly catWords: Uint32Array;
  /** Leaf output (margin contribution, learning rate applied); 0 for internal nodes. */
  readonly value: Float64Array;
  /** Split gain (internal nodes) for importance. */
  readonly gain: Float32Array;
  /** Sum of hessians reaching the node. */
  readonly cover: Float32Array;
}

export interface TreeEnsemble {
  readonly numFeatures: number;
  /** Added to every row's margin before the trees. */
  readonly baseMargin: number;
  readonly trees: readonly Tree[];
}

/** Mutable builder for one tree; `finish()` packs it into typed arrays. */
export class TreeBuilder {
  readonly left: number[] = [];
  readonly right: number[] = [];
  readonly feature: number[] = [];
  readonly threshold: number[] = [];
  readonly binThreshold: number[] = [];
  readonly defaultLeft: number[] = [];
  readonly catOffset: number[] = [];
  readonly catLength: number[] = [];
  readonly catSetLeft: number[] = [];
  readonly catWords: number[] = [];
  readonly value: number[] = [];
  readonly gain: number[] = [];
  readonly cover: number[] = [];

  addLeaf(value: number, cover: number): number {
    const id = this.left.length;
    this.left.push(-1);
    this.right.push(-1);
    this.feature.push(-1);
    this.threshold.push(0);
    this.binThreshold.push(0);
    this.defaultLeft.push(0);
    this.catOffset.push(-1);
    this.catLength.push(0);
    this.catSetLeft.push(1);
    this.value.push(value);
    this.gain.push(0);
    this.cover.push(cover);
    return id;
  }

  /** Turns leaf `id` into a numeric split. Children are set later with `setChildren`. */
  setNumericSplit(
    id: number,
    feature: number,
    threshold: number,
    binThreshold: number,
    defaultLeft: boolean,
    gain: number,
  ): void {
    this.feature[id] = feature;
    this.threshold[id] = threshold;
    this.binThreshold[id] = binThreshold;
    this.defaultLeft[id] = defaultLeft ? 1 : 0;
    this.value[id] = 0;
    this.gain[id] = gain;
  }

  setCategoricalSplit(
    id: number,
    feature: number,
    codes: readonly number[],
    setLeft: boolean,
    defaultLeft: boolean,
    gain: number,
  ): void {
    let max = -1;
    for (const c of codes) if (c > max) max = c;
    const words = max < 0 ? 0 : (max >>> 5) + 1;
    const offset = this.catWords.length;
    for (let w = 0; w < words; w++) this.catWords.push(0);
    for (const c of codes)
      this.catWords[offset + (c >>> 5)] = ((this.catWords[offset + (c >>> 5)] as number) | (1 << (c & 31))) >>> 0;
    this.feature[id] = feature;
    this.catOffset[id] = offset;
    this.catLength[id] = words;
    this.catSetLeft[id] = setLeft ? 1 : 0;
    this.defaultLeft[id] = defaultLeft ? 1 : 0;
    this.value[id] = 0;
    this.gain[id] = gain;
  }

  setChildren(id: number, left: number, right: number): void {
    this.left[id] = left;
    this.right[id] = right;
  }

  finish(): Tree {
    return {
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      feature: Int32Array.from(this.feature),
      threshold: Float32Array.from(this.threshold),
      binThreshold: Uint8Array.from(this.binThreshold),
      defaultLeft: Uint8Array.from(this.defaultLeft),
      catOffset: Int32Array.from(this.catOffset),
      catLength: Int32Array.from(this.catLength),
      catSetLeft: Uint8Array.from(this.catSetLeft),
      catWords: Uint32Array.from(this.catWords),
      value: Float64Array.from(this.value),
      gain: Float32Array.from(this.gain),
      cover: Float32Array.from(this.cover),
    };
  }
}

/** True when code `x` is in the node's category set. */
export function inCategorySet(t: Tree, node: number, x: number): boolean {
  if (!(x >= 0) || !Number.isInteger(x)) return false;
  const word = x >>> 5;
  if (word >= (t.catLength[node] as number)) return false;
  return (((t.catWords[(t.catOffset[node] as number) + word] as number) >>> (x & 31)) & 1) === 1;
}

/** Leaf reached by a row, reading feature f through `get(f)`: the reference traversal (slow, obvious). */
export function leafOf(t: Tree, get: (feature: number) => number): number {
  let node = 0;
  while ((t.left[node] as number) >= 0) {
    const x = get(t.feature[node] as number);
    let goLeft: boolean;
    if (Number.isNaN(x)) goLeft = t.defaultLeft[node] === 1;
    else if ((t.catOffset[node] as number) >= 0) goLeft = inCategorySet(t, node, x) === (t.catSetLeft[node] === 1);
    else goLeft = x < (t.threshold[node] as number);
    node = goLeft ? (t.left[node] as number) : (t.right[node] as number);
  }
  return node;
}

export function treeDepth(t: Tree, node = 0): number {
  const l = t.left[node] as number;
  if (l < 0) return 0;
  return 1 + Math.max(treeDepth(t, l), treeDepth(t, t.right[node] as number));
}

export function hasCategoricalSplit(t: Tree): boolean {
  for (let i = 0; i < t.catOffset.length; i++)
    if ((t.catOffset[i] as number) >= 0 && (t.left[i] as number) >= 0) return true;
  return false;
}

export function sigmoid(margin: number): number {
  return 1 / (1 + Math.exp(-margin));
}
