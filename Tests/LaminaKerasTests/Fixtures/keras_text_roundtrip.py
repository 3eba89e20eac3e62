"""Keras side of TextVectorizationKerasTests: for each case named on the command line, loads
Lamina's <name>.keras, vectorizes and predicts the texts in texts.json, then builds the same
architecture in Keras, adapts it on the texts, saves <name>_keras.keras (vocabulary in Keras's
assets) and records its predictions. Writes result.json. Exit status 77: no Keras here."""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
try:
    import numpy as np
    import keras
    import tensorflow as tf
    from keras import layers
except ImportError:
    sys.exit(77)

directory, names = sys.argv[1], sys.argv[2:]
with open(os.path.join(directory, "texts.json")) as f:
    texts = json.load(f)
batch = tf.constant(texts)[:, None]   # Keras's predict refuses NumPy string arrays


def keras_model(name):
    keras.utils.set_random_seed(5)
    inp = keras.Input(shape=(1,), dtype="string", name="text")
    if name == "int":
        tv = layers.TextVectorization(max_tokens=30, output_sequence_length=6, name="tv")
        tv.adapt(np.array(texts))
        x = layers.Embedding(30, 4, name="emb")(tv(inp))
        x = layers.GlobalAveragePooling1D(name="gap")(x)
    elif name == "multi_hot":
        tv = layers.TextVectorization(output_mode="multi_hot", ngrams=2, name="tv")
        tv.adapt(np.array(texts))
        x = tv(inp)
    else:
        tv = layers.TextVectorization(output_mode="tf_idf", max_tokens=20, pad_to_max_tokens=True, name="tv")
        tv.adapt(np.array(texts))
        x = tv(inp)
    return keras.Model(inp, layers.Dense(2, name="out")(x)), tv


result = {"keras": keras.__version__}
for name in names:
    model = keras.models.load_model(os.path.join(directory, f"{name}.keras"))
    tv = model.get_layer("tv")
    entry = {"prediction": np.asarray(model.predict(batch, verbose=0), dtype=np.float64).ravel().tolist(),
             "vectorized": np.asarray(tv(batch), dtype=np.float64).ravel().tolist(),
             "vocabulary": tv.get_vocabulary()}
    theirs, their_tv = keras_model(name)
    theirs.save(os.path.join(directory, f"{name}_keras.keras"))
    entry["keras_prediction"] = np.asarray(theirs.predict(batch, verbose=0), dtype=np.float64).ravel().tolist()
    entry["keras_vocabulary"] = their_tv.get_vocabulary()
    result[name] = entry
with open(os.path.join(directory, "result.json"), "w") as f:
    json.dump(result, f, ensure_ascii=False)
