"""The .keras round trips of a masked MultiHeadAttention model (AttentionKerasTests): Keras
loads Lamina's file and predicts; Keras saves its own model of the same architecture and
predicts, for Lamina to load. Usage: attention_round_trip.py DIR (exit 77 without Keras)."""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
try:
    import numpy as np
    import keras
    from keras import layers
except ImportError:
    sys.exit(77)

d = sys.argv[1]
ids, mask = np.load(os.path.join(d, "ids.npy")).astype(np.int32), np.load(os.path.join(d, "mask.npy")).astype(np.float32)
lamina = keras.saving.load_model(os.path.join(d, "lamina_mha.keras"))
np.save(os.path.join(d, "keras_pred.npy"), np.asarray(lamina.predict([ids, mask], verbose=0), dtype=np.float32))

keras.utils.set_random_seed(5)
i = keras.Input((6,), dtype="int32", name="ids")
m = keras.Input((6, 6), name="mask")
x = layers.Embedding(12, 8, mask_zero=True, name="emb")(i)
a = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x, attention_mask=m, use_causal_mask=True)
x = layers.LayerNormalization(name="ln")(layers.Add(name="res")([x, a]))
# Per-step outputs: a masked GlobalAveragePooling1D would make Keras save its mask as
# NotEqual/LogicalOr operations and a `mask=` keyword, which Lamina does not read yet.
y = layers.Dense(3, activation="softmax", name="probs")(x)
model = keras.Model([i, m], y)
for w in model.weights:
    w.assign(np.random.default_rng(9).normal(size=w.shape).astype(np.float32) * 0.5)
model.save(os.path.join(d, "keras_mha.keras"))
np.save(os.path.join(d, "keras_own_pred.npy"), np.asarray(model.predict([ids, mask], verbose=0), dtype=np.float32))
