#!/usr/bin/python3
# Writes the PyTorch 1.13 reference fixtures for test/ops/ops-options.test.ts, test/nn/losses-options.test.ts
# and test/optim/optimizers-more.test.ts: op values and vector-Jacobian products (ops.json), loss values and
# gradients (losses.json), and optimizer trajectories (optimizers.json), all in float64.
#
# Run with Debian's python3-torch, from the repository root:
#     /usr/bin/python3 tools/torch-fixtures-ops.py
# The tests only read the JSON files, so they need no Python.
import importlib.util
import json
import os

import torch
import torch.nn.functional as F

# arr (a tensor as {shape, data}), OUT and float64 defaults from the first fixture script (its cases run only
# as a script, not on import).
_spec = importlib.util.spec_from_file_location(
    'torch_fixtures', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-fixtures.py'))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)
arr, OUT = _base.arr, _base.OUT
torch.manual_seed(20261206)


def rand(*shape, lo=-2.0, hi=2.0):
    return torch.rand(*shape) * (hi - lo) + lo


def write(name, cases):
    os.makedirs(OUT, exist_ok=True)
    doc = {'generator': 'tools/torch-fixtures-ops.py', 'torch': torch.__version__, 'cases': cases}
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')


def shift(y, dim, identity):
    """y moved one place along dim, the identity in front (an exclusive scan from an inclusive one)."""
    first = torch.full_like(y.narrow(dim, 0, 1), identity)
    return torch.cat([first, y.narrow(dim, 0, y.shape[dim] - 1)], dim)


def scan(fn, identity, dim, exclusive=False, reverse=False):
    def f(x):
        y = x.flip(dim) if reverse else x
        y = fn(y, dim)
        if exclusive:
            y = shift(y, dim, identity)
        return y.flip(dim) if reverse else y
    return f


# name -> (function of the float inputs, inputs, extra integer inputs); the TS test has the same names.
def op_cases():
    x35 = rand(3, 5)
    unit = rand(3, 5, lo=-0.95, hi=0.95)
    pos = rand(3, 5, lo=0.2, hi=3)
    wide = torch.tensor([[-30.0, -3.5, -3.0, -1.0, -0.2], [0.0, 0.3, 2.9, 3.0, 3.2], [4.0, 10.0, 19.0, 21.0, 40.0]])
    with_zero = rand(2, 3, 4)
    with_zero[0, 1, 2] = 0.0
    with_zero[1, 2, 0] = 0.0
    with_zero[1, 2, 3] = 0.0
    return {
        'tan': (torch.tan, [x35 * 0.7]),
        'asin': (torch.asin, [unit]),
        'acos': (torch.acos, [unit]),
        'atan': (torch.atan, [x35 * 3]),
        'atan2': (torch.atan2, [rand(3, 1, 4), rand(5, 4)]),
        'atan2Axes': (torch.atan2, [torch.tensor([1.0, -1.0, 2.0, -0.5, 0.0, 3.0]),
                                    torch.tensor([0.0, 0.0, -1.0, -2.0, 1.5, -0.25])]),
        'log2': (torch.log2, [pos]),
        'mish': (F.mish, [wide * 0.5]),
        'hardSwish': (F.hardswish, [rand(3, 5, lo=-5, hi=5)]),
        'logSigmoid': (F.logsigmoid, [wide]),
        'softsign': (F.softsign, [x35]),
        'softplusBeta': (lambda x: F.softplus(x, beta=2.0, threshold=3.0), [wide * 0.5]),
        'softplusDefault': (lambda x: F.softplus(x), [wide]),
        'cumsum': (lambda x: torch.cumsum(x, 1), [rand(2, 7, 3)]),
        'cumsumExclusiveReverse': (scan(torch.cumsum, 0.0, 0, True, True), [rand(9, 2)]),
        'cumprod': (lambda x: torch.cumprod(x, 2), [with_zero]),
        'cumprodExclusive': (scan(torch.cumprod, 1.0, 1, exclusive=True), [with_zero]),
        'cumprodReverse': (scan(torch.cumprod, 1.0, 2, reverse=True), [with_zero]),
        'sort': (lambda x: torch.sort(x, 1)[0], [rand(3, 6, 2)]),
        'sortDescending': (lambda x: torch.sort(x, -1, descending=True)[0], [rand(4, 5)]),
        'topK': (lambda x: torch.topk(x, 3)[0], [rand(2, 3, 7)]),
        'tile': (lambda x: x.repeat(2, 1, 3), [rand(2, 3, 2)]),
        'repeat': (lambda x: torch.repeat_interleave(x, 3, dim=1), [rand(2, 3)]),
        'repeatFlat': (lambda x: torch.repeat_interleave(x, 2), [rand(2, 3)]),
        'repeatEach': (lambda x: torch.repeat_interleave(x, torch.tensor([2, 0, 1, 3]), dim=0), [rand(4, 2)]),
        'varianceUnbiased': (lambda x: torch.var(x, 1, unbiased=True), [rand(3, 5, 2)]),
        'stdUnbiased': (lambda x: torch.std(x, (0, 2), unbiased=True, keepdim=True), [rand(3, 5, 2)]),
        'varianceCorrection2': (lambda x: torch.var(x, None, unbiased=True) * 6 / 5, [rand(7)]),
        'einsumMatmul': (lambda a, b: torch.einsum('ij,jk->ik', a, b), [rand(3, 4), rand(4, 5)]),
        'einsumImplicit': (lambda a, b: torch.einsum('ij,kj', a, b), [rand(3, 4), rand(5, 4)]),
        'einsumBatch': (lambda a, b: torch.einsum('bij,bjk->bik', a, b), [rand(2, 3, 4), rand(2, 4, 5)]),
        'einsumTrace': (lambda a: torch.einsum('ii->', a), [rand(4, 4)]),
        'einsumDiagonal': (lambda a: torch.einsum('ii->i', a), [rand(4, 4)]),
        'einsumBatchDiagonal': (lambda a: torch.einsum('bii->bi', a), [rand(2, 3, 3)]),
        'einsumOuter': (lambda a, b: torch.einsum('i,j->ij', a, b), [rand(3), rand(4)]),
        'einsumSum': (lambda a: torch.einsum('ijk->j', a), [rand(2, 3, 4)]),
        'einsumTranspose': (lambda a: torch.einsum('ijk->kij', a), [rand(2, 3, 4)]),
        'einsumEllipsis': (lambda a, b: torch.einsum('...ij,...jk->...ik', a, b), [rand(2, 1, 3, 4), rand(5, 4, 2)]),
        'einsumEllipsisBroadcast': (lambda a, b: torch.einsum('...ij,jk', a, b), [rand(2, 1, 3, 4), rand(4, 2)]),
        'einsumThree': (lambda a, b, c: torch.einsum('ij,jk,kl->il', a, b, c), [rand(2, 3), rand(3, 4), rand(4, 5)]),
        'einsumBilinear': (lambda a, w, b: torch.einsum('bi,oij,bj->bo', a, w, b), [rand(2, 3), rand(4, 3, 5), rand(2, 5)]),
        'einsumAttention': (lambda q, k: torch.einsum('bhqd,bhkd->bhqk', q, k), [rand(2, 2, 3, 4), rand(2, 2, 5, 4)]),
        'einsumRepeatedAcross': (lambda a, b: torch.einsum('iij,jk->ik', a, b), [rand(3, 3, 2), rand(2, 4)]),
        'einsumHadamard': (lambda a, b: torch.einsum('ij,ij->ij', a, b), [rand(3, 4), rand(3, 4)]),
        'einsumDot': (lambda a, b: torch.einsum('i,i', a, b), [rand(6), rand(6)]),
        'einsumSizeOne': (lambda a, b: torch.einsum('ij,ij->i', a, b), [rand(3, 1), rand(3, 4)]),
    }


def ops():
    cases = []
    for name, (fn, inputs) in op_cases().items():
        xs = [x.clone().requires_grad_(True) for x in inputs]
        out = fn(*xs)
        proj = torch.randn(out.shape)
        (out * proj).sum().backward()
        cases.append({'name': name, 'inputs': [arr(x) for x in xs], 'output': arr(out), 'projection': arr(proj),
                      'grads': [arr(x.grad) for x in xs]})
    # Integer results: indices of sorts (distinct values, so no ties to break).
    x = rand(3, 6, 2)
    cases.append({'name': 'argsort', 'inputs': [arr(x)], 'output': arr(torch.argsort(x, 1))})
    y = rand(2, 3, 7)
    cases.append({'name': 'topKIndices', 'inputs': [arr(y)], 'output': arr(torch.topk(y, 3)[1])})
    z = rand(4, 5)
    cases.append({'name': 'argsortDescending', 'inputs': [arr(z)], 'output': arr(torch.argsort(z, 0, descending=True))})
    return cases


def losses():
    cases = []

    def case(name, fn, logits, target, options):
        x = logits.clone().requires_grad_(True)
        value = fn(x)
        value.backward()
        cases.append({'name': name, 'logits': arr(x), 'target': arr(target), 'options': options,
                      'value': float(value), 'grad': arr(x.grad)})

    w4 = torch.tensor([0.5, 2.0, 1.0, 3.0])
    soft = torch.softmax(rand(5, 4) * 2, -1)
    logits = rand(5, 4, lo=-3, hi=3)
    case('categoricalWeight', lambda x: F.cross_entropy(x, soft, weight=w4), logits, soft, {'weight': w4.tolist()})
    labels = torch.tensor([1, -100, 3, 0, 2, -100])
    logits6 = rand(6, 4, lo=-3, hi=3)
    case('sparseWeightIgnore', lambda x: F.cross_entropy(x, labels, weight=w4, ignore_index=-100), logits6, labels,
         {'weight': w4.tolist(), 'ignoreIndex': -100})
    labels2 = torch.tensor([2, 1, 2, 0, 3, 2])
    case('sparseIgnoreValidClass', lambda x: F.cross_entropy(x, labels2, ignore_index=2), logits6, labels2,
         {'ignoreIndex': 2})
    case('sparseWeight', lambda x: F.cross_entropy(x, labels2, weight=w4), logits6, labels2, {'weight': w4.tolist()})
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.3, 0.0, 1.0], [0.0, 1.0, 0.0]])
    bl = rand(5, 3, lo=-4, hi=4)
    pw = torch.tensor([0.5, 3.0, 1.5])
    case('binaryPosWeight', lambda x: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw), bl, y,
         {'posWeight': pw.tolist()})
    case('binaryPosWeightScalar', lambda x: F.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor([2.5])),
         bl, y, {'posWeight': 2.5})
    return cases


