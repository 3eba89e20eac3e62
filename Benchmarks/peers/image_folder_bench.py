#!/usr/bin/env python3
"""The image-folder input pipeline of issue 23 in Keras + tf.data, beside lamina-bench's
image_folder workload: one pass over a folder of generated JPEGs (make_image_folder below:
N files of 160×120, 5 classes), decode + resize to 128×128 + a random horizontal flip + scale
to 0…1 + batch 32, with `num_parallel_calls=AUTOTUNE` and `prefetch(AUTOTUNE)`. Prints one JSON
line: samples/s of the pass (after a first warm-up pass that fills the page cache).

    "$VENV"/bin/python Benchmarks/peers/image_folder_bench.py [DIR=/tmp/lamina-image-folder] [N=3000]
"""
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

directory = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lamina-image-folder"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000


def make_image_folder(directory, count):
    """N JPEGs (quality 90) of smooth random color fields with noise, spread over 5 classes."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = os.path.join(directory, f"class_{i % 5}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"img_{i:05d}.jpg")
        if os.path.exists(path):
            continue
        yy, xx = np.mgrid[0:120, 0:160]
        base = rng.uniform(0, 255, size=3)
        field = (base + 60 * np.sin(xx[..., None] / rng.uniform(5, 30)) + 60 * np.cos(yy[..., None] / rng.uniform(5, 30))
                 + rng.normal(0, 12, size=(120, 160, 3)))
        Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).save(path, quality=90)


make_image_folder(directory, count)

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
import keras  # noqa: E402

keras.utils.set_random_seed(1)


def augment(x, y):
    return tf.image.random_flip_left_right(x) / 255.0, y


def one_pass():
    ds = keras.utils.image_dataset_from_directory(directory, image_size=(128, 128), batch_size=None, shuffle=True, seed=1,
                                                  verbose=False)
    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE).batch(32).prefetch(tf.data.AUTOTUNE)
    start = time.perf_counter()
    n = 0
    for x, _ in ds:
        n += int(x.shape[0])
    return n, time.perf_counter() - start


one_pass()  # warm-up: page cache, graph tracing
n, t = one_pass()
print(json.dumps({"workload": "image_folder", "framework": "keras", "keras": keras.__version__, "tensorflow": tf.__version__,
                  "samples": n, "epoch_s": round(t, 3), "samples_per_s": round(n / t, 1)}))
