"""Generates keras_reference.json: Keras 3 (TensorFlow backend) forward outputs, input and
weight gradients of each layer type, loss values, and three optimizer steps on small
models, for Lamina's reference tests. The tests read the JSON; they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_keras_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
import keras
from keras import layers

rng = np.random.default_rng(2026)


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def rand(*shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def layer_case(name, layer, x, training=False):
    """Sets random weights, runs forward, and takes d(sum(out * probe))/d(input, weights)."""
    layer.build(x.shape)
    weights = [rand(*w.shape, scale=0.5) for w in layer.weights]
    for i, w in enumerate(layer.weights):
        if "moving_variance" in w.path:
            weights[i] = np.abs(weights[i]) + 0.5   # moving variance must be positive
    layer.set_weights(weights)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=training)
        probe = tf.constant(rand(*out.shape))
        objective = tf.reduce_sum(out * probe)
    grads = tape.gradient(objective, [xt] + layer.trainable_weights)
    return {"name": name, "training": training, "input": arr(x), "weights": [arr(w) for w in weights],
            "output": arr(out.numpy()), "probe": arr(probe.numpy()), "gradInput": arr(grads[0].numpy()),
            "gradWeights": [arr(g.numpy()) for g in grads[1:]],
            "weightsAfter": [arr(w.numpy()) for w in layer.weights]}


cases = [
    layer_case("dense", layers.Dense(4, activation="tanh"), rand(3, 5)),
    layer_case("dense_seq", layers.Dense(3, activation="relu"), rand(2, 4, 5)),
    layer_case("conv2d_same_s2", layers.Conv2D(3, (3, 2), strides=(2, 2), padding="same", activation="relu"), rand(2, 7, 6, 2)),
    layer_case("conv2d_valid", layers.Conv2D(4, 3, activation="sigmoid"), rand(2, 6, 5, 3)),
    layer_case("maxpool_overlap", layers.MaxPooling2D((3, 3), strides=(2, 2)), rand(2, 7, 7, 2)),
    layer_case("maxpool_same", layers.MaxPooling2D((2, 2), padding="same"), rand(1, 5, 5, 3)),
    layer_case("avgpool_same", layers.AveragePooling2D((3, 3), strides=(2, 2), padding="same"), rand(2, 6, 5, 2)),
    layer_case("flatten", layers.Flatten(), rand(2, 3, 4, 2)),
    layer_case("batchnorm_train", layers.BatchNormalization(), rand(6, 4), training=True),
    layer_case("batchnorm_infer", layers.BatchNormalization(), rand(6, 4), training=False),
    layer_case("batchnorm_conv_train", layers.BatchNormalization(momentum=0.9), rand(3, 4, 4, 2), training=True),
    layer_case("simple_rnn", layers.SimpleRNN(4), rand(2, 5, 3)),
    layer_case("simple_rnn_seq", layers.SimpleRNN(3, return_sequences=True), rand(2, 4, 3)),
    layer_case("lstm", layers.LSTM(4), rand(2, 5, 3)),
    layer_case("lstm_seq", layers.LSTM(3, return_sequences=True), rand(2, 4, 2)),
    layer_case("leaky_relu", layers.LeakyReLU(), rand(3, 4)),
    layer_case("leaky_relu_02", layers.LeakyReLU(negative_slope=0.2), rand(3, 4)),
    layer_case("reshape", layers.Reshape((4, 3)), rand(2, 12)),
    layer_case("upsampling", layers.UpSampling2D((2, 3)), rand(1, 2, 3, 2)),
]
for act in ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "gelu", "swish"]:
    cases.append(layer_case("activation_" + act, layers.Activation(act), rand(3, 5, scale=2.0)))
cases.append(layer_case("activation_leaky_relu", layers.Activation("leaky_relu"), rand(3, 5, scale=2.0)))
cases += [
    layer_case("global_average_pooling2d", layers.GlobalAveragePooling2D(), rand(2, 3, 4, 3)),
    layer_case("global_average_pooling2d_keepdims", layers.GlobalAveragePooling2D(keepdims=True), rand(2, 3, 4, 3)),
    layer_case("global_max_pooling2d", layers.GlobalMaxPooling2D(), rand(2, 3, 4, 3)),
    layer_case("repeat_vector", layers.RepeatVector(3), rand(2, 4)),
    layer_case("rescaling", layers.Rescaling(1.0 / 255, offset=-0.5), rand(2, 3, 3, 2, scale=100.0)),
    layer_case("zero_padding2d", layers.ZeroPadding2D(((1, 2), (0, 1))), rand(2, 3, 4, 2)),
    layer_case("cropping2d", layers.Cropping2D(((1, 0), (2, 1))), rand(2, 4, 5, 2)),
    layer_case("conv1d_valid", layers.Conv1D(3, 3, activation="relu"), rand(2, 7, 2)),
    layer_case("conv1d_same_s2", layers.Conv1D(4, 2, strides=2, padding="same"), rand(2, 7, 3)),
    layer_case("maxpool1d", layers.MaxPooling1D(2), rand(2, 7, 3)),
    layer_case("avgpool1d_same", layers.AveragePooling1D(3, strides=2, padding="same"), rand(2, 6, 2)),
    layer_case("global_average_pooling1d", layers.GlobalAveragePooling1D(), rand(2, 5, 3)),
    layer_case("global_max_pooling1d", layers.GlobalMaxPooling1D(), rand(2, 5, 3)),
    layer_case("layer_norm", layers.LayerNormalization(), rand(3, 5, scale=2.0)),
    layer_case("layer_norm_seq", layers.LayerNormalization(epsilon=1e-5, center=False), rand(2, 3, 4)),
    layer_case("conv2d_transpose_same_s2", layers.Conv2DTranspose(3, (3, 3), strides=(2, 2), padding="same", activation="relu"),
               rand(2, 3, 4, 2)),
    layer_case("conv2d_transpose_valid", layers.Conv2DTranspose(2, (3, 1), strides=(2, 2)), rand(2, 3, 3, 3)),
    layer_case("conv2d_transpose_same_s1", layers.Conv2DTranspose(2, (2, 3), padding="same", use_bias=False), rand(1, 4, 3, 2)),
    layer_case("conv2d_dilated", layers.Conv2D(3, 3, dilation_rate=2, padding="same"), rand(2, 7, 6, 2)),
    layer_case("conv2d_dilated_valid", layers.Conv2D(2, (2, 3), dilation_rate=(3, 1), activation="tanh"), rand(2, 7, 6, 2)),
    layer_case("conv1d_dilated", layers.Conv1D(2, 3, dilation_rate=2), rand(2, 9, 3)),
    layer_case("gru", layers.GRU(4), rand(2, 5, 3)),
    layer_case("gru_seq", layers.GRU(3, return_sequences=True), rand(2, 4, 2)),
    layer_case("gru_reset_before", layers.GRU(3, reset_after=False), rand(2, 4, 3)),
    layer_case("gru_backwards_seq", layers.GRU(2, go_backwards=True, return_sequences=True), rand(2, 4, 3)),
    layer_case("lstm_backwards_seq", layers.LSTM(3, go_backwards=True, return_sequences=True), rand(2, 4, 2)),
    layer_case("simple_rnn_backwards", layers.SimpleRNN(3, go_backwards=True), rand(2, 5, 2)),
    layer_case("bidirectional_lstm_concat", layers.Bidirectional(layers.LSTM(3, return_sequences=True)), rand(2, 4, 3)),
    layer_case("bidirectional_gru_sum", layers.Bidirectional(layers.GRU(2), merge_mode="sum"), rand(2, 5, 3)),
    layer_case("bidirectional_rnn_ave_seq", layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), merge_mode="ave"),
               rand(2, 3, 2)),
    layer_case("bidirectional_lstm_mul", layers.Bidirectional(layers.LSTM(2), merge_mode="mul"), rand(2, 4, 2)),
]


def embedding_case(name, layer, indices):
    """Embedding takes integers: no input gradient (zeros in the fixture), weight gradient only."""
    layer.build(indices.shape)
    weights = [rand(*w.shape, scale=0.5) for w in layer.weights]
    layer.set_weights(weights)
    with tf.GradientTape() as tape:
        out = layer(tf.constant(indices))
        probe = tf.constant(rand(*out.shape))
        objective = tf.reduce_sum(out * probe)
    grads = tape.gradient(objective, layer.trainable_weights)
    grads = [tf.convert_to_tensor(g) for g in grads]  # IndexedSlices to dense
    return {"name": name, "training": False, "input": arr(indices), "weights": [arr(w) for w in weights],
            "output": arr(out.numpy()), "probe": arr(probe.numpy()), "gradInput": arr(np.zeros(indices.shape)),
            "gradWeights": [arr(g.numpy()) for g in grads], "weightsAfter": [arr(w.numpy()) for w in layer.weights]}


cases.append(embedding_case("embedding", layers.Embedding(7, 3), np.array([[0, 3, 6, 3], [1, 1, 5, 0]], dtype=np.int32)))

# Losses.
p = rng.uniform(0.02, 0.98, size=(4, 3)).astype(np.float32)
probs = rng.uniform(0.05, 1.0, size=(4, 5)).astype(np.float32)
probs /= probs.sum(axis=1, keepdims=True)
logits = rand(4, 5, scale=2.0)
onehot = np.eye(5, dtype=np.float32)[[0, 3, 4, 1]]
sparse = np.array([0, 3, 4, 1], dtype=np.int32)
target = rand(4, 3)
binary = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float32)
loss_cases = []
for name, loss, yt, yp in [
    ("mean_squared_error", keras.losses.MeanSquaredError(), target, rand(4, 3)),
    ("mean_absolute_error", keras.losses.MeanAbsoluteError(), target, rand(4, 3)),
    ("huber", keras.losses.Huber(), target, rand(4, 3, scale=2.0)),
    ("binary_crossentropy", keras.losses.BinaryCrossentropy(), binary, p),
    ("binary_crossentropy_logits", keras.losses.BinaryCrossentropy(from_logits=True), binary, rand(4, 3, scale=3.0)),
    ("categorical_crossentropy", keras.losses.CategoricalCrossentropy(), onehot, probs),
    ("categorical_crossentropy_logits", keras.losses.CategoricalCrossentropy(from_logits=True), onehot, logits),
    ("sparse_categorical_crossentropy", keras.losses.SparseCategoricalCrossentropy(), sparse, probs),
    ("sparse_categorical_crossentropy_logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True), sparse, logits),
    ("kl_divergence", keras.losses.KLDivergence(), probs[::-1].copy(), probs),
    ("hinge", keras.losses.Hinge(), binary, rand(4, 3)),
    ("squared_hinge", keras.losses.SquaredHinge(), binary, rand(4, 3)),
    ("categorical_hinge", keras.losses.CategoricalHinge(), onehot, rand(4, 5)),
    ("log_cosh", keras.losses.LogCosh(), target, rand(4, 3, scale=3.0)),
    ("poisson", keras.losses.Poisson(), np.abs(target), p),
    ("cosine_similarity", keras.losses.CosineSimilarity(), target, rand(4, 3)),
    ("binary_focal_crossentropy", keras.losses.BinaryFocalCrossentropy(), binary, p),
]:
    loss_cases.append({"name": name, "yTrue": arr(yt), "yPred": arr(yp), "loss": float(loss(yt, yp).numpy())})


# Three optimizer steps on small models.
def train_case(name, build, x, y, loss, optimizer, sample_weight=None, class_weight=None):
    keras.utils.set_random_seed(7)
    model = build()
    model.build((None,) + x.shape[1:])
    initial = [rand(*w.shape, scale=0.4) for w in model.weights]
    for i, w in enumerate(model.weights):
        if "moving_variance" in w.path:
            initial[i] = np.abs(initial[i]) + 0.5
    model.set_weights(initial)
    model.compile(optimizer=optimizer, loss=loss)
    losses = [float(model.train_on_batch(x, y, sample_weight=sample_weight, class_weight=class_weight)) for _ in range(3)]
    case = {"name": name, "x": arr(x), "y": arr(y), "initial": [arr(w) for w in initial],
            "losses": losses, "final": [arr(w) for w in model.get_weights()]}
    if sample_weight is not None:
        case["sampleWeight"] = arr(sample_weight)
    if class_weight is not None:
        case["classWeight"] = {str(k): v for k, v in class_weight.items()}
    return case


xd, yd = rand(8, 5), rand(8, 2)
xi, yi = rand(6, 6, 6, 1), np.array([0, 1, 2, 1, 0, 2], dtype=np.int32)
xs, ys = rand(4, 5, 3), np.array([1, 0, 1, 1], dtype=np.float32).reshape(4, 1)
train_cases = []
for opt_name, make_opt in [("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
                           ("sgd_nesterov", lambda: keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True)),
                           ("adam", lambda: keras.optimizers.Adam(0.01)),
                           ("nadam", lambda: keras.optimizers.Nadam(0.01)),
                           ("adamax", lambda: keras.optimizers.Adamax(0.02)),
                           ("adadelta", lambda: keras.optimizers.Adadelta(1.0)),
                           ("lion", lambda: keras.optimizers.Lion(0.003))]:
    train_cases.append(train_case("dense_" + opt_name, lambda: keras.Sequential(
        [layers.Dense(4, activation="relu"), layers.Dense(2)]), xd, yd, "mse", make_opt()))
    train_cases.append(train_case("conv_bn_" + opt_name, lambda: keras.Sequential(
        [layers.Conv2D(2, 3, activation="relu"), layers.BatchNormalization(), layers.MaxPooling2D(),
         layers.Flatten(), layers.Dense(3, activation="softmax")]), xi, yi, "sparse_categorical_crossentropy", make_opt()))
    train_cases.append(train_case("lstm_" + opt_name, lambda: keras.Sequential(
        [layers.LSTM(3), layers.Dense(1, activation="sigmoid")]), xs, ys, "binary_crossentropy", make_opt()))
    train_cases.append(train_case("rnn_bn_" + opt_name, lambda: keras.Sequential(
        [layers.SimpleRNN(4), layers.BatchNormalization(), layers.Dense(1, activation="sigmoid")]), xs, ys,
        "binary_crossentropy", make_opt()))

# Regularized weights: the loss Keras reports and minimizes includes the penalties.
R = keras.regularizers
for opt_name, make_opt in [("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
                           ("adam", lambda: keras.optimizers.Adam(0.01))]:
    train_cases.append(train_case("regularized_" + opt_name, lambda: keras.Sequential(
        [layers.Dense(4, activation="relu", kernel_regularizer=R.L2(0.05), bias_regularizer=R.L1(0.02)),
         layers.Dense(2, kernel_regularizer=R.L1L2(l1=0.01, l2=0.03))]), xd, yd, "mse", make_opt()))

# The new layers in training: transposed and dilated convolutions, a regularized bidirectional GRU.
for opt_name, make_opt in [("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
                           ("adam", lambda: keras.optimizers.Adam(0.01))]:
    train_cases.append(train_case("deconv_dilated_" + opt_name, lambda: keras.Sequential(
        [layers.Conv2DTranspose(2, 3, strides=2, padding="same", activation="relu"), layers.Conv2D(1, 3, dilation_rate=2),
         layers.Flatten(), layers.Dense(3, activation="softmax")]), xi, yi, "sparse_categorical_crossentropy", make_opt()))
    train_cases.append(train_case("bigru_regularized_" + opt_name, lambda: keras.Sequential(
        [layers.Bidirectional(layers.GRU(3, return_sequences=True, recurrent_regularizer=R.L2(0.05), kernel_regularizer=R.L1(0.01))),
         layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")]), xs, ys, "binary_crossentropy", make_opt()))

# Sample and class weights (train_on_batch's sample_weight and class_weight).
train_cases.append(train_case("dense_weighted_adam", lambda: keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)]),
                              xd, yd, "mse", keras.optimizers.Adam(0.01),
                              sample_weight=rng.uniform(0.2, 2.0, size=8).astype(np.float32)))
train_cases.append(train_case("conv_bn_classweighted_sgd_momentum", lambda: keras.Sequential(
    [layers.Conv2D(2, 3, activation="relu"), layers.BatchNormalization(), layers.MaxPooling2D(),
     layers.Flatten(), layers.Dense(3, activation="softmax")]), xi, yi, "sparse_categorical_crossentropy",
    keras.optimizers.SGD(0.1, momentum=0.9), class_weight={0: 1.0, 1: 3.0, 2: 0.5}))

# Parameter counts of the tutorial models.
def count(model):
    return {"total": model.count_params(), "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights))}

counts = {
    "mlp": count(keras.Sequential([keras.Input((784,)), layers.Dense(512, activation="relu"), layers.Dropout(0.2),
                                   layers.Dense(512, activation="relu"), layers.Dropout(0.2), layers.Dense(10, activation="softmax")])),
    "mnist_convnet": count(keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"),
                                             layers.MaxPooling2D((2, 2)), layers.Conv2D(64, (3, 3), activation="relu"),
                                             layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dropout(0.5),
                                             layers.Dense(10, activation="softmax")])),
    "lstm_classifier": count(keras.Sequential([keras.Input((28, 28)), layers.LSTM(128), layers.Dense(10, activation="softmax")])),
    "imdb_embedding_gap": count(keras.Sequential([keras.Input((200,)), layers.Embedding(10000, 16), layers.GlobalAveragePooling1D(),
                                                  layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")])),
    "text_conv1d": count(keras.Sequential([keras.Input((100,)), layers.Embedding(5000, 32), layers.Conv1D(64, 5, activation="relu"),
                                           layers.MaxPooling1D(2), layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])),
    "dcgan_generator": count(keras.Sequential([keras.Input((100,)), layers.Dense(7 * 7 * 256, use_bias=False),
                                               layers.BatchNormalization(), layers.LeakyReLU(), layers.Reshape((7, 7, 256)),
                                               layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
                                               layers.BatchNormalization(), layers.LeakyReLU(),
                                               layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
                                               layers.BatchNormalization(), layers.LeakyReLU(),
                                               layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False,
                                                                      activation="tanh")])),
    "bidirectional_lstm_classifier": count(keras.Sequential([keras.Input((200,)), layers.Embedding(20000, 128),
                                                            layers.Bidirectional(layers.LSTM(64, return_sequences=True)),
                                                            layers.Bidirectional(layers.LSTM(64)), layers.Dense(1, activation="sigmoid")])),
    "gru_text": count(keras.Sequential([keras.Input((80,)), layers.Embedding(1000, 32), layers.GRU(32, return_sequences=True),
                                        layers.GRU(16), layers.Dense(1, activation="sigmoid")])),
    "gan_generator": count(keras.Sequential([keras.Input((100,)), layers.Dense(7 * 7 * 128, use_bias=False),
                                             layers.BatchNormalization(), layers.LeakyReLU(), layers.Reshape((7, 7, 128)),
                                             layers.UpSampling2D(), layers.Conv2D(64, (5, 5), padding="same", use_bias=False),
                                             layers.BatchNormalization(), layers.LeakyReLU(), layers.UpSampling2D(),
                                             layers.Conv2D(1, (5, 5), padding="same", activation="tanh")])),
}

# Metrics on one batch (the result after update_state).
metric_preds = rand(6, 5)
metric_preds[2, 1] = metric_preds[2, 3]  # a tie
metric_sparse = np.array([1, 4, 3, 0, 2, 2], dtype=np.int32)
metric_onehot = np.eye(5, dtype=np.float32)[metric_sparse]
metric_cases = []
for name, metric, yt in [
    ("top_k_categorical_accuracy_k2", keras.metrics.TopKCategoricalAccuracy(k=2), metric_onehot),
    ("top_k_categorical_accuracy_k3", keras.metrics.TopKCategoricalAccuracy(k=3), metric_onehot),
    ("sparse_top_k_categorical_accuracy_k2", keras.metrics.SparseTopKCategoricalAccuracy(k=2), metric_sparse),
    ("sparse_top_k_categorical_accuracy_k1", keras.metrics.SparseTopKCategoricalAccuracy(k=1), metric_sparse),
]:
    metric.update_state(yt, metric_preds)
    metric_cases.append({"name": name, "yTrue": arr(yt), "yPred": arr(metric_preds), "value": float(metric.result().numpy())})

# Curve and F-score metrics, accumulated over two batches.
binary_truth = (rng.uniform(size=(24, 1)) > 0.4).astype(np.float32)
binary_scores = np.clip(binary_truth * 0.3 + rng.uniform(size=(24, 1)) * 0.7, 0, 1).astype(np.float32)
binary_scores[3, 0] = binary_scores[5, 0]   # a tie
class_truth = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 20)]
class_scores = rng.uniform(size=(20, 4)).astype(np.float32)
class_scores[2] = [0.5, 0.5, 0.1, 0.2]     # a tie for the largest
for name, metric, yt, yp in [
    ("auc_roc", keras.metrics.AUC(), binary_truth, binary_scores),
    ("auc_pr", keras.metrics.AUC(curve="PR"), binary_truth, binary_scores),
    ("auc_roc_minoring_50", keras.metrics.AUC(num_thresholds=50, summation_method="minoring"), binary_truth, binary_scores),
    ("auc_pr_majoring", keras.metrics.AUC(curve="PR", summation_method="majoring"), binary_truth, binary_scores),
    ("f1_macro", keras.metrics.F1Score(average="macro"), class_truth, class_scores),
    ("f1_micro", keras.metrics.F1Score(average="micro"), class_truth, class_scores),
    ("f1_weighted_threshold", keras.metrics.F1Score(average="weighted", threshold=0.6), class_truth, class_scores),
    ("fbeta2_macro", keras.metrics.FBetaScore(average="macro", beta=2.0), class_truth, class_scores),
]:
    half = len(yt) // 2
    metric.update_state(yt[:half], yp[:half])
    metric.update_state(yt[half:], yp[half:])
    metric_cases.append({"name": name, "yTrue": arr(yt), "yPred": arr(yp), "value": float(metric.result().numpy())})
f1_none = keras.metrics.F1Score()
f1_none.update_state(class_truth, class_scores)
metric_cases.append({"name": "f1_per_class", "yTrue": arr(class_truth), "yPred": arr(class_scores),
                     "value": float(np.mean(f1_none.result().numpy())), "perClass": f1_none.result().numpy().tolist()})

# Learning-rate schedules at a few steps (their configs are what Lamina reads back).
S = keras.optimizers.schedules
schedule_steps = [0, 1, 5, 10, 37, 100, 150, 250]
schedule_cases = []
for name, schedule in [
    ("inverse_time", S.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)),
    ("inverse_time_staircase", S.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)),
    ("polynomial", S.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=2.0)),
    ("polynomial_cycle", S.PolynomialDecay(0.1, decay_steps=40, end_learning_rate=0.001, power=1.0, cycle=True)),
    ("cosine", S.CosineDecay(0.1, decay_steps=100, alpha=0.1)),
    ("cosine_warmup", S.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=20)),
]:
    schedule_cases.append({"name": name, "config": keras.optimizers.schedules.serialize(schedule),
                           "steps": schedule_steps, "values": [float(schedule(s)) for s in schedule_steps]})

# Normalization.adapt: Keras's statistics and outputs (per feature, per channel of images, and one for all).
normalization_cases = []
for name, layer, data in [("normalization_features", layers.Normalization(), rand(30, 4, scale=3.0) + 2),
                          ("normalization_channels", layers.Normalization(axis=-1), rand(6, 3, 2, 3) * 5 - 1),
                          ("normalization_all", layers.Normalization(axis=None), rand(10, 5) + 7)]:
    layer.adapt(data)
    x = rand(*((3,) + data.shape[1:]), scale=4.0)
    normalization_cases.append({"name": name, "data": arr(data), "input": arr(x), "output": arr(layer(x).numpy()),
                                "mean": arr(np.asarray(layer.adapt_mean)), "variance": arr(np.asarray(layer.adapt_variance))})

# Affine augmentations at fixed factors (lower == upper), so Keras's random draw is known.
augmentation_images = rng.uniform(0, 255, size=(2, 7, 6, 2)).astype(np.float32)
augmentation_cases = []
for name, layer in [
    ("rotation_reflect", layers.RandomRotation((0.1, 0.1))),
    ("rotation_wrap_nearest", layers.RandomRotation((-0.3, -0.3), fill_mode="wrap", interpolation="nearest")),
    ("rotation_constant", layers.RandomRotation((0.2, 0.2), fill_mode="constant", fill_value=17.0)),
    ("rotation_nearest_fill", layers.RandomRotation((0.45, 0.45), fill_mode="nearest")),
    ("translation_reflect", layers.RandomTranslation((0.2, 0.2), (-0.3, -0.3))),
    ("translation_constant", layers.RandomTranslation((-0.35, -0.35), (0.25, 0.25), fill_mode="constant")),
    ("zoom_in_out", layers.RandomZoom((-0.25, -0.25), (0.3, 0.3))),
    ("zoom_wrap", layers.RandomZoom((0.4, 0.4), fill_mode="wrap")),
]:
    augmentation_cases.append({"name": name, "input": arr(augmentation_images),
                               "output": arr(layer(augmentation_images, training=True).numpy())})

# keras.utils.pad_sequences.
sequences = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], [], [11]]
pad_cases = []
for options in [{}, {"maxlen": 3}, {"maxlen": 4, "padding": "post"}, {"maxlen": 2, "truncating": "post"},
                {"maxlen": 6, "padding": "post", "truncating": "post", "value": -1}]:
    pad_cases.append({"options": options, "sequences": sequences,
                      "output": keras.utils.pad_sequences(sequences, **options).tolist()})

# Newer layers, drawn from their own generator so that the cases above keep their values.
rng = np.random.default_rng(31)
from keras.src.applications.convnext import LayerScale
for act in ["relu6", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "exponential", "silu", "log_softmax"]:
    cases.append(layer_case("activation_" + act, layers.Activation(act), rand(3, 5, scale=2.5)))
cases += [
    layer_case("dense_mish", layers.Dense(3, activation="mish"), rand(2, 4)),
    layer_case("conv2d_hard_silu", layers.Conv2D(2, 3, activation="hard_silu"), rand(2, 5, 5, 2, scale=2.0)),
    layer_case("relu_layer", layers.ReLU(), rand(3, 5, scale=2.0)),
    layer_case("relu_layer_max", layers.ReLU(max_value=1.5), rand(3, 5, scale=2.0)),
    layer_case("relu_layer_slope", layers.ReLU(negative_slope=0.1), rand(3, 5, scale=2.0)),
    layer_case("relu_layer_all", layers.ReLU(max_value=2.0, negative_slope=0.3, threshold=0.5), rand(3, 6, scale=2.0)),
    layer_case("depthwise_valid", layers.DepthwiseConv2D(3), rand(2, 6, 5, 3)),
    layer_case("depthwise_same_s2_mult2", layers.DepthwiseConv2D((3, 2), strides=2, padding="same", depth_multiplier=2, activation="relu"),
               rand(2, 7, 6, 3)),
    layer_case("depthwise_even_same_s2", layers.DepthwiseConv2D(4, strides=2, padding="same", activation="hard_silu"), rand(2, 8, 7, 4)),
    layer_case("depthwise_dilated_nobias", layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", use_bias=False), rand(2, 7, 7, 2)),
    layer_case("depthwise_stride_dilation", layers.DepthwiseConv2D(3, strides=2, dilation_rate=2, padding="same", depth_multiplier=3),
               rand(1, 9, 8, 2)),
    layer_case("separable_valid", layers.SeparableConv2D(4, 3), rand(2, 6, 5, 3)),
    layer_case("separable_same_s2_mult2", layers.SeparableConv2D(3, (3, 2), strides=2, padding="same", depth_multiplier=2, activation="relu6"),
               rand(2, 7, 6, 2)),
    layer_case("separable_dilated_nobias", layers.SeparableConv2D(2, 3, dilation_rate=2, use_bias=False), rand(1, 7, 7, 3)),
    layer_case("batchnorm_no_center_train", layers.BatchNormalization(center=False), rand(6, 4), training=True),
    layer_case("batchnorm_no_scale_infer", layers.BatchNormalization(scale=False), rand(6, 4), training=False),
    layer_case("batchnorm_plain_conv_train", layers.BatchNormalization(center=False, scale=False), rand(3, 3, 3, 2), training=True),
    layer_case("layer_scale", LayerScale(1e-6, 4), rand(2, 3, 3, 4)),
]


def merge_case(name, layer, xs):
    """A merge layer on several inputs: forward, and d(sum(out * probe))/d(each input)."""
    ts = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        out = layer(ts)
        probe = tf.constant(rand(*out.shape))
        objective = tf.reduce_sum(out * probe)
    grads = tape.gradient(objective, ts)
    return {"name": name, "inputs": [arr(x) for x in xs], "output": arr(out.numpy()), "probe": arr(probe.numpy()),
            "gradInputs": [arr(g.numpy()) for g in grads]}


merge_cases = []
for cls in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]:
    make = getattr(layers, cls)
    if cls != "Subtract":
        merge_cases.append(merge_case(cls.lower() + "_3", make(), [rand(2, 3, 4) for _ in range(3)]))
    merge_cases.append(merge_case(cls.lower() + "_broadcast", make(), [rand(2, 1, 4), rand(2, 3, 4)]))
    merge_cases.append(merge_case(cls.lower() + "_rank", make(), [rand(2, 3, 4), rand(2, 4)]))
merge_cases += [
    merge_case("subtract", layers.Subtract(), [rand(2, 5), rand(2, 5)]),
    merge_case("concatenate", layers.Concatenate(), [rand(2, 3, 2), rand(2, 3, 4)]),
    merge_case("concatenate_axis1", layers.Concatenate(axis=1), [rand(2, 2, 3), rand(2, 4, 3), rand(2, 1, 3)]),
    merge_case("dot_2d", layers.Dot(axes=1), [rand(3, 4), rand(3, 4)]),
    merge_case("dot_2d_normalize", layers.Dot(axes=1, normalize=True), [rand(3, 4), rand(3, 4)]),
    merge_case("dot_3d_22", layers.Dot(axes=(2, 2)), [rand(2, 3, 4), rand(2, 5, 4)]),
    merge_case("dot_3d_11", layers.Dot(axes=1), [rand(2, 4, 3), rand(2, 4, 5)]),
    merge_case("dot_3d_12", layers.Dot(axes=(1, 2)), [rand(2, 4, 3), rand(2, 5, 4)]),
    merge_case("dot_3d_2d", layers.Dot(axes=(2, 1)), [rand(2, 3, 4), rand(2, 4)]),
    merge_case("dot_2d_3d", layers.Dot(axes=(1, 2)), [rand(2, 4), rand(2, 3, 4)]),
    merge_case("dot_3d_normalize", layers.Dot(axes=-1, normalize=True), [rand(2, 3, 4), rand(2, 5, 4)]),
]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference.json"), "w") as f:
    json.dump({"merges": merge_cases, "keras": keras.__version__, "tensorflow": tf.__version__, "layers": cases, "losses": loss_cases,
               "training": train_cases, "paramCounts": counts, "schedules": schedule_cases,
               "metrics": metric_cases, "normalization": normalization_cases, "augmentation": augmentation_cases, "padSequences": pad_cases}, f)
print(len(cases), "layer cases,", len(merge_cases), "merge cases,", len(loss_cases), "losses,", len(train_cases), "training cases")
