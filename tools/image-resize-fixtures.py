#!/usr/bin/python3
# Writes test/fixtures/image/resize.json, reference numbers for Candor's image.resize / Resizing layer.
#
# TensorFlow is not installed here; PyTorch 1.13 (Debian's python3-torch) computes the same numbers:
# torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=False) samples at
# half-pixel centres, (i + 0.5) * in / out - 0.5, clamped at the edges, as tf.image.resize(bilinear) without
# antialias; mode='nearest-exact' is floor((i + 0.5) * in / out), as TF2's half-pixel nearest neighbour.
# cropToAspectRatio cases crop Keras' centred window in Python first.
# Run from the repository root:  /usr/bin/python3 tools/image-resize-fixtures.py
import json

import torch
import torch.nn.functional as F

torch.manual_seed(11)


def aspect_crop(h, w, th, tw):
    # keras.src.ops.image crop_to_aspect_ratio arithmetic
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    return int(float(h - ch) / 2), int(float(w - cw) / 2), ch, cw


def case(name, shape, size, interpolation, crop=False):
    b, h, w, c = shape
    x = torch.rand(shape, dtype=torch.float64) * 10 - 5
    src = x
    if crop:
        top, left, ch, cw = aspect_crop(h, w, size[0], size[1])
        src = x[:, top : top + ch, left : left + cw, :]
    nchw = src.permute(0, 3, 1, 2)
    if interpolation == 'bilinear':
        y = F.interpolate(nchw, size=size, mode='bilinear', align_corners=False, antialias=False)
    else:
        y = F.interpolate(nchw, size=size, mode='nearest-exact')
    y = y.permute(0, 2, 3, 1).contiguous()
    return {
        'name': name,
        'inputShape': list(shape),
        'size': list(size),
        'interpolation': interpolation,
        'cropToAspectRatio': crop,
        'input': x.flatten().tolist(),
        'output': y.flatten().tolist(),
    }


cases = [
    case('bilinear up', [2, 3, 4, 2], [5, 7], 'bilinear'),
    case('bilinear down', [1, 7, 9, 3], [3, 4], 'bilinear'),
    case('bilinear mixed', [1, 4, 6, 1], [8, 3], 'bilinear'),
    case('nearest up', [1, 3, 4, 2], [7, 9], 'nearest'),
    case('nearest down', [2, 8, 6, 1], [3, 4], 'nearest'),
    case('bilinear crop', [1, 6, 10, 2], [4, 4], 'bilinear', crop=True),
    case('nearest crop', [1, 9, 5, 1], [3, 6], 'nearest', crop=True),
]
with open('test/fixtures/image/resize.json', 'w') as f:
    json.dump({'generator': 'tools/image-resize-fixtures.py (torch %s)' % torch.__version__, 'cases': cases}, f)
print('wrote', len(cases), 'cases')
