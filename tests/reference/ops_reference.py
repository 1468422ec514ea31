"""Reference values for tests/ops_reference_test.cpp: forward results and input gradients of microtorch's ops,
computed by PyTorch 1.13 (Debian's python3-torch) in float64.

Run: /usr/bin/python3 tests/reference/ops_reference.py > tests/reference/ops_reference.inc

Input k of a case, of the listed shape, is x[i] = scale * sin(0.37 i + 1.1 k + 0.2) + offset (i the row-major
index); the test builds the same. The gradient is that of sum(out * w), w[i] = cos(0.29 i + 0.1) shaped like
out. Each line: {case, {input shapes}, scale, offset, out shape, out, {gradient of each input}}. The C++ side
maps each case name to the same call."""
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def make_input(shape, k, scale, offset):
    n = math.prod(shape)
    return torch.tensor([scale * math.sin(0.37 * i + 1.1 * k + 0.2) + offset for i in range(n)]).reshape(shape)


LABELS = [2, 0, 3, 3, 1]
LABELS_IGNORED = [2, 0, -100, 3, 1]
CLASS_WEIGHT = torch.tensor([0.5, 2.0, 1.0, 1.5])
POS_WEIGHT = torch.tensor([1.0, 3.0, 0.5, 2.0])
GATHER_INDEX = torch.tensor([[3, 3], [0, 1], [2, 0]])
TOKENS = torch.tensor([[4, 1, 4], [0, 2, 4]])
MASK_ROW = torch.tensor([True, False, False, True])
ZERO_ROW = torch.tensor([[1.0], [0.0], [1.0]])
COND = torch.tensor([[True, False, False, True], [True, True, False, False], [False, True, False, True]])

