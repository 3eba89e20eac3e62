"""Keras's text_dataset_from_directory on Fixtures/texts, the reference for TextFolderTests.

Run: /root/peers-venv/bin/python generate_text_folder.py  (writes texts_keras.json)
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

here = os.path.dirname(os.path.abspath(__file__))
folder = os.path.join(here, "texts")


def rows(**kwargs):
    ds = keras.utils.text_dataset_from_directory(folder, batch_size=None, shuffle=False, **kwargs)
    out = []
    for x, y in ds:
        # max_length cuts UTF-8 bytes (tf.strings.substr): a cut character is dropped, as Lamina does
        out.append([x.numpy().decode("utf-8", errors="ignore"), y.numpy().tolist()])
    return {"class_names": ds.class_names, "rows": out}


cases = {
    "int": rows(),
    "max_length": rows(max_length=10),
    "categorical": rows(label_mode="categorical"),
    "binary": rows(label_mode="binary"),
    "training": rows(validation_split=0.34, subset="training"),
    "validation": rows(validation_split=0.34, subset="validation"),
}
with open(os.path.join(here, "texts_keras.json"), "w") as f:
    json.dump({"keras": keras.__version__, "cases": cases}, f, ensure_ascii=False, indent=0)
print("wrote texts_keras.json")
