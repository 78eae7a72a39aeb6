import { InvalidInputError } from '../core/index.js';
import { type Tree, TreeBuilder, type TreeEnsemble } from './tree-ensemble.js';

export interface ImportedModel {
  readonly source: 'xgboost-json' | 'lightgbm-text';
  readonly columns: readonly string[];
  readonly categorical: readonly boolean[];
  readonly ensemble: TreeEnsemble;
}

interface XgbTree {
  left_children: number[];
  right_children: number[];
  split_indices: number[];
  split_conditions: (number | null)[];
  default_left: (number | boolean)[];
  split_type?: number[];
  categories?: number[];
  categories_nodes?: number[];
  categories_segments?: number[];
  categories_sizes?: number[];
  loss_changes?: number[];
  sum_hessian?: number[];
}

/** XGBoost writes bare NaN / Infinity tokens, which JSON.parse rejects: map them to null / 1e999 first. */
function parseLenientJson(text: string): unknown {
  const fixed = text
    .replace(/([[,:]\s*)-?NaN(?=\s*[,\]}])/g, '$1null')
    .replace(/([[,:]\s*)(-?)Infinity(?=\s*[,\]}])/g, '$1$21e999');
  return JSON.parse(fixed);
}

function fail(what: string): never {
  throw new InvalidInputError(`not an XGBoost binary:logistic JSON model: ${what}`);
}

/** Reads a model saved by XGBoost's `Booster.save_model('m.json')` (objective binary:logistic, gbtree). */
export function importXgboostJson(text: string): ImportedModel {
  let doc: unknown;
  try {
    doc = parseLenientJson(text);
  } catch (err) {
    throw new InvalidInputError(`XGBoost model is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const learner = (doc as { learner?: Record<string, unknown> }).learner;
  if (!learner || typeof learner !== 'object') fail('no "learner" object');
  const objective = (learner['objective'] as { name?: string } | undefined)?.name;
  if (objective !== 'binary:logistic' && objective !== 'binary:logitraw') {
    fail(`objective is ${JSON.stringify(objective)}, expected "binary:logistic"`);
  }
  const booster = learner['gradient_booster'] as
    | { name?: string; model?: { trees?: XgbTree[]; tree_info?: number[] } }
    | undefined;
  if (booster?.name !== 'gbtree' || !Array.isArray(booster.model?.trees))
    fail(`booster is ${JSON.stringify(booster?.name)}, expected "gbtree" with trees`);
  const mp = learner['learner_model_param'] as Record<string, string> | undefined;
  const numFeature = Number(mp?.['num_feature']);
  if (!Number.isInteger(numFeature) || numFeature < 1) fail(`num_feature is ${JSON.stringify(mp?.['num_feature'])}`);
  const baseScore = Number(mp?.['base_score'] ?? '0.5');
  if (!(baseScore > 0 && baseScore < 1) && objective === 'binary:logistic')
    fail(`base_score ${baseScore} is not a probability`);
  // binary:logistic stores base_score as a probability; the trees add to its log-odds
  const baseMargin = objective === 'binary:logistic' ? Math.log(baseScore / (1 - baseScore)) : baseScore;
  const names = (learner['feature_names'] as string[] | undefined) ?? [];
  const types = (learner['feature_types'] as string[] | undefined) ?? [];
  const columns = names.length === numFeature ? names : Array.from({ length: numFeature }, (_, i) => `f${i}`);
  const categorical = Array.from({ length: numFeature }, (_, i) => types[i] === 'c');
  const trees = (booster.model?.trees ?? []).map((t, i) => convertTree(t, i, numFeature));
  return { source: 'xgboost-json', columns, categorical, ensemble: { numFeatures: numFeature, baseMargin, trees } };
}

function convertTree(t: XgbTree, index: number, numFeature: number): Tree {
  const n = t.left_children?.length ?? 0;
  if (n === 0 || t.right_children?.length !== n || t.split_indices?.length !== n || t.split_conditions?.length !== n) {
    fail(`tree ${index} has inconsistent node arrays`);
  }
  const catOf = new Map<number, number[]>();
  (t.categories_nodes ?? []).forEach((node, k) => {
    const start = t.categories_segments?.[k] ?? 0;
    const size = t.categories_sizes?.[k] ?? 0;
    catOf.set(node, (t.categories ?? []).slice(start, start + size));
  });
  const b = new TreeBuilder();
  for (let i = 0; i < n; i++) b.addLeaf(0, t.sum_hessian?.[i] ?? 0);
  for (let i = 0; i < n; i++) {
    const l = t.left_children[i] as number;
    const cond = t.split_conditions[i];
    if (l < 0) {
      b.value[i] = cond ?? 0;
      continue;
    }
    const f = t.split_indices[i] as number;
    if (f < 0 || f >= numFeature) fail(`tree ${index} node ${i} splits on feature ${f} of ${numFeature}`);
    const defaultLeft = Boolean(t.default_left[i]);
    const gain = t.loss_changes?.[i] ?? 0;
    if ((t.split_type?.[i] ?? 0) === 1) {
      // XGBoost sends the listed categories right and everything else (including unseen codes) left
      b.setCategoricalSplit(i, f, catOf.get(i) ?? [], false, defaultLeft, gain);
    } else {
      b.setNumericSplit(i, f, cond ?? Number.NaN, 0, defaultLeft, gain);
    }
    b.setChildren(i, l, t.right_children[i] as number);
  }
  return b.finish();
}
