"""Checks that a simulated world is learnable: a GBDT trained on batch features + campaign attributes predicts opens
and conversions of later sends better than chance, below the ceiling set by the true probabilities.

Usage:
  npx tsx src/world/tools/export-training-csv.ts WORLD_DIR /tmp/train.csv
  /usr/bin/python3 src/world/tools/check_learnable.py /tmp/train.csv
"""
import sys

import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

df = pd.read_csv(sys.argv[1])
labels = ["y_open", "y_convert", "p_open", "p_convert", "send_id", "send_ts"]
X = df.drop(columns=labels)
for c in X.columns:
    if X[c].dtype == object or X[c].dtype == bool:
        X[c] = X[c].astype("category").cat.codes
cut = df["send_ts"].quantile(0.7)
train, test = df["send_ts"] < cut, df["send_ts"] >= cut
for kind, p in [("open", "p_open"), ("convert", "p_convert")]:
    y = df[f"y_{kind}"]
    model = xgb.XGBClassifier(n_estimators=300, max_depth=4, learning_rate=0.05, subsample=0.8, tree_method="hist")
    model.fit(X[train], y[train])
    auc = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])
    ceiling = roc_auc_score(y[test], df.loc[test, p])
    print(f"{kind}: train {int(train.sum())} test {int(test.sum())} positives {int(y.sum())}: "
          f"GBDT AUC {auc:.3f}, true-probability AUC {ceiling:.3f}")
