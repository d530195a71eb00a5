#!/usr/bin/python3
# Writes the PyTorch reference fixtures for test/nn/layers-extra-torch.test.ts: GroupNorm and PReLU outputs
# and gradients on fixed random weights and inputs, in float64.
#
# Run with Debian's python3-torch, from the repository root:  /usr/bin/python3 tools/torch-fixtures-layers.py
# The tests only read the JSON files, so they need no Python.
#
# Layouts: torch normalizes NC... (channels second), Keras/Candor N...C (channels last). The inputs and the
# input gradients are written channels last (torch's tensors permuted); the weights ([C]) need no mapping:
#   GroupNorm(G, C, eps): torch groups consecutive channels as Keras GroupNormalization(groups=G) does;
#       weight = gamma, bias = beta.
#   PReLU(C) on NCHW = Keras PReLU(sharedAxes=[1, 2]) on NHWC, alpha [1, 1, C] = torch weight [C].
# Each case's loss is sum(output * projection); the gradients are of that scalar.
import json
import os

import torch

torch.manual_seed(20261206)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


def arr(t):
    t = t.detach().contiguous()
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def last(t):
    """channels second -> channels last."""
    return t.permute(0, *range(2, t.dim()), 1)


def write(name, case):
    os.makedirs(OUT, exist_ok=True)
    case = {'generator': 'tools/torch-fixtures-layers.py', 'torch': torch.__version__, **case}
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(case, f, separators=(',', ':'))
        f.write('\n')


def case(name, module, x_first, config, weights):
    """Runs `module` on x (channels second) and writes everything channels last."""
    x = x_first.clone().requires_grad_()
    y = module(x)
    proj = rand(*y.shape)
    (y * proj).sum().backward()
    write(name, {
        'config': config,
        'input': arr(last(x)),
        'weights': {k: arr(v) for k, v in weights.items()},
        'output': arr(last(y)),
        'projection': arr(last(proj)),
        'grads': {'input': arr(last(x.grad)), **{k: arr(v.grad) for k, v in weights.items()}},
    })


def group_norm(name, groups, shape, eps=1e-3):
    gn = torch.nn.GroupNorm(groups, shape[1], eps=eps)
    with torch.no_grad():
        gn.weight.copy_(rand(shape[1]) + 1)
        gn.bias.copy_(rand(shape[1]))
    case(name, gn, rand(*shape, scale=2) + 0.5, {'groups': groups, 'epsilon': eps},
         {'gamma': gn.weight, 'beta': gn.bias})


# [N, C, H, W] = [2, 6, 3, 3] in three groups of two channels; [N, C, T] = [2, 4, 5] in two groups.
group_norm('group-norm-2d', 3, (2, 6, 3, 3))
group_norm('group-norm-1d', 2, (2, 4, 5))

prelu = torch.nn.PReLU(3)
with torch.no_grad():
    prelu.weight.copy_(rand(3))
case('prelu-2d', prelu, rand(2, 3, 2, 4, scale=2), {'sharedAxes': [1, 2]}, {'alpha': prelu.weight})
