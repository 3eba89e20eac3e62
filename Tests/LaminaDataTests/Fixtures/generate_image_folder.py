"""Writes a small image folder (two classes; PNG RGB, PNG grayscale, PNG RGBA, JPEG of several
sizes) and what Keras's image_dataset_from_directory makes of it (no shuffling, 5×6 bilinear,
RGB and grayscale) into images.npz, for LaminaDataTests.

    pip install pillow keras tensorflow numpy && python3 generate_image_folder.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from PIL import Image
import keras

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "folder")
rng = np.random.default_rng(11)
for cls in ["cats", "dogs"]:
    os.makedirs(os.path.join(root, cls), exist_ok=True)
smooth = lambda h, w, c: (np.add.outer(np.linspace(0, 200, h), np.linspace(0, 55, w))[:, :, None]
                          + rng.integers(0, 30, (h, w, c))).clip(0, 255).astype(np.uint8)
Image.fromarray(smooth(9, 13, 3)).save(os.path.join(root, "cats", "a_rgb.png"))
Image.fromarray(smooth(7, 4, 1)[:, :, 0], mode="L").save(os.path.join(root, "cats", "b_gray.png"))
Image.fromarray(smooth(12, 10, 3)).save(os.path.join(root, "cats", "c_photo.jpg"), quality=90)
Image.fromarray(smooth(5, 6, 4), mode="RGBA").save(os.path.join(root, "dogs", "d_rgba.png"))
Image.fromarray(smooth(16, 8, 3)).save(os.path.join(root, "dogs", "e_photo.jpeg"), quality=75)
Image.fromarray(smooth(3, 3, 1)[:, :, 0], mode="L").save(os.path.join(root, "dogs", "f_gray.jpg"), quality=95)

out = {}
for mode in ["rgb", "grayscale"]:
    ds = keras.utils.image_dataset_from_directory(root, shuffle=False, batch_size=None, image_size=(5, 6), color_mode=mode)
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    out[mode + "_x"] = np.stack(images)
    out[mode + "_y"] = np.array(labels, dtype=np.int32)
    print(ds.class_names if hasattr(ds, "class_names") else "", out[mode + "_x"].shape)
np.savez(os.path.join(here, "images.npz"), **out)