CASES = [
    # name, input shapes, scale, offset, function
    ("abs", [[3, 4]], 2.0, 0.0, lambda x: x.abs()),
    ("log1p", [[3, 4]], 0.9, 0.0, torch.log1p),
    ("expm1", [[3, 4]], 2.0, 0.0, torch.expm1),
    ("sin", [[3, 4]], 3.0, 0.0, torch.sin),
    ("cos", [[3, 4]], 3.0, 0.0, torch.cos),
    ("square", [[3, 4]], 2.0, 0.0, torch.square),
    ("rsqrt", [[3, 4]], 1.0, 1.5, torch.rsqrt),
    ("reciprocal", [[3, 4]], 1.0, 1.5, torch.reciprocal),
    ("clamp", [[3, 4]], 2.0, 0.0, lambda x: x.clamp(-0.5, 0.7)),
    ("clamp_min", [[3, 4]], 2.0, 0.0, lambda x: x.clamp(min=-0.5)),
    ("clamp_max", [[3, 4]], 2.0, 0.0, lambda x: x.clamp(max=0.7)),
    ("maximum", [[3, 4], [4]], 2.0, 0.0, torch.maximum),
    ("minimum", [[3, 1], [3, 4]], 2.0, 0.0, torch.minimum),
    ("leaky_relu", [[3, 4]], 2.0, 0.0, lambda x: F.leaky_relu(x, 0.2)),
    ("leaky_relu_default", [[3, 4]], 2.0, 0.0, F.leaky_relu),
    ("elu", [[3, 4]], 2.0, 0.0, lambda x: F.elu(x, 0.7)),
    ("gelu", [[3, 4]], 3.0, 0.0, F.gelu),
    ("gelu_tanh", [[3, 4]], 3.0, 0.0, lambda x: F.gelu(x, approximate="tanh")),
    ("silu", [[3, 4]], 4.0, 0.0, F.silu),
    ("softplus", [[3, 4]], 3.0, 0.0, F.softplus),
    ("softplus_beta_threshold", [[3, 4]], 3.0, 0.0, lambda x: F.softplus(x, beta=2.0, threshold=3.0)),
    # Shape ops. Several parts are joined again, part k scaled by k + 1 so that each has its own gradient.
    ("select", [[3, 4]], 2.0, 0.0, lambda x: x[:, -1] * 2 + x.select(0, 1)[1:]),
    ("slice", [[5, 4]], 2.0, 0.0, lambda x: x[-4:-1:2]),
    ("slice_columns", [[5, 4]], 2.0, 0.0, lambda x: x[:, 1:] * x[:, -10:3]),
    ("unsqueeze", [[3, 4]], 2.0, 0.0, lambda x: x.unsqueeze(-1) * x.unsqueeze(1)),
    ("squeeze_all", [[3, 1, 4, 1]], 2.0, 0.0, lambda x: x.squeeze()),
    ("squeeze_dim", [[3, 1, 4, 1]], 2.0, 0.0, lambda x: x.squeeze(1).squeeze(0)),
    ("expand", [[3, 1]], 2.0, 0.0, lambda x: x.expand(2, 3, 4)),
    ("expand_keep", [[3, 1]], 2.0, 0.0, lambda x: x.expand(-1, 4)),
    ("flatten", [[2, 3, 4]], 2.0, 0.0, lambda x: x.flatten(1) * 2 + x.flatten(0, 1).reshape(2, 12)),
    ("cat", [[2, 3], [4, 3]], 2.0, 0.0, lambda a, b: torch.cat([a, b * 2], 0)),
    ("cat_last", [[3, 2], [3, 1], [3, 4]], 2.0, 0.0, lambda a, b, c: torch.cat([a, b * 2, c * 3], -1)),
    ("stack", [[3, 4], [3, 4], [3, 4]], 2.0, 0.0, lambda a, b, c: torch.stack([a, b * 2, c * 3], 1)),
    ("stack_last", [[3, 4], [3, 4]], 2.0, 0.0, lambda a, b: torch.stack([a, b * 2], -1)),
    ("split", [[5, 4]], 2.0, 0.0, lambda x: torch.cat([p * (k + 1) for k, p in enumerate(x.split(2))], 0)),
    ("split_sizes", [[5, 4]], 2.0, 0.0, lambda x: torch.cat([p * (k + 1) for k, p in enumerate(x.split([1, 3], 1))], 1)),
    ("chunk", [[5, 4]], 2.0, 0.0, lambda x: torch.cat([p * (k + 1) for k, p in enumerate(x.chunk(4, 0))], 0)),
    # Indexing, with repeated indices.
    ("index_select", [[4, 3]], 2.0, 0.0, lambda x: x.index_select(0, torch.tensor([2, 0, 2]))),
    ("index_select_columns", [[3, 5]], 2.0, 0.0, lambda x: x.index_select(-1, torch.tensor([4, 1, 1, 0]))),
    ("gather", [[3, 4]], 2.0, 0.0, lambda x: x.gather(1, GATHER_INDEX)),
    ("gather_dim0", [[4, 5]], 2.0, 0.0, lambda x: x.gather(0, torch.tensor([[3, 0, 1], [1, 3, 0]]))),
    ("scatter_add", [[3, 4], [3, 2]], 2.0, 0.0, lambda x, s: x.scatter_add(1, GATHER_INDEX, s)),
    ("masked_fill", [[3, 4]], 2.0, 0.0, lambda x: x.masked_fill(MASK_ROW, -1.5)),
    ("masked_fill_broadcast", [[4]], 2.0, 0.0, lambda x: x.masked_fill(COND, 0.5)),
    ("where", [[3, 4], [4]], 2.0, 0.0, lambda a, b: torch.where(COND, a, b)),
    ("embedding", [[5, 3]], 2.0, 0.0, lambda w: F.embedding(TOKENS, w)),
    ("embedding_padding", [[5, 3]], 2.0, 0.0, lambda w: F.embedding(TOKENS, w, padding_idx=-1)),
    # Reductions. ZERO_ROW makes row 1 constant: std's gradient there is 0.
    ("var", [[3, 4]], 2.0, 0.0, torch.var),
    ("var_dims_biased_keepdim", [[2, 3, 4]], 2.0, 0.0, lambda x: torch.var(x, [0, 2], unbiased=False, keepdim=True)),
    ("var_correction", [[3, 5]], 2.0, 0.0, lambda x: torch.var(x, (-1,), correction=2)),
    ("std", [[4, 3]], 2.0, 0.0, lambda x: torch.std(x, 0)),
    ("std_biased_keepdim", [[2, 3, 4]], 2.0, 0.0, lambda x: torch.std(x, [0, 2], unbiased=False, keepdim=True)),
    ("std_constant_row", [[3, 4]], 2.0, 0.0, lambda x: torch.std(x * ZERO_ROW, 1)),
    ("logsumexp", [[3, 5]], 2.0, 0.0, lambda x: torch.logsumexp(x, -1)),
    ("logsumexp_large_keepdim", [[2, 3, 4]], 20.0, 700.0, lambda x: torch.logsumexp(x, [0, 2], keepdim=True)),
    ("min", [[3, 5]], 2.0, 0.0, lambda x: x.min(-1).values),
    ("min_keepdim", [[5, 3]], 2.0, 0.0, lambda x: x.min(0, keepdim=True).values),
    ("topk", [[3, 5]], 2.0, 0.0, lambda x: x.topk(3).values),
    ("topk_smallest_dim0", [[5, 3]], 2.0, 0.0, lambda x: x.topk(2, 0, largest=False).values),
    # Layer norm; the large offset tests the one-pass statistics.
    ("layer_norm", [[3, 5], [5], [5]], 2.0, 0.0, lambda x, w, b: F.layer_norm(x, (5,), w, b)),
    ("layer_norm_2d_eps", [[2, 3, 4], [3, 4], [3, 4]], 2.0, 0.0, lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3)),
    ("layer_norm_no_affine_large", [[4, 6]], 2.0, 1000.0, lambda x: F.layer_norm(x, (6,))),
    # Losses. Targets of binary cross-entropy are sigmoid(t), to lie in [0, 1]; labels are LABELS*.
    ("mse_loss", [[3, 4], [3, 4]], 2.0, 0.0, F.mse_loss),
    ("mse_loss_sum", [[3, 4], [3, 4]], 2.0, 0.0, lambda x, y: F.mse_loss(x, y, reduction="sum")),
    ("mse_loss_none_broadcast", [[3, 4], [3, 4]], 2.0, 0.0, lambda x, y: F.mse_loss(x, y[0], reduction="none")),
    ("l1_loss", [[3, 4], [3, 4]], 2.0, 0.0, F.l1_loss),
    ("l1_loss_none", [[3, 4], [3, 4]], 2.0, 0.0, lambda x, y: F.l1_loss(x, y, reduction="none")),
    ("smooth_l1_loss", [[3, 4], [3, 4]], 1.5, 0.0, F.smooth_l1_loss),
    ("smooth_l1_loss_beta_sum", [[3, 4], [3, 4]], 1.5, 0.0,
     lambda x, y: F.smooth_l1_loss(x, y, reduction="sum", beta=0.5)),
    ("smooth_l1_loss_beta0", [[3, 4], [3, 4]], 1.5, 0.0, lambda x, y: F.smooth_l1_loss(x, y, beta=0.0)),
    ("bce_with_logits", [[3, 4], [3, 4]], 3.0, 0.0,
     lambda x, t: F.binary_cross_entropy_with_logits(x, torch.sigmoid(t))),
    ("bce_with_logits_weights_sum", [[3, 4], [3, 4]], 3.0, 0.0,
     lambda x, t: F.binary_cross_entropy_with_logits(x, torch.sigmoid(t), weight=CLASS_WEIGHT,
                                                     pos_weight=POS_WEIGHT, reduction="sum")),
    ("bce_with_logits_none", [[3, 4], [3, 4]], 3.0, 0.0,
     lambda x, t: F.binary_cross_entropy_with_logits(x, torch.sigmoid(t), pos_weight=POS_WEIGHT, reduction="none")),
    ("nll_loss", [[5, 4]], 2.0, 0.0, lambda x: F.nll_loss(F.log_softmax(x, 1), torch.tensor(LABELS))),
    ("nll_loss_weight_ignore", [[5, 4]], 2.0, 0.0,
     lambda x: F.nll_loss(F.log_softmax(x, 1), torch.tensor(LABELS_IGNORED), weight=CLASS_WEIGHT)),
    ("nll_loss_sum", [[5, 4]], 2.0, 0.0,
     lambda x: F.nll_loss(F.log_softmax(x, 1), torch.tensor(LABELS_IGNORED), reduction="sum")),
    ("nll_loss_none", [[5, 4]], 2.0, 0.0,
     lambda x: F.nll_loss(F.log_softmax(x, 1), torch.tensor(LABELS_IGNORED), weight=CLASS_WEIGHT, reduction="none")),
    ("cross_entropy", [[5, 4]], 2.0, 0.0, lambda x: F.cross_entropy(x, torch.tensor(LABELS))),
    ("cross_entropy_weight_ignore", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS_IGNORED), weight=CLASS_WEIGHT)),
    ("cross_entropy_smoothing", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS), label_smoothing=0.1)),
    ("cross_entropy_smoothing_ignore", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS_IGNORED), label_smoothing=0.2)),
    ("cross_entropy_smoothing_weight_ignore", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS_IGNORED), weight=CLASS_WEIGHT, label_smoothing=0.2)),
    ("cross_entropy_smoothing_sum", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS_IGNORED), label_smoothing=0.3, reduction="sum")),
    ("cross_entropy_smoothing_weight_none", [[5, 4]], 2.0, 0.0,
     lambda x: F.cross_entropy(x, torch.tensor(LABELS_IGNORED), weight=CLASS_WEIGHT, label_smoothing=0.3,
                               reduction="none")),
]


def cpp(values):
    return "{" + ", ".join(repr(float(v)) for v in values) + "}"


print(f"// Generated by tests/reference/ops_reference.py with PyTorch {torch.__version__}; do not edit.")
for name, shapes, scale, offset, fn in CASES:
    inputs = [make_input(s, k, scale, offset).requires_grad_() for k, s in enumerate(shapes)]
    out = fn(*inputs)
    w = torch.tensor([math.cos(0.29 * i + 0.1) for i in range(out.numel())]).reshape(out.shape)
    (out * w).sum().backward()
    grads = ", ".join(cpp(x.grad.flatten().tolist()) for x in inputs)
    shape_list = ", ".join("{" + ", ".join(str(d) for d in s) + "}" for s in shapes)
    out_shape = "{" + ", ".join(str(d) for d in out.shape) + "}"
    print(f'{{"{name}", {{{shape_list}}}, {scale!r}, {offset!r}, {out_shape}, {cpp(out.detach().flatten().tolist())}, '
          f'{{{grads}}}}},')
