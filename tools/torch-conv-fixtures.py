#!/usr/bin/python3
# Writes the PyTorch reference fixtures for test/nn/torch-conv-parity.test.ts: depthwise, separable and
# grouped convolutions (with asymmetric padding), the transposed convolution with output padding and
# bilinear upsampling, their outputs and gradients on fixed random weights and inputs, in float64.
#
# Run with Debian's python3-torch, from the repository root:
#     /usr/bin/python3 tools/torch-conv-fixtures.py
# The tests only read the JSON files, so they need no Python.
#
# Tensors are written channels-last (NHWC) and every weight in the Candor/Keras layout:
#   depthwise_kernel [kh, kw, C, M]: torch Conv2d(C, C * M, groups=C).weight [C * M, 1, kh, kw], output
#       channel c * M + m reads input channel c, so K[i, j, c, m] = W[c * M + m, 0, i, j].
#   pointwise_kernel [1, 1, C * M, F] = the 1x1 Conv2d weight [F, C * M, 1, 1] permuted (2, 3, 1, 0).
#   Conv2D kernel [kh, kw, Cin / groups, Cout] = torch Conv2d weight [Cout, Cin / groups, kh, kw] permuted
#       (2, 3, 1, 0); asymmetric padding is F.pad before a valid convolution.
#   Conv2DTranspose kernel [kh, kw, Cout, Cin] = torch ConvTranspose2d weight [Cin, Cout, kh, kw] permuted
#       (2, 3, 1, 0) (both are the adjoint of a cross-correlation: no flip).
# Each case's loss is sum(output * projection), and the gradients are of that scalar.
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261206)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


def arr(t):
    t = t.detach().contiguous()
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def rand(*shape):
    return torch.rand(*shape) * 2 - 1


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def keras_kernel(w):
    return w.permute(2, 3, 1, 0)


def write(name, config, x, y, weights, layouts):
    """x NCHW leaf; y NCHW output; weights {name: torch leaf}; layouts {name: to Keras layout}."""
    proj = rand(*y.shape)
    (y * proj).sum().backward()
    case = {
        'generator': 'tools/torch-conv-fixtures.py',
        'torch': torch.__version__,
        'layer': name,
        'config': config,
        'inputs': {'x': arr(nhwc(x))},
        'weights': {k: arr(layouts[k](w)) for k, w in weights.items()},
        'outputs': {'y': arr(nhwc(y))},
        'projections': {'y': arr(nhwc(proj))},
        'grads': {'x': arr(nhwc(x.grad)), **{k: arr(layouts[k](w.grad)) for k, w in weights.items()}},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(case, f, separators=(',', ':'))
        f.write('\n')


def depthwise_kernel(w, c, m):
    # [C * M, 1, kh, kw] -> [kh, kw, C, M]
    return w.reshape(c, m, w.shape[2], w.shape[3]).permute(2, 3, 0, 1)


def bias(b):
    return b


def depthwise_case():
    c, m = 3, 2
    x = rand(2, c, 7, 6).requires_grad_()
    w = rand(c * m, 1, 3, 2).requires_grad_()
    b = rand(c * m).requires_grad_()
    y = F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=c)
    config = {'kernelSize': [3, 2], 'depthMultiplier': m, 'strides': [2, 1], 'padding': [1, 2], 'dilationRate': [1, 2]}
    write('depthwise_conv2d', config, x, y, {'depthwise_kernel': w, 'bias': b},
          {'depthwise_kernel': lambda t: depthwise_kernel(t, c, m), 'bias': bias})


def separable_case():
    c, m, f = 2, 3, 4
    x = rand(1, c, 6, 5).requires_grad_()
    wd = rand(c * m, 1, 3, 3).requires_grad_()
    wp = rand(f, c * m, 1, 1).requires_grad_()
    b = rand(f).requires_grad_()
    y = F.conv2d(F.conv2d(x, wd, None, padding=1, groups=c), wp, b)
    config = {'filters': f, 'kernelSize': [3, 3], 'depthMultiplier': m, 'padding': 1}
    write('separable_conv2d', config, x, y, {'depthwise_kernel': wd, 'pointwise_kernel': wp, 'bias': b},
          {'depthwise_kernel': lambda t: depthwise_kernel(t, c, m), 'pointwise_kernel': keras_kernel, 'bias': bias})


def grouped_case():
    cin, cout, groups = 6, 4, 2
    x = rand(2, cin, 5, 6).requires_grad_()
    w = rand(cout, cin // groups, 2, 3).requires_grad_()
    b = rand(cout).requires_grad_()
    # Asymmetric padding: top 1, bottom 0, left 2, right 1 (F.pad takes left, right, top, bottom).
    y = F.conv2d(F.pad(x, (2, 1, 1, 0)), w, b, stride=(1, 2), groups=groups)
    config = {'filters': cout, 'kernelSize': [2, 3], 'groups': groups, 'strides': [1, 2], 'padding': [[1, 0], [2, 1]]}
    write('grouped_conv2d', config, x, y, {'kernel': w, 'bias': b}, {'kernel': keras_kernel, 'bias': bias})


def transpose_case():
    cin, cout = 3, 2
    x = rand(2, cin, 3, 4).requires_grad_()
    w = rand(cin, cout, 3, 2).requires_grad_()
    b = rand(cout).requires_grad_()
    y = F.conv_transpose2d(x, w, b, stride=(2, 3), output_padding=(1, 2))
    config = {'filters': cout, 'kernelSize': [3, 2], 'strides': [2, 3], 'outputPadding': [1, 2]}
    write('conv2d_transpose_output_padding', config, x, y, {'kernel': w, 'bias': b},
          {'kernel': keras_kernel, 'bias': bias})


def bilinear_case():
    x = rand(2, 3, 4, 5).requires_grad_()
    y = F.interpolate(x, scale_factor=(3, 2), mode='bilinear', align_corners=False)
    write('upsampling2d_bilinear', {'size': [3, 2], 'interpolation': 'bilinear'}, x, y, {}, {})


depthwise_case()
separable_case()
grouped_case()
transpose_case()
bilinear_case()
