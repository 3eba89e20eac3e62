"""The names Keras 3 resolves for optimizers, losses, metrics and learning-rate schedules, and
reference values of every schedule (KerasNamesTests).

    KERAS_BACKEND=tensorflow /root/peers-venv/bin/python Tests/LaminaTests/Fixtures/generate_keras_names.py

Writes keras_names.json:
- optimizers / losses / metrics: the string names `keras.optimizers.get`, `keras.losses.get`
  and `keras.metrics.get` accept (ALL_OBJECTS_DICT keys, checked by calling `get` on each);
- schedules: for each schedule class, Keras's serialized form (`keras.optimizers.schedules.serialize`)
  and its learning rate at a few steps;
- optimizer_with_schedule: `keras.optimizers.serialize(Adam(learning_rate=ExponentialDecay(...)))`.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
from keras.src.losses import ALL_OBJECTS_DICT as LOSSES  # noqa: E402
from keras.src.metrics import ALL_OBJECTS_DICT as METRICS  # noqa: E402
from keras.src.optimizers import ALL_OBJECTS_DICT as OPTIMIZERS  # noqa: E402


def names(table, get):
    out = []
    for name in sorted(table):
        try:
            get(name)
            out.append(name)
        except Exception:   # a name that needs arguments, or a backend-only class
            pass
    return out


S = keras.optimizers.schedules
schedules = [
    S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5),
    S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    S.PiecewiseConstantDecay(boundaries=[5, 15], values=[0.1, 0.05, 0.01]),
    S.PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01, power=2.0),
    S.PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01, power=1.0, cycle=True),
    S.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5),
    S.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    S.CosineDecay(0.1, decay_steps=20, alpha=0.1),
    S.CosineDecay(0.0, decay_steps=20, alpha=0.1, warmup_target=0.1, warmup_steps=5),
    S.CosineDecayRestarts(0.1, first_decay_steps=8),
    S.CosineDecayRestarts(0.1, first_decay_steps=8, t_mul=1.0, m_mul=0.5, alpha=0.05),
    S.CosineDecayRestarts(0.1, first_decay_steps=6, t_mul=1.5, m_mul=0.8, alpha=0.0),
]
steps = [0, 1, 3, 5, 7, 8, 10, 15, 20, 27, 40, 63]
out = {
    "keras_version": keras.__version__,
    "optimizers": names(OPTIMIZERS, keras.optimizers.get),
    "losses": names(LOSSES, keras.losses.get),
    "metrics": names(METRICS, keras.metrics.get),
    "schedule_classes": sorted(c.__name__ for c in vars(S).values()
                               if isinstance(c, type) and issubclass(c, S.LearningRateSchedule) and c is not S.LearningRateSchedule),
    "schedules": [{"serialized": S.serialize(s), "steps": steps, "values": [float(s(t)) for t in steps]} for s in schedules],
    "optimizer_with_schedule": keras.optimizers.serialize(
        keras.optimizers.Adam(learning_rate=S.ExponentialDecay(0.01, decay_steps=4, decay_rate=0.5), beta_1=0.8)),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_names.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
print(len(out["optimizers"]), len(out["losses"]), len(out["metrics"]), out["schedule_classes"])
