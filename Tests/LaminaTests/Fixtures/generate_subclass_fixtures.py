"""Generates subclass_reference.json: a Keras 3 (TensorFlow backend) subclassed keras.Model whose
layers sit in attributes (a layer, a list of layers, BatchNormalization, a nested Sequential),
with the head assigned before the nested model but called after it, so that the weight order
(Keras: attribute assignment order) differs from the call order. Records the weights in
model.weights order (names, shapes, values), the inference output, two epochs of fit (SGD,
batches of 4, no shuffling: history and weights after) and evaluate. The tests read the JSON;
they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_subclass_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(11)
rng = np.random.default_rng(2029)
HERE = os.path.dirname(os.path.abspath(__file__))


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


class Net(keras.Model):
    def __init__(self):
        super().__init__(name="net")
        self.stem = layers.Dense(5, activation="relu", name="stem")
        self.blocks = [layers.Dense(4, activation="tanh", name="block_a"), layers.Dense(4, activation="tanh", name="block_b")]
        self.norm = layers.BatchNormalization(name="norm")
        self.head = layers.Dense(3, activation="softmax", name="head")
        self.inner = keras.Sequential([layers.Dense(4, activation="relu", name="inner_dense")], name="inner")

    def call(self, x, training=False):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        h = self.norm(h, training=training)
        return self.head(self.inner(h))


x = rng.normal(size=(12, 6)).astype("float32")
y = (np.arange(12) * 5 % 3).astype("int32")
model = Net()
model(x[:1])
weights = [arr(w.numpy()) for w in model.weights]
names = [w.path for w in model.weights]
output = model.predict(x, verbose=0)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
loss, accuracy = model.evaluate(x, y, batch_size=4, verbose=0)
result = {
    "keras": keras.__version__, "names": names, "weights": weights, "x": arr(x), "y": arr(y), "output": arr(output),
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "weightsAfter": [arr(w.numpy()) for w in model.weights],
    "evaluate": {"loss": float(loss), "accuracy": float(accuracy)},
}
with open(os.path.join(HERE, "subclass_reference.json"), "w") as f:
    json.dump(result, f)
print("wrote subclass_reference.json with", len(names), "weights:", names)
