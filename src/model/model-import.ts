import { ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION, type ModelArtifact } from './artifact.js';
import type { ImportedModel } from './xgboost-import.js';

/**
 * Wraps an imported ensemble as an artifact. Categorical columns of imported models carry integer codes as the
 * source library saw them (no vocabulary); there are no training bins, so no reference profile.
 */
export function importedModelArtifact(
  model: ImportedModel,
  options: { name?: string; now?: () => Date } = {},
): ModelArtifact {
  const importance = model.columns.map((feature, f) => {
    let gain = 0;
    let split = 0;
    for (const t of model.ensemble.trees) {
      for (let i = 0; i < t.left.length; i++) {
        if ((t.left[i] as number) >= 0 && t.feature[i] === f) {
          gain += t.gain[i] as number;
          split++;
        }
      }
    }
    return { feature, gain, split };
  });
  return {
    header: {
      format: ARTIFACT_FORMAT,
      formatVersion: ARTIFACT_FORMAT_VERSION,
      modelKind: model.source,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      ...(options.name ? { name: options.name } : {}),
      featureService: null,
      columns: model.columns.map((name, i) => ({ name, kind: model.categorical[i] ? 'categorical' : 'numeric' })),
      label: null,
      baseMargin: model.ensemble.baseMargin,
      bins: null,
      params: { importedTrees: model.ensemble.trees.length },
      trees: null,
      calibration: { method: 'none' },
      metrics: {},
      importance: importance.sort((a, b) => b.gain - a.gain),
      training: null,
      referenceProfile: null,
    },
    trees: model.ensemble.trees,
  };
}
