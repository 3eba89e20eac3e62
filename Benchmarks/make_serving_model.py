"""Writes the MNIST convnet (Benchmarks' CNN workload: Conv 32, pool, Conv 64, pool, Dense
128, Dense 10) as a Keras 3 .keras file for lamina-serve, and a request body with one MNIST-
sized image, for serve_bench.sh.

    python3 make_serving_model.py OUT_DIR
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from keras import layers

out = sys.argv[1]
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                          layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                          layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
model.save(os.path.join(out, "mnist.keras"))
image = np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).round(4)
with open(os.path.join(out, "request.json"), "w") as f:
    json.dump({"instances": image.tolist()}, f)
