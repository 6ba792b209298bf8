"""Asks for 8 GB on every call: the memory limit turns it into a MemoryError."""
import numpy as np


def forward_backward(x1, x2, x3, x4, x5, W, b, u):
    hog = np.ones(1 << 30)  # 8 GB of float64
    return float(hog.sum()), {}
