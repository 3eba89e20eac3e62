"""Run by KerasWriterTests: Keras 3 loads .keras files that Lamina wrote, predicts, takes one
training step from the saved optimizer state, and saves the result for Lamina to read back.

    python3 keras_reads_lamina.py DIR NAME...   (DIR holds NAME.keras, NAME_x.npy, NAME_y.npy)

Writes NAME_keras_pred.npy, NAME_back.keras and keras_result.json. Exits 77 without Keras.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
try:
    import numpy as np
    import keras
except ImportError:
    sys.exit(77)

directory, names = sys.argv[1], sys.argv[2:]
result = {"keras": keras.__version__}
for name in names:
    model = keras.models.load_model(os.path.join(directory, name + ".keras"))
    x = np.load(os.path.join(directory, name + "_x.npy"))
    y = np.load(os.path.join(directory, name + "_y.npy"))
    np.save(os.path.join(directory, name + "_keras_pred.npy"), model.predict(x, verbose=0))
    loaded_iterations = int(model.optimizer.iterations.numpy())
    logs = model.train_on_batch(x, y, return_dict=True)
    model.save(os.path.join(directory, name + "_back.keras"))
    result[name] = {"logs": {k: float(v) for k, v in logs.items()}, "loadedIterations": loaded_iterations,
                    "optimizer": type(model.optimizer).__name__}
with open(os.path.join(directory, "keras_result.json"), "w") as f:
    json.dump(result, f)
