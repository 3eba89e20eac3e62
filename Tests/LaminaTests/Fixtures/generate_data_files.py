"""Writes the small NumPy/CSV files the data-reader tests load (Tests/LaminaTests/Data).

Run with any Python that has numpy:  python3 generate_data_files.py
The expected values are recomputed in the tests from the same closed forms
(value i of array `a` is i * 0.5 - 3 etc.), so the files are the only input.
"""
import os
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(out, exist_ok=True)

a = (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4)
np.save(os.path.join(out, "f4.npy"), a)
np.save(os.path.join(out, "f8.npy"), a.astype(np.float64))
np.save(os.path.join(out, "i8.npy"), np.arange(-5, 7, dtype=np.int64).reshape(3, 4))
np.save(os.path.join(out, "u1.npy"), np.arange(250, 256, dtype=np.uint8))
np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(a[0]))
np.save(os.path.join(out, "scalar.npy"), np.float32(7.25))
np.savez(os.path.join(out, "stored.npz"), x=a, y=np.arange(3, dtype=np.int32))
np.savez_compressed(os.path.join(out, "compressed.npz"), x=a, y=np.arange(3, dtype=np.int32))

with open(os.path.join(out, "table.csv"), "w") as f:
    f.write("x,y,label\n")
    for i in range(5):
        f.write(f"{i * 0.5},{-i},{i % 2}\n")
