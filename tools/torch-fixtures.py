#!/usr/bin/python3
# Writes the PyTorch reference fixtures for test/nn/torch-parity.test.ts: LSTM, GRU, SimpleRNN and
# MultiheadAttention outputs and gradients on fixed random weights and inputs, in float64.
#
# Run with Debian's python3-torch (apt-get install python3-torch), from the repository root:
#     /usr/bin/python3 tools/torch-fixtures.py
# The tests only read the JSON files, so they need no Python.
#
# Every weight and weight gradient is written in the Candor/Keras layout, so the test can call
# setWeights() with it directly. The mapping from PyTorch:
#   LSTM: torch gates i, f, g, o == Keras i, f, c, o (same order).
#         kernel [in, 4H] = weight_ih_l0.T; recurrent_kernel [H, 4H] = weight_hh_l0.T;
#         bias [4H] = bias_ih_l0 + bias_hh_l0 (Keras has one bias; both torch biases add to the same
#         pre-activation, so the gradient w.r.t. the Keras bias equals either torch bias gradient).
#   GRU:  torch gates r, z, n vs Keras z, r, h: columns are reordered (z, r, n). torch's GRU applies the
#         reset gate after the recurrent matmul, i.e. it is Keras GRU(resetAfter=true), whose bias is
#         [2, 3H] = [input bias (b_ih reordered), recurrent bias (b_hh reordered)].
#   SimpleRNN: kernel = weight_ih_l0.T, recurrent_kernel = weight_hh_l0.T, bias = bias_ih + bias_hh.
#   MultiheadAttention (E = embed, H heads, d = E / H): in_proj_weight [3E, E] stacks Wq, Wk, Wv.
#         query/kernel [E, H, d] = Wq.T reshaped (torch's projected features are head-major, h * d + j);
#         query/bias [H, d] = bq reshaped; likewise key and value; attention_output/kernel [H, d, E] =
#         out_proj.weight.T reshaped; attention_output/bias = out_proj.bias. torch's boolean attn_mask
#         marks positions NOT allowed; Keras' attentionMask marks allowed ones (the fixture stores Keras').
# Each case's loss is sum(output * projection) (+ the final states' projections for the RNNs), and the
# gradients are of that scalar.
import json
import os

import torch

torch.manual_seed(20240521)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


