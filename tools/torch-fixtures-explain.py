#!/usr/bin/python3
# Writes the PyTorch reference fixtures for test/explain/gradient-torch.test.ts: saliency, gradient x input and
# Integrated Gradients (every quadrature rule) of small fixed-weight models, and Gauss-Legendre nodes.
#
# Run with Debian's python3-torch, from the repository root:  /usr/bin/python3 tools/torch-fixtures-explain.py
# The tests only read the JSON files in test/fixtures/explain/, so they need no Python. Captum is not
# installed: the methods are written out here in torch (grad of the target score; IG as a weighted sum of
# gradients at points on the straight path), in float64.
#
# Layouts: weights and inputs are written as Keras/Candor hold them (Dense kernel [in, out], Conv2D kernel
# [kh, kw, cin, cout], images NHWC, LSTM kernels [in, 4u] / [u, 4u] in gate order i, f, c, o); the models
# below compute in those layouts, so nothing needs mapping on the TypeScript side.
import json
import os

import numpy
import torch

torch.manual_seed(20261207)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'explain')


def arr(t):
    t = torch.as_tensor(t).detach().contiguous()
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def rule(name, steps):
    """Points and weights on [0, 1], as src/explain/quadrature.ts defines them."""
    if name == 'gaussLegendre':
        x, w = numpy.polynomial.legendre.leggauss(steps)
        return [(v + 1) / 2 for v in x], [v / 2 for v in w]
    if name == 'riemannTrapezoid':
        h = 1 / (steps - 1)
        return [k * h for k in range(steps)], [h / 2] + [h] * (steps - 2) + [h / 2]
    offset = {'riemannLeft': 0, 'riemannRight': 1, 'riemannMiddle': 0.5}[name]
    return [(k + offset) / steps for k in range(steps)], [1 / steps] * steps


def gradients(score, points, rows):
    """d score(points, rows)[r] / d points[r] for every row r (rows do not interact)."""
    p = points.clone().requires_grad_()
    (g,) = torch.autograd.grad(score(p, rows).sum(), p)
    return g


def integrated(score, x, baseline, name, steps):
    """(x - b) * sum_k w_k grad score(b + a_k (x - b)) per sample."""
    alphas, weights = rule(name, steps)
    total = torch.zeros_like(x)
    rows = torch.arange(x.shape[0])
    for a, w in zip(alphas, weights):
        total += w * gradients(score, baseline + a * (x - baseline), rows)
    return (x - baseline) * total


def pick(out, targets, rows):
    return out[torch.arange(out.shape[0]), targets[rows]]


def methods(score, x, cases):
    """saliency (signed), gradient x input and the IG cases: (name, baseline tensor, rule, steps)."""
    rows = torch.arange(x.shape[0])
    g = gradients(score, x, rows)
    result = {'saliency': arr(g), 'gradientXInput': arr(g * x), 'integratedGradients': []}
    for label, baseline, name, steps in cases:
        b = baseline.expand_as(x)
        ig = integrated(score, x, b, name, steps)
        with torch.no_grad():
            gap = (ig.reshape(x.shape[0], -1).sum(1) - (score(x, rows) - score(b, rows))).abs().max()
        result['integratedGradients'].append(
            {'baseline': label, 'rule': name, 'steps': steps, 'attributions': arr(ig), 'gap': float(gap)}
        )
    return result


def write(name, case):
    os.makedirs(OUT, exist_ok=True)
    case = {'generator': 'tools/torch-fixtures-explain.py', 'torch': torch.__version__, **case}
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(case, f, separators=(',', ':'))
        f.write('\n')


def mlp():
    """Dense(4 -> 6, tanh) -> Dense(6 -> 3, softmax); targets per sample, the probability and the logit."""
    k1, b1, k2, b2 = rand(4, 6), rand(6, scale=0.5), rand(6, 3, scale=1.5), rand(3, scale=0.5)
    x = rand(3, 4, scale=2)
    targets = torch.tensor([0, 2, 1])

    def logits(p):
        return torch.tanh(p @ k1 + b1) @ k2 + b2

    def prob(p, rows):
        return pick(torch.softmax(logits(p), -1), targets, rows)

    def logit(p, rows):
        return pick(logits(p), targets, rows)

    zero, shifted = torch.zeros(4), torch.tensor([0.1, -0.2, 0.3, 0.0])
    cases = [('0', zero, r, 9) for r in ['riemannLeft', 'riemannRight', 'riemannMiddle', 'riemannTrapezoid']]
    cases += [('0', zero, 'gaussLegendre', 20), ('shifted', shifted, 'riemannTrapezoid', 12)]
    cases += [('shifted', shifted, 'gaussLegendre', 7)]
    write(
        'mlp',
        {
            'weights': [arr(k1), arr(b1), arr(k2), arr(b2)],
            'inputs': arr(x),
            'targets': targets.tolist(),
            'baselines': {'0': arr(zero), 'shifted': arr(shifted)},
            'probability': methods(prob, x, cases),
            'logit': methods(logit, x, [('0', zero, 'gaussLegendre', 20)]),
        },
    )


