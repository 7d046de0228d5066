"""Self-supervised series features in a scikit-learn Pipeline on ECG5000.

Pretrains `SSLEncoder()` with its defaults (the series recipe, `priormatch.recipes`: TS2Vec's
objective on TS2Vec's dilated conv network, 200 steps of batch 8) on the unlabelled train series,
then an RBF SVM on the frozen features; prints the test accuracy next to the majority-class rate and
the same SVM on the same network at its random initialisation. Needs the UCR package
(`bash scripts/setup.sh`).

    python examples/sklearn_pipeline_ecg5000.py
"""

import time

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from priormatch import SSLEncoder
from priormatch.data import load_ucr
from priormatch.encoders import Conv1dConfig, build_encoder
from priormatch.evaluation import extract_features

torch.set_num_threads(1)
splits = load_ucr("ECG5000")  # train (500, 1, 140), test (4500, 1, 140)
start = time.perf_counter()

pipe = Pipeline([("ssl", SSLEncoder(random_state=0)), ("svm", SVC())])
pipe.fit(splits.train.x, splits.train.y)
accuracy = pipe.score(splits.test.x, splits.test.y)
encoder = pipe.named_steps["ssl"]
print(f"{encoder.method_}, {encoder.steps_} steps of batch {encoder.batch_size_}, embeddings of {encoder.embed_dim_} dims")
majority = np.bincount(splits.test.y).max() / len(splits.test.y)
print(f"test accuracy {accuracy:.3f} (majority class {majority:.3f}), {time.perf_counter() - start:.0f} s")

torch.manual_seed(0)
random_init = build_encoder(encoder.config_.encoder, splits.train.x.shape[1:])
untrained = SVC().fit(extract_features(random_init, splits.train.x), splits.train.y)
print(f"untrained network: test accuracy {untrained.score(extract_features(random_init, splits.test.x), splits.test.y):.3f}")