def arr(t):
    t = t.detach().contiguous()
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def randomize(module, scale=0.5):
    """Fixed uniform weights in [-scale, scale), larger than torch's defaults so every path matters."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(rand(*p.shape, scale=scale))


def write(name, case):
    os.makedirs(OUT, exist_ok=True)
    case = {'generator': 'tools/torch-fixtures.py', 'torch': torch.__version__, **case}
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(case, f, separators=(',', ':'))
        f.write('\n')


def rnn_case(kind, batch=2, time=4, features=3, units=4):
    cls = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'simple_rnn': torch.nn.RNN}[kind]
    rnn = cls(features, units, batch_first=True)
    randomize(rnn)
    x = rand(batch, time, features).requires_grad_()
    h0 = rand(1, batch, units).requires_grad_()
    c0 = rand(1, batch, units).requires_grad_() if kind == 'lstm' else None
    if kind == 'lstm':
        seq, (hn, cn) = rnn(x, (h0, c0))
    else:
        seq, hn = rnn(x, h0)
        cn = None
    r_seq, r_h = rand(*seq.shape), rand(batch, units)
    loss = (seq * r_seq).sum() + (hn[0] * r_h).sum()
    r_c = None
    if cn is not None:
        r_c = rand(batch, units)
        loss = loss + (cn[0] * r_c).sum()
    loss.backward()

    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    if kind == 'gru':
        # torch rows r, z, n -> Keras columns z, r, h.
        def order(t):
            r, z, n = t.chunk(3, 0)
            return torch.cat([z, r, n], 0)
        weights = {'kernel': order(w_ih).T, 'recurrent_kernel': order(w_hh).T, 'bias': torch.stack([order(b_ih), order(b_hh)])}
        grads = {'kernel': order(w_ih.grad).T, 'recurrent_kernel': order(w_hh.grad).T, 'bias': torch.stack([order(b_ih.grad), order(b_hh.grad)])}
    else:
        weights = {'kernel': w_ih.T, 'recurrent_kernel': w_hh.T, 'bias': b_ih + b_hh}
        grads = {'kernel': w_ih.grad.T, 'recurrent_kernel': w_hh.grad.T, 'bias': b_ih.grad}

    inputs = {'x': arr(x), 'h0': arr(h0[0])}
    outputs = {'sequence': arr(seq), 'h': arr(hn[0])}
    projections = {'sequence': arr(r_seq), 'h': arr(r_h)}
    input_grads = {'x': arr(x.grad), 'h0': arr(h0.grad[0])}
    if kind == 'lstm':
        inputs['c0'] = arr(c0[0])
        outputs['c'] = arr(cn[0])
        projections['c'] = arr(r_c)
        input_grads['c0'] = arr(c0.grad[0])
    write(kind, {
        'layer': {'lstm': 'LSTM', 'gru': 'GRU', 'simple_rnn': 'SimpleRNN'}[kind],
        'config': {'units': units, **({'resetAfter': True} if kind == 'gru' else {})},
        'inputs': inputs,
        'weights': {k: arr(v) for k, v in weights.items()},
        'outputs': outputs,
        'projections': projections,
        'grads': {**input_grads, **{k: arr(v) for k, v in grads.items()}},
    })


def mha_case(name, causal, batch=2, t=3, s=4, embed=6, heads=2):
    mha = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    randomize(mha)
    d = embed // heads
    query = rand(batch, t, embed).requires_grad_()
    if causal:
        # Self-attention: query, key and value are the same sequence.
        key = value = query
        allowed = torch.tril(torch.ones(t, t, dtype=torch.bool)).expand(batch, t, t)
    else:
        key = rand(batch, s, embed).requires_grad_()
        value = rand(batch, s, embed).requires_grad_()
        # A padding-like mask with no fully masked row: batch 1 cannot see its last key, and query 0 of
        # batch 0 cannot see key 1.
        allowed = torch.ones(batch, t, s, dtype=torch.bool)
        allowed[1, :, s - 1] = False
        allowed[0, 0, 1] = False
    # torch: True = not allowed, one [T, S] mask per (batch, head), batch-major.
    torch_mask = (~allowed).repeat_interleave(heads, dim=0)
    out, scores = mha(query, key, value, attn_mask=torch_mask, need_weights=True, average_attn_weights=False)
    proj = rand(*out.shape)
    (out * proj).sum().backward()

    wq, wk, wv = mha.in_proj_weight.chunk(3, 0)
    bq, bk, bv = mha.in_proj_bias.chunk(3, 0)
    gq, gk, gv = mha.in_proj_weight.grad.chunk(3, 0)
    gbq, gbk, gbv = mha.in_proj_bias.grad.chunk(3, 0)
    kernel = lambda w: w.T.reshape(embed, heads, d)
    bias = lambda b: b.reshape(heads, d)
    out_kernel = lambda w: w.T.reshape(heads, d, embed)
    weights = [kernel(wq), bias(bq), kernel(wk), bias(bk), kernel(wv), bias(bv), out_kernel(mha.out_proj.weight), mha.out_proj.bias]
    grads = [kernel(gq), bias(gbq), kernel(gk), bias(gbk), kernel(gv), bias(gbv), out_kernel(mha.out_proj.weight.grad), mha.out_proj.bias.grad]
    names = ['query/kernel', 'query/bias', 'key/kernel', 'key/bias', 'value/kernel', 'value/bias', 'attention_output/kernel', 'attention_output/bias']
    inputs = {'query': arr(query)}
    input_grads = {'query': arr(query.grad)}
    if not causal:
        inputs.update(key=arr(key), value=arr(value))
        input_grads.update(key=arr(key.grad), value=arr(value.grad))
    write(name, {
        'layer': 'MultiHeadAttention',
        'config': {'numHeads': heads, 'keyDim': d, 'useCausalMask': causal},
        'inputs': inputs,
        'attentionMask': None if causal else {'shape': list(allowed.shape), 'data': [bool(v) for v in allowed.reshape(-1).tolist()]},
        'weights': {n: arr(w) for n, w in zip(names, weights)},
        'outputs': {'output': arr(out), 'scores': arr(scores)},
        'projections': {'output': arr(proj)},
        'grads': {**input_grads, **{n: arr(g) for n, g in zip(names, grads)}},
    })


if __name__ == '__main__':
    for kind in ['lstm', 'gru', 'simple_rnn']:
        rnn_case(kind)
    mha_case('mha', causal=False)
    mha_case('mha_causal', causal=True)
    print(f'wrote fixtures to {os.path.normpath(OUT)}')
