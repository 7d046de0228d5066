"""PMSN features in a scikit-learn Pipeline on ECG5000 (the acceptance check of the time-series issue).

Pretrains `SSLEncoder(method="pmsn")` with its defaults (conv net, 200 steps of batch 64) on the
unlabelled train series, then an RBF SVM on the frozen features; prints the test accuracy next to
the majority-class rate. Needs the UCR package (`bash scripts/setup.sh`).

    python examples/sklearn_pipeline_ecg5000.py
"""

import time

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from priormatch import SSLEncoder
from priormatch.data import load_ucr

torch.set_num_threads(1)
splits = load_ucr("ECG5000")  # train (500, 1, 140), test (4500, 1, 140)
start = time.perf_counter()

features = SSLEncoder(method="pmsn", random_state=0).fit(splits.train.x).transform(splits.train.x)
print(f"embeddings {features.shape}, all finite: {bool(np.isfinite(features).all())}")

pipe = Pipeline([("ssl", SSLEncoder(method="pmsn", random_state=0)), ("svm", SVC())])
pipe.fit(splits.train.x, splits.train.y)
accuracy = pipe.score(splits.test.x, splits.test.y)
majority = np.bincount(splits.test.y).max() / len(splits.test.y)
print(f"test accuracy {accuracy:.3f} (majority class {majority:.3f}), {time.perf_counter() - start:.0f} s")
