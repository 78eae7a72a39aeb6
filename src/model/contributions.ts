import { inCategorySet, type Tree, type TreeEnsemble } from './tree-ensemble.js';

/**
 * Per-feature contributions to one row's margin by path attribution (Saabas; XGBoost's
 * `pred_contribs=True, approx_contribs=True`): along the row's path in each tree, the change of the node's
 * expected value (cover-weighted mean of the leaves below it) at each split is credited to the split's feature.
 * Contributions plus the bias sum to the margin exactly. Node means are computed once per ensemble.
 */
export class TreeContributions {
  readonly numFeatures: number;
  readonly #ensemble: TreeEnsemble;
  readonly #means: Float64Array[];
  /** baseMargin plus every tree's root mean: the margin with no feature known. */
  readonly bias: number;

  constructor(ensemble: TreeEnsemble) {
    this.#ensemble = ensemble;
    this.numFeatures = ensemble.numFeatures;
    this.#means = ensemble.trees.map(nodeMeans);
    this.bias = this.#means.reduce((s, m) => s + (m[0] as number), ensemble.baseMargin);
  }

  /**
   * Adds the row's contributions into `out` (length numFeatures, zeroed by the caller) and returns its margin.
   * `get(f)` reads feature f of the row (NaN = missing), as the scorer sees it.
   */
  explainInto(get: (feature: number) => number, out: Float64Array): number {
    let margin = this.bias;
    const trees = this.#ensemble.trees;
    for (let t = 0; t < trees.length; t++) {
      const tree = trees[t] as Tree;
      const mean = this.#means[t] as Float64Array;
      let node = 0;
      while ((tree.left[node] as number) >= 0) {
        const f = tree.feature[node] as number;
        const x = get(f);
        let goLeft: boolean;
        if (Number.isNaN(x)) goLeft = tree.defaultLeft[node] === 1;
        else if ((tree.catOffset[node] as number) >= 0)
          goLeft = inCategorySet(tree, node, x) === (tree.catSetLeft[node] === 1);
        else goLeft = Math.fround(x) < (tree.threshold[node] as number);
        const next = goLeft ? (tree.left[node] as number) : (tree.right[node] as number);
        const delta = (mean[next] as number) - (mean[node] as number);
        out[f] = (out[f] as number) + delta;
        margin += delta;
        node = next;
      }
    }
    return margin;
  }

  /** The `k` features with the largest absolute contribution, largest first (ties by feature index). */
  top(
    get: (feature: number) => number,
    k: number,
    scratch = new Float64Array(this.numFeatures),
  ): FeatureContribution[] {
    scratch.fill(0);
    this.explainInto(get, scratch);
    const idx: number[] = [];
    for (let f = 0; f < scratch.length; f++) if (scratch[f] !== 0) idx.push(f);
    idx.sort((a, b) => Math.abs(scratch[b] as number) - Math.abs(scratch[a] as number) || a - b);
    return idx.slice(0, k).map((f) => ({ feature: f, contribution: scratch[f] as number }));
  }
}

export interface FeatureContribution {
  /** Column index in the model's feature order. */
  readonly feature: number;
  /** Margin (log-odds) contribution. */
  readonly contribution: number;
}

/** Cover-weighted mean leaf value below each node (XGBoost's FillNodeMeanValues). */
function nodeMeans(tree: Tree): Float64Array {
  const n = tree.left.length;
  const mean = new Float64Array(n);
  const fill = (node: number): number => {
    const l = tree.left[node] as number;
    if (l < 0) {
      mean[node] = tree.value[node] as number;
      return mean[node] as number;
    }
    const r = tree.right[node] as number;
    const ml = fill(l);
    const mr = fill(r);
    const cover = tree.cover[node] as number;
    const cl = tree.cover[l] as number;
    const cr = tree.cover[r] as number;
    // a node without cover (an imported model that did not record it) weighs its children equally
    mean[node] = cover > 0 ? (ml * cl + mr * cr) / cover : (ml + mr) / 2;
    return mean[node] as number;
  };
  if (n > 0) fill(0);
  return mean;
}