def conv():
    """Conv2D(3 filters, 3x3, valid, tanh) on [6, 6, 2] NHWC -> Flatten (NHWC order) -> Dense(48 -> 3, softmax)."""
    kernel, bias = rand(3, 3, 2, 3, scale=0.6), rand(3, scale=0.3)
    k2, b2 = rand(48, 3, scale=0.5), rand(3, scale=0.3)
    x = rand(2, 6, 6, 2)
    targets = torch.tensor([1, 2])

    def prob(p, rows):
        y = torch.nn.functional.conv2d(p.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), bias)
        h = torch.tanh(y).permute(0, 2, 3, 1).reshape(p.shape[0], -1)
        return pick(torch.softmax(h @ k2 + b2, -1), targets, rows)

    zero = torch.zeros(6, 6, 2)
    cases = [('0', zero, 'gaussLegendre', 16), ('0', zero, 'riemannMiddle', 10)]
    write(
        'conv',
        {
            'weights': [arr(kernel), arr(bias), arr(k2), arr(b2)],
            'inputs': arr(x),
            'targets': targets.tolist(),
            'probability': methods(prob, x, cases),
        },
    )


def text():
    """
    Embedding(12, 4, maskZero) -> LSTM(5) -> Dense(2, softmax) on token ids (0: padding, skipped by the LSTM,
    which carries its state over masked steps as Keras does). Methods work on the embedding output [N, T, 4]
    and are summed over its last axis per token; IG's baseline is the embedding of id 0 at every position.
    """
    table, units = rand(12, 4), 5
    kernel, recurrent, lstm_bias = rand(4, 4 * units, scale=0.8), rand(units, 4 * units, scale=0.8), rand(4 * units)
    k2, b2 = rand(units, 2, scale=1.5), rand(2, scale=0.3)
    ids = torch.tensor([[0, 0, 3, 7, 1, 11], [5, 2, 9, 4, 4, 6]])
    targets = torch.tensor([1, 0])
    mask = ids != 0

    def prob(e, rows):
        h = torch.zeros(e.shape[0], units)
        c = torch.zeros(e.shape[0], units)
        for t in range(e.shape[1]):
            z = e[:, t] @ kernel + h @ recurrent + lstm_bias
            i, f, g, o = z.split(units, -1)
            c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_next = torch.sigmoid(o) * torch.tanh(c_next)
            keep = mask[rows, t].unsqueeze(-1)
            c, h = torch.where(keep, c_next, c), torch.where(keep, h_next, h)
        return pick(torch.softmax(h @ k2 + b2, -1), targets, rows)

    e = table[ids]
    per_token = methods(prob, e, [('0', table[0], 'gaussLegendre', 16), ('0', table[0], 'riemannTrapezoid', 10)])
    for key in ('saliency', 'gradientXInput'):
        per_token[key] = arr(torch.tensor(per_token[key]['data']).reshape(e.shape).sum(-1))
    for case in per_token['integratedGradients']:
        case['attributions'] = arr(torch.tensor(case['attributions']['data']).reshape(e.shape).sum(-1))
    write(
        'text',
        {
            'weights': [arr(table), arr(kernel), arr(recurrent), arr(lstm_bias), arr(k2), arr(b2)],
            'inputs': arr(ids),
            'targets': targets.tolist(),
            'probability': per_token,
        },
    )


def nodes():
    """numpy's Gauss-Legendre nodes and weights mapped to [0, 1]."""
    write('gauss-legendre', {str(n): dict(zip(('alphas', 'weights'), rule('gaussLegendre', n))) for n in (1, 2, 5, 50)})


mlp()
conv()
text()
nodes()
