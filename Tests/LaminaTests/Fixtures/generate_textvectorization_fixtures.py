"""Generates textvectorization_reference.json: Keras 3 (TensorFlow backend) TextVectorization
layers adapted on a small corpus (punctuation, capitals, Unicode, ties in frequency) for every
output mode, ngrams, max_tokens limits, output_sequence_length, pad_to_max_tokens and tf_idf:
the config, the adapted vocabulary, idf weights, and the outputs on the corpus plus unseen
texts. The tests read the JSON; they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_textvectorization_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from keras import layers

HERE = os.path.dirname(os.path.abspath(__file__))

CORPUS = [
    "The cat sat on the mat.",
    "The dog sat on the log!",
    "A cat and a dog: friends?",
    "Dogs, cats, and birds; all pets.",
    "I can't believe it's not butter...",
    "Hello, World! HELLO world.",
    "Crème brûlée is a French dessert.",
    "ÉCOLE École école — Ünïcödé tèxt",
    "Straße und STRASSE in Köln",
    "naïve café, naïve CAFÉ",
    "日本語 テキスト も ある",
    "Emoji 🙂 smile 🙂 twice",
    "e-mail me@example.com now (please)",
    "Price: $12.50 [discount] {50%}",
    "tabs\tand\nnewlines   and  spaces",
    "quotes \"double\" and 'single' and `back`",
    "under_score hash#tag at@sign caret^ tilde~ pipe|",
    "a b c d e f g",
    "g f e d c b a",
    "zeta alpha zeta alpha",
    "beta gamma beta gamma",
    "delta epsilon",
    "epsilon delta",
    "the the the end",
    "The End.",
    "One more sentence, with a comma.",
    "Numbers 1 2 3 and 42 and 3.14",
    "Mixed CASE mixed case MiXeD CaSe",
    "",
    "   ",
]
UNSEEN = [
    "The unseen words are OOV: xylophone!",
    "cat cat cat dog",
    "Ünïcödé école 🙂",
    "",
]

CASES = [
    ("int_default", {}),
    ("int_max10_len6", {"max_tokens": 10, "output_sequence_length": 6}),
    ("int_ngrams2_len12", {"ngrams": 2, "output_sequence_length": 12}),
    ("int_ngrams13_max30", {"ngrams": (1, 3), "max_tokens": 30, "output_sequence_length": 10}),
    ("int_lower_character_len20", {"standardize": "lower", "split": "character", "output_sequence_length": 20}),
    ("int_strip_none", {"standardize": "strip_punctuation", "split": "whitespace", "output_sequence_length": 8}),
    ("int_nostandardize", {"standardize": None, "output_sequence_length": 8}),
    ("int_nosplit", {"split": None}),
    ("multi_hot", {"output_mode": "multi_hot"}),
    ("multi_hot_max12", {"output_mode": "multi_hot", "max_tokens": 12}),
    ("multi_hot_max40_pad", {"output_mode": "multi_hot", "max_tokens": 200, "pad_to_max_tokens": True}),
    ("count_ngrams2_max20", {"output_mode": "count", "ngrams": 2, "max_tokens": 20}),
    ("count", {"output_mode": "count"}),
    ("tf_idf", {"output_mode": "tf_idf"}),
    ("tf_idf_max15_pad", {"output_mode": "tf_idf", "max_tokens": 15, "pad_to_max_tokens": True}),
    ("tf_idf_ngrams2_max25", {"output_mode": "tf_idf", "ngrams": 2, "max_tokens": 25}),
]


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def case(name, kwargs):
    layer = layers.TextVectorization(**kwargs)
    layer.adapt(np.array(CORPUS))
    texts = CORPUS + UNSEEN
    # Without splitting Keras wants one string per row: shape (n, 1).
    batch = np.array(texts)[:, None] if kwargs.get("split", "whitespace") is None else np.array(texts)
    out = {
        "name": name,
        "kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
        "vocabulary": layer.get_vocabulary(),
        "vocabulary_size": int(layer.vocabulary_size()),
        "output": arr(layer(batch)),
        "output_dtype": str(layer(batch[:1]).dtype),
    }
    if kwargs.get("output_mode") == "tf_idf":
        out["idf_weights"] = arr(layer._lookup_layer.idf_weights_const.numpy())
    config = layer.get_config()
    out["config_keys"] = sorted(config.keys())
    return out


def given_vocabulary():
    vocab = ["earth", "wind", "and", "fire"]
    idf = [0.6, 0.2, 0.3, 0.4]
    layer = layers.TextVectorization(output_mode="tf_idf", vocabulary=vocab, idf_weights=idf)
    texts = ["earth wind and fire", "fire and earth michigan", "WIND, wind"]
    return {"vocabulary_in": vocab, "idf_in": idf, "texts": texts, "vocabulary": layer.get_vocabulary(),
            "idf_weights": arr(layer._lookup_layer.idf_weights_const.numpy()),
            "output": arr(layer(np.array(texts))), "config": {k: v for k, v in layer.get_config().items()
                                                             if k in ("vocabulary", "idf_weights", "vocabulary_size")}}


def main():
    data = {"corpus": CORPUS, "unseen": UNSEEN, "cases": [case(n, k) for n, k in CASES],
            "given": given_vocabulary()}
    with open(os.path.join(HERE, "textvectorization_reference.json"), "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
