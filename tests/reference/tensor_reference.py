"""Reference values for tests/tensor_test.cpp, computed with NumPy and PyTorch (Debian's python3-numpy,
python3-torch). Run: /usr/bin/python3 tests/reference/tensor_reference.py"""
import numpy as np
import torch

np.set_printoptions(precision=17)
x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 1000.0]])
print("softmax rows", torch.softmax(torch.tensor(x), dim=1).numpy().tolist())
print("log_softmax rows", torch.log_softmax(torch.tensor(x), dim=1).numpy().tolist())
print("cross_entropy labels [2, 0]", torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([2, 0])).item())
a = np.arange(6, dtype=np.float64).reshape(2, 3)
b = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
print("matmul", (a @ b).tolist())
print("sigmoid", torch.sigmoid(torch.tensor(dtype=torch.float64, data=[-800.0, -1.0, 0.0, 2.0, 800.0])).numpy().tolist())
