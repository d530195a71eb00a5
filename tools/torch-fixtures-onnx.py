#!/usr/bin/python3
# Writes the PyTorch -> ONNX fixtures of test/interop/onnx-import.test.ts: small models exported by
# torch.onnx.export (PyTorch 1.13, opset 17 unless a fixture says otherwise, dynamic batch) to
# test/fixtures/interop/onnx-import/<name>.onnx, with an input batch and PyTorch's outputs in <name>.json.
#
# Run with Debian's python3-torch, from the repository root:  /usr/bin/python3 tools/torch-fixtures-onnx.py
# The tests only read the files written here, so they need no Python. Seeds are fixed; weights are random
# (BatchNorm statistics too, so that inference-mode normalization is exercised).
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'interop', 'onnx-import')


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 12)
        self.fc3 = nn.Linear(12, 4)

    def forward(self, x):
        x = self.bn(torch.relu(self.fc1(x)))
        x = torch.tanh(self.fc2(x)) * torch.sigmoid(x[:, :12])
        return torch.softmax(self.fc3(x), dim=1)


class Cnn(nn.Module):
    """Conv / BatchNorm / ReLU / MaxPool / Flatten / Linear, as an MNIST CNN (bn2 folds into conv2 on export)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, bias=False)
        self.bn2 = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)


class Views(nn.Module):
    """Shape arithmetic that PyTorch exports as Shape/Gather/Unsqueeze/Concat feeding Reshape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 2)
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        y = self.conv(x)  # [N, 3, 4, 4]
        y = y.view(y.size(0), -1)  # [N, 48]
        y = y.reshape(y.size(0), 4, 12)
        y = self.fc(y)  # MatMul + Add on rank 3
        z = y.transpose(1, 2)  # [N, 6, 4]
        z = torch.cat([z, z * 2.0 - 1.0], dim=2)  # [N, 6, 8]
        return z.reshape(-1, 48) / 3.0


class NormGelu(nn.Module):
    """LayerNorm and GELU (exact: Erf)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.norm = nn.LayerNorm(10)
        self.fc2 = nn.Linear(10, 3)

    def forward(self, x):
        return self.fc2(F.gelu(self.norm(self.fc1(x))))


class Mixed(nn.Module):
    """Conv1d with dilation, a grouped Conv2d, activations, padding, pooling, clip, dropout."""

    def __init__(self):
        super().__init__()
        self.conv1d = nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2)
        self.conv2d = nn.Conv2d(4, 6, (3, 2), padding=(1, 0), groups=2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):  # x: [N, 3, 12]
        y = F.leaky_relu(self.conv1d(x), 0.1)  # [N, 4, 7]
        y = F.elu(y)
        y = F.avg_pool1d(F.pad(y, (1, 0)), 2)  # [N, 4, 4]
        y = y.unsqueeze(3).expand(-1, -1, -1, 3)  # [N, 4, 4, 3]
        y = F.hardtanh(self.conv2d(y), -0.5, 0.5)  # [N, 6, 4, 2]
        y = F.avg_pool2d(y, 2, stride=1)  # [N, 6, 3, 1]
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)  # GlobalAveragePool
        return self.fc(self.drop(y)) - 0.25


class Padded(nn.Module):
    """Ops no Candor layer computes exactly, which import as OnnxOp: padded pooling, grouped Conv1d, reductions."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1, groups=2)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):  # x: [N, 4, 6, 5]
        y = F.max_pool2d(x, 3, stride=2, padding=1)  # [N, 4, 3, 3]
        y = y + F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        y = y - F.avg_pool2d(x, 3, stride=2, padding=1)  # counting the padding (PyTorch's default)
        y = self.conv(y.flatten(2))  # [N, 6, 9]
        y = torch.cat([y.mean(dim=2), y.amax(dim=2)], dim=1).reshape(-1, 2, 6).sum(dim=1)
        return F.log_softmax(self.fc(torch.sqrt(y.abs() + 1) * torch.exp(-y)), dim=1)


class Recurrent(nn.Module):
    """nn.LSTM and nn.GRU, batch first, and the last step through a Linear."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.gru = nn.GRU(5, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return self.fc(y[:, -1])


def arr(t):
    t = t.detach().contiguous()
    return {'shape': list(t.shape), 'data': [round(float(v), 8) for v in t.reshape(-1).tolist()]}


def export(name, model, x, opset=17, dynamic=True):
    """Writes <name>.onnx and <name>.json (x and model(x)). Without `dynamic` the export sees one sample and
    declares batch 1, as torch.onnx.export does by default (PyTorch then folds the batch into reshapes); the JSON
    still holds the whole batch, which the importer must handle as the PyTorch module does."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    path = os.path.join(OUT, name + '.onnx')
    torch.onnx.export(
        model,
        (x if dynamic else x[:1],),
        path,
        opset_version=opset,
        input_names=['input'],
        output_names=['output'],
        dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}} if dynamic else None,
    )
    with torch.no_grad():
        y = model(x)
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'opset': opset, 'input': arr(x), 'output': arr(y)}, f)
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261207)
    export('mlp', Mlp(), torch.randn(3, 8))
    torch.manual_seed(20261208)
    export('cnn', Cnn(), torch.rand(3, 1, 10, 10))
    torch.manual_seed(20261209)
    model = Views()
    x = torch.randn(3, 2, 5, 5)
    export('views', model, x)
    export('views-fixed-batch', model, x, dynamic=False)
    torch.manual_seed(20261210)
    model = NormGelu()
    x = torch.randn(3, 6)
    export('norm-gelu', model, x)
    # Opset 13 has no LayerNormalization: PyTorch writes it out as ReduceMean / Sub / Pow / Sqrt / Div.
    export('norm-gelu-opset13', model, x, opset=13)
    torch.manual_seed(20261211)
    export('mixed', Mixed(), torch.randn(3, 3, 12))
    torch.manual_seed(20261213)
    export('padded', Padded(), torch.randn(3, 4, 6, 5))
    torch.manual_seed(20261212)
    model = Recurrent()
    x = torch.randn(3, 5, 4)
    export('recurrent', model, x)
    export('recurrent-fixed-batch', model, x, dynamic=False)


if __name__ == '__main__':
    main()
