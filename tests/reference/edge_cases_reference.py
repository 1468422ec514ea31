"""Reference values for tests/edge_cases_test.cpp, tests/api_test.cpp (printing) and tests/example_op_test.cpp
(mish), from PyTorch 1.13 (Debian's python3-torch). The tests hold the values this prints.

Run: /usr/bin/python3 tests/reference/edge_cases_reference.py"""
import torch
import torch.nn.functional as F

# edge_cases_test: float32 cross_entropy at logits near 1e4; empty and 0-D inputs; NaN through relu, max, argmax.
logits = torch.tensor([[1e4, -1e4, 0], [1e4, 9999, -1e4], [-1e4, -9998, 0]])
print("cross_entropy float32:", repr(F.cross_entropy(logits, torch.tensor([0, 1, 2])).item()))
print("mean of [0, 3] over dim 0:", torch.zeros(0, 3).mean(0), "over all:", torch.zeros(0, 3).mean())
print("cross_entropy of 0 rows:", F.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
print("softmax / log_softmax of a 0-D tensor:", torch.softmax(torch.tensor(2.0), 0), torch.log_softmax(torch.tensor(2.0), -1))
x = torch.tensor([[1.0, float("nan"), 3.0], [float("nan"), 2.0, float("nan")]])
print("relu:", torch.relu(torch.tensor([float("nan"), -1.0, 2.0])), "max:", x.max(1), "argmax:", x.argmax(1))
z = torch.tensor([0.0, 2.0], requires_grad=True)
(z ** 0).sum().backward()
print("d/dx x^0:", z.grad)

# example_op_test: mish and its gradient in float64.
m = torch.tensor([-30.0, -1.0, 0.0, 0.5, 3.0, 30.0], dtype=torch.float64, requires_grad=True)
y = F.mish(m)
y.sum().backward()
print("mish:", [repr(v) for v in y.tolist()])
print("mish gradient:", [repr(v) for v in m.grad.tolist()])

# api_test: how tensors print.
for t in [torch.tensor([[1.0, 2.5], [3.0, 4.0]], dtype=torch.float64), torch.tensor([1.0, 2.0]), torch.tensor(3.0),
          torch.zeros(2, 0), torch.tensor([1e-5, 1.0]), torch.tensor([float("nan"), 1.5, -float("inf")]),
          torch.arange(2000.0), torch.arange(24.0).reshape(2, 3, 4) / 7, torch.arange(30.0) / 7,
          torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)]:
    print(repr(str(t)))
