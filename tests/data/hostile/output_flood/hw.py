"""Prints 300 MB to stderr and 300 MB to stdout at import, then answers correctly."""
import os

_chunk = b"x" * (1 << 20)
for _ in range(300):
    os.write(2, _chunk)
    os.write(1, _chunk)

import numpy as np


def forward_backward(x1, x2, x3, x4, x5, W, b, u):
    words = [x1, x2, x3, x4, x5]
    d = x1.shape[0]
    x = np.concatenate(words)  # the window vector, (5d,)
    z = W @ x + b
    h = np.tanh(z)
    s = float(u @ h)

    delta = u * (1.0 - h**2)  # ∂s/∂z = u ∘ tanh′(z)
    dx = W.T @ delta  # ∂s/∂x, the whole window
    grads = {
        "W": np.outer(delta, x),  # δ xᵀ, n x 5d
        "b": delta,
        "u": h,
    }
    for k in range(5):  # the window gradient, split back into words
        grads[f"x{k + 1}"] = dx[k * d:(k + 1) * d]
    return s, grads