def optimizers(steps=6):
    """Trajectories of two parameters under fixed gradients (scaled differently each step)."""
    p0 = [rand(2, 3), rand(4)]
    grads = [[torch.randn(2, 3) * s, torch.randn(4) * s] for s in [1.0, 0.3, 2.0, 0.05, 1.0, 0.7][:steps]]
    configs = [
        # (name, torch optimizer, torch kwargs, Candor optimizer name, Candor options)
        ('adamAmsgrad', torch.optim.Adam, {'lr': 0.01, 'eps': 0.0, 'amsgrad': True},
         'adam', {'learningRate': 0.01, 'epsilon': 0, 'amsgrad': True}),
        ('adamwAmsgrad', torch.optim.AdamW, {'lr': 0.01, 'eps': 0.0, 'amsgrad': True, 'weight_decay': 0.1},
         'adamw', {'learningRate': 0.01, 'epsilon': 0, 'amsgrad': True, 'weightDecay': 0.1}),
        # foreach: torch 1.13's single-tensor NAdam multiplies mu_t into the next product twice
        # (mu_product * mu * mu_next; fixed in torch 2.0); its foreach path is the published update.
        ('nadam', torch.optim.NAdam, {'lr': 0.01, 'eps': 1e-7, 'foreach': True}, 'nadam', {'learningRate': 0.01}),
        ('adamax', torch.optim.Adamax, {'lr': 0.02, 'eps': 0.0}, 'adamax', {'learningRate': 0.02, 'epsilon': 0}),
        ('adadelta', torch.optim.Adadelta, {'lr': 1.0, 'rho': 0.9, 'eps': 1e-6},
         'adadelta', {'learningRate': 1, 'rho': 0.9, 'epsilon': 1e-6}),
        ('sgdDampening', torch.optim.SGD, {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.3},
         'sgd', {'learningRate': 0.05, 'momentum': 0.9, 'dampening': 0.3}),
    ]
    cases = []
    for name, cls, kwargs, candor, options in configs:
        params = [p.clone().requires_grad_(True) for p in p0]
        opt = cls(params, **kwargs)
        trajectory = []
        for g in grads:
            for p, gi in zip(params, g):
                p.grad = gi.clone()
            opt.step()
            trajectory.append([arr(p) for p in params])
        cases.append({'name': name, 'optimizer': candor, 'options': options, 'trajectory': trajectory})
    return {'params': [arr(p) for p in p0], 'grads': [[arr(g) for g in step] for step in grads], 'cases': cases}


if __name__ == '__main__':
    write('ops', ops())
    write('losses', losses())
    write('optimizers', optimizers())
