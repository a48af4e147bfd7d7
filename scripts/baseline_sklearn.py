#!/usr/bin/env python3
"""scikit-learn baseline on exactly the split our trainer uses.

    node scripts/export-split.ts --out tmp/split      # writes tmp/split/{train,test}.jsonl
    scripts/baseline_sklearn.sh tmp/split             # creates .venv if needed, runs this file

Fits TfidfVectorizer + LogisticRegression on train.jsonl and prints, as JSON, the metrics of the
positive label on test.jsonl: full texts, subject lines alone (empty subjects dropped) and first body
lines. Three configurations: "default" (library defaults; max_iter raised so that it converges),
"tuned" (word 1-2-grams, sublinear TF, min_df=2, C=10) so that the comparison is not only against
defaults, and "tuned_augmented" (tuned, plus each training e-mail's subject and first body line as extra
training rows, as our trainer does). "holdout_subject_only_unseen" keeps only held-out subjects that
no training e-mail has verbatim. Probabilities are LogisticRegression.predict_proba; hard predictions use threshold 0.5.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, brier_score_loss, f1_score, log_loss,
                             precision_score, recall_score, roc_auc_score)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def metrics(y_true, proba, positive):
    y = np.array([1 if t == positive else 0 for t in y_true])
    pred = (proba >= 0.5).astype(int)
    return {
        "n": int(len(y)),
        "positive_label": positive,
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba)) if 0 < y.sum() < len(y) else None,
        "log_loss": float(log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(brier_score_loss(y, proba)),
    }


def main():
    split_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "tmp/split")
    train = read_jsonl(split_dir / "train.jsonl")
    test = read_jsonl(split_dir / "test.jsonl")
    labels = sorted({r["label"] for r in train})
    positive = "spam" if "spam" in labels else labels[-1]

    configs = {
        "default": (TfidfVectorizer(), LogisticRegression(max_iter=1000), False),
        "tuned": (TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                  LogisticRegression(C=10, max_iter=1000), False),
        # the same short-message augmentation our trainer uses: each training e-mail's subject and
        # first body line as extra rows with the e-mail's label
        "tuned_augmented": (TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                            LogisticRegression(C=10, max_iter=1000), True),
    }
    train_subjects = {r["subject"] for r in train if r.get("subject", "").strip()}
    views = {
        "holdout": [(r["text"], r["label"]) for r in test],
        "holdout_subject_only": [(r["subject"], r["label"]) for r in test if r.get("subject", "").strip()],
        "holdout_subject_only_unseen": [(r["subject"], r["label"]) for r in test
                                        if r.get("subject", "").strip() and r["subject"] not in train_subjects],
        "holdout_first_line": [(r["first_line"], r["label"]) for r in test if r.get("first_line", "").strip()],
    }
    out = {"train_rows": len(train), "test_rows": len(test), "positive_label": positive}
    for name, (vec, clf, augment) in configs.items():
        rows = [(r["text"], r["label"]) for r in train]
        if augment:
            for r in train:
                subject = r.get("subject", "").strip()
                line = r.get("first_line", "")
                if subject:
                    rows.append((subject, r["label"]))
                if line and line != subject:
                    rows.append((line, r["label"]))
        t0 = time.perf_counter()
        X = vec.fit_transform([t for t, _ in rows])
        clf.fit(X, [l for _, l in rows])
        fit_s = time.perf_counter() - t0
        pos_col = list(clf.classes_).index(positive)
        res = {"fit_seconds": round(fit_s, 3)}
        for view, rows in views.items():
            if not rows:
                continue
            proba = clf.predict_proba(vec.transform([t for t, _ in rows]))[:, pos_col]
            res[view] = metrics([l for _, l in rows], proba, positive)
        out[name] = res
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
