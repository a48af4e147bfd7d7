"""Registers a scikit-learn text pipeline, converted to ONNX, in a real MLflow server, the way a team
does it from a notebook; prints sklearn's own predict_proba for a few texts as JSON (the parity
reference for the Node service).

usage: python register_sklearn.py TRACKING_URI MODEL_NAME [ALIAS]
"""

import json
import sys

import mlflow
import mlflow.onnx
import numpy as np
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from skl2onnx.common.data_types import StringTensorType
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

uri, name = sys.argv[1], sys.argv[2]
alias = sys.argv[3] if len(sys.argv) > 3 else "champion"

spam = [
    "WINNER!! Claim your FREE prize now",
    "Buy cheap meds online, no prescription needed",
    "You have won a lottery, send your bank details",
    "Cheap iPhone deals, click here to buy now",
    "Earn money fast from home, free trial offer",
    "Limited offer: free cash bonus, act now",
    "Congratulations, you are selected for a free cruise",
    "Lowest price viagra, order today",
]
ham = [
    "Are we still on for lunch tomorrow?",
    "The build is green again after the fix",
    "Meeting moved to 3pm, see you there",
    "Can you review my pull request today?",
    "Thanks for the notes from yesterday's call",
    "I will be late, the train is delayed",
    "Here is the report you asked for",
    "Let's discuss the design on Monday",
]
texts = spam + ham
labels = ["spam"] * len(spam) + ["ham"] * len(ham)

pipe = Pipeline([("tfidf", TfidfVectorizer()), ("lr", LogisticRegression(C=10.0))])
pipe.fit(texts, labels)

onx = to_onnx(
    pipe,
    initial_types=[("input", StringTensorType([None, 1]))],
    options={
        TfidfVectorizer: {"tokenexp": r"\b\w\w+\b", "locale": "C.UTF-8"},
        LogisticRegression: {"zipmap": False},
    },
    target_opset={"": 17, "ai.onnx.ml": 3},
)

probe = [
    "Claim your free prize",
    "lunch tomorrow?",
    "free lunch meeting",
    "Réunion déplacée à jeudi",
    "a",
    "BUY NOW cheap cheap cheap",
]
x = np.array(probe, dtype=object).reshape(-1, 1)

mlflow.set_tracking_uri(uri)
mlflow.set_experiment("msg-cls-tests")
with mlflow.start_run():
    info = mlflow.onnx.log_model(
        onx,
        name="model",
        signature=infer_signature(x, {"label": np.array(["spam"]), "probabilities": np.zeros((1, 2), np.float32)}),
        onnx_execution_providers=["CPUExecutionProvider"],
        registered_model_name=name,
    )
client = mlflow.MlflowClient()
version = info.registered_model_version
client.set_registered_model_alias(name, alias, version)

proba = pipe.predict_proba(probe)
print(
    json.dumps(
        {
            "name": name,
            "version": str(version),
            "alias": alias,
            "classes": [str(c) for c in pipe.classes_],
            "texts": probe,
            "proba": proba.tolist(),
        }
    )
)
