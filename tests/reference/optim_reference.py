"""Reference values for tests/optim_test.cpp: torch.optim.SGD / Adam / AdamW (Debian's python3-torch 1.13)
on a fixed float64 problem. Run: /usr/bin/python3 tests/reference/optim_reference.py

The problem, rebuilt identically in the test from the same formulas: a linear classifier W [3, 4], b [3]
on 6 points X [6, 4] with labels y, loss = cross_entropy(X W^T + b, y). 12 steps; the learning rate is
halved after the 6th step, to exercise set_learning_rate. Printed: W then b (row-major) after the 12 steps.
The *_groups configurations put W and b in parameter groups of their own lr and weight decay."""
import math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
STEPS = 12
X = torch.tensor([[math.sin(1.3 * n + 0.7 * j) for j in range(4)] for n in range(6)])
y = torch.tensor([0, 1, 2, 1, 0, 2])

CONFIGS = [
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening", torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("adam", torch.optim.Adam, dict(lr=0.05)),
    ("adam_l2", torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adamw", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
]

# W's group, then b's (each dict's options replace the defaults in the configuration's kwargs).
GROUP_CONFIGS = [
    ("sgd_groups", torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.05), dict(), dict(lr=0.3, weight_decay=0.0)),
    ("adam_groups", torch.optim.Adam, dict(lr=0.05, weight_decay=0.1), dict(weight_decay=0.02), dict(lr=0.01)),
    ("adamw_groups", torch.optim.AdamW, dict(lr=0.05), dict(weight_decay=0.2), dict(lr=0.02, weight_decay=0.0)),
]

for name, cls, kwargs, *groups in CONFIGS + GROUP_CONFIGS:
    W = torch.tensor([[0.3 * math.cos(0.5 * i + 1.1 * j + 0.2) for j in range(4)] for i in range(3)], requires_grad=True)
    b = torch.tensor([0.1 * (i - 1) for i in range(3)], requires_grad=True)
    opt = cls([dict(params=[W], **groups[0]), dict(params=[b], **groups[1])] if groups else [W, b], **kwargs)
    for step in range(STEPS):
        if step == STEPS // 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        opt.zero_grad()
        F.cross_entropy(F.linear(X, W, b), y).backward()
        opt.step()
    values = W.detach().flatten().tolist() + b.detach().tolist()
    print(f"// {name}")
    print("{" + ", ".join(repr(v) for v in values) + "},")

# Float32: Adam's update kernel in single precision, where its rounding shows. A parameter of 40 elements,
# w_j = cos(0.3 j), gets the gradient g_j = sin(0.37 j + 1.9 t) * 10^-(j % 7) at step t = 1..12 (the loss
# sum(w * g), whose gradient is g exactly), so some gradients are small enough for eps to matter.
FLOAT32_CONFIGS = [
    ("adam_float32", torch.optim.Adam, dict(lr=0.05)),
    ("adamw_float32", torch.optim.AdamW, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]
for name, cls, kwargs in FLOAT32_CONFIGS:
    w = torch.tensor([math.cos(0.3 * j) for j in range(40)], dtype=torch.float32, requires_grad=True)
    opt = cls([w], **kwargs)
    for t in range(1, STEPS + 1):
        g = torch.tensor([math.sin(0.37 * j + 1.9 * t) * 10.0 ** -(j % 7) for j in range(40)], dtype=torch.float32)
        opt.zero_grad()
        (w * g).sum().backward()
        opt.step()
    print(f"// {name}")
    print("{" + ", ".join(repr(v) for v in w.detach().tolist()) + "},")

# A schedule over two groups: CosineAnnealingLR(T_max=4) on rates 0.1 and 0.3, 6 steps; each step's two rates.
W = torch.zeros(2, requires_grad=True)
b = torch.zeros(2, requires_grad=True)
opt = torch.optim.SGD([dict(params=[W]), dict(params=[b], lr=0.3)], lr=0.1)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
rates = list(schedule.get_last_lr())
for _ in range(6):
    opt.step()
    schedule.step()
    rates += schedule.get_last_lr()
print("// cosine_groups")
print("{" + ", ".join(repr(v) for v in rates) + "},")
