"""Writes small Keras 3 models as .keras files, with inputs and Keras's predictions in
keras_io.npz, for LaminaKerasTests.

    pip install keras tensorflow numpy && python3 generate_keras_files.py
"""
import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(0)
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(here, exist_ok=True)
rng = np.random.default_rng(0)
io = {}


def finish(name, model, x, y=None, next_step=False, **fit):
    if y is not None:   # train a little so that weights and BatchNorm statistics are not initial
        model.fit(x, y, verbose=0, **fit)
    io[name + "_x"] = x
    io[name + "_y"] = model.predict(x, verbose=0)
    if next_step:
        io[name + "_target"] = y
    model.save(os.path.join(here, name + ".keras"))
    if next_step:   # one more step from the saved optimizer state: Lamina must continue the same way
        io[name + "_next_loss"] = np.array(float(model.train_on_batch(x[:4], y[:4])), dtype=np.float32)
        for i, w in enumerate(model.get_weights()):
            io[f"{name}_next_w{i}"] = w


mlp = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                        layers.Dense(3, activation="softmax")])
mlp.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x = rng.normal(size=(32, 8)).astype("float32")
finish("mlp", mlp, x, rng.integers(0, 3, 32), epochs=2, batch_size=8)

cnn = keras.Sequential([keras.Input((10, 10, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                        layers.BatchNormalization(), layers.MaxPooling2D(),
                        layers.Conv2D(3, (2, 3), strides=(1, 2), kernel_initializer="he_normal"),
                        layers.AveragePooling2D((2, 1)), layers.Flatten(), layers.Dense(4), layers.LeakyReLU(0.2),
                        layers.Dense(1, activation="sigmoid")])
cnn.compile(optimizer="rmsprop", loss="binary_crossentropy")
x = rng.normal(size=(16, 10, 10, 2)).astype("float32")
finish("cnn", cnn, x, rng.integers(0, 2, (16, 1)).astype("float32"), next_step=True, epochs=2, batch_size=4)

rnn = keras.Sequential([keras.Input((6, 3)), layers.SimpleRNN(5, return_sequences=True), layers.LSTM(4),
                        layers.Dense(2)])
rnn.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), loss="mse")
x = rng.normal(size=(12, 6, 3)).astype("float32")
finish("rnn", rnn, x, rng.normal(size=(12, 2)).astype("float32"), next_step=True, epochs=2, batch_size=4)

generator = keras.Sequential([keras.Input((4,)), layers.Dense(12), layers.Reshape((2, 2, 3)), layers.UpSampling2D(),
                              layers.Conv2D(2, 3, padding="same", activation="tanh")], name="generator")
nested = keras.Sequential([keras.Input((4,)), generator, layers.Flatten(), layers.Dense(3), layers.Activation("softmax")])
finish("nested", nested, rng.normal(size=(5, 4)).astype("float32"))   # uncompiled, initial weights

# The second release's layers: dilated and transposed convolutions, a bidirectional GRU, Nadam's state.
modern = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3, dilation_rate=2, padding="same", activation="relu"),
                           layers.Conv2DTranspose(3, 3, strides=2, padding="same"), layers.GlobalAveragePooling2D(),
                           layers.Dense(2)])
modern.compile(optimizer=keras.optimizers.Adam(1e-2, amsgrad=True), loss="mse")
x = rng.normal(size=(8, 8, 8, 1)).astype("float32")
finish("modern", modern, x, rng.normal(size=(8, 2)).astype("float32"), next_step=True, epochs=2, batch_size=4)

# The step checked after loading sees each index once: on TensorFlow, Keras's Adam-family
# optimizers square an embedding's gradient per occurrence (IndexedSlices) where Lamina, like
# Keras on JAX and PyTorch, squares the summed gradient of a repeated index.
text = keras.Sequential([keras.Input((7,)), layers.Embedding(40, 4), layers.Bidirectional(layers.GRU(3, return_sequences=True)),
                         layers.Conv1D(2, 2), layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])
text.compile(optimizer=keras.optimizers.Nadam(5e-3), loss="binary_crossentropy")
x = np.concatenate([rng.permutation(40)[:28].reshape(4, 7), rng.integers(0, 40, (4, 7))]).astype("float32")
finish("text", text, x, rng.integers(0, 2, (8, 1)).astype("float32"), next_step=True, epochs=2, batch_size=4)

grouped = keras.Sequential([keras.Input((8, 8, 2)), layers.Conv2D(2, 3, groups=2)])
grouped.save(os.path.join(here, "grouped.keras"))

np.savez(os.path.join(here, "keras_io.npz"), **io)
print(keras.__version__, {k: v.shape for k, v in io.items()})
