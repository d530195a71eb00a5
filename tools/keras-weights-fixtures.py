#!/usr/bin/python3
# Writes small Keras weights files with h5py for test/interop/keras.test.ts, laid out as Keras writes them
# (Keras itself is not installed here): test/fixtures/interop/keras/
#   dense-bn.weights.h5  Keras 3 save_weights of Sequential [Dense(4->3), BatchNormalization, Dense(3->2)]
#                        (layers/<class>[_n]/vars/<i>, plus the optimizer/ and root vars/ groups Keras adds)
#   nested.weights.h5    Keras 3: Sequential [Sequential [Dense(4->3)], LSTM(2), Dense(2->1)] on inputs [5, 4]
#   legacy.weights.h5    Keras 2 save_weights (h5 format): layer_names / weight_names attributes, 'dense/kernel:0'
#   custom.weights.h5    Keras 3: Sequential [Dense(4->3), MyScale (one weight 'scale' of shape (3,)), Dense(3->2)]
#   legacy-nested.weights.h5  Keras 2 save_weights (h5) of Sequential [Sequential [Dense(8->8) frozen, Dense(8->8),
#                        BatchNormalization], Dense(8->2) frozen]. The rule followed is Keras' own, from
#                        keras/src/legacy/saving/legacy_h5_format.py (save_weights_to_hdf5_group): each top-level
#                        layer's group holds _legacy_weights(layer) = layer.trainable_weights +
#                        layer.non_trainable_weights, so a nested model lists the trainable weights of all its
#                        layers first, then the non-trainable ones (a frozen layer's weights, BatchNormalization's
#                        moving statistics); weight_names holds each variable's name ('dense_1/kernel:0').
# Every value is value(k, i) = ((7 i + 3 k) mod 17 - 8) / 16 (+ 1 for BatchNormalization's moving variance),
# k the weight's index in the file, i the element's row-major index: exact in float32, so the test recomputes it.
# Run from the repository root:  /usr/bin/python3 tools/keras-weights-fixtures.py
import os

import h5py
import numpy as np

OUT = "test/fixtures/interop/keras"


class Values:
    """Hands out the weights of a file in order, each from the formula above."""

    def __init__(self):
        self.k = 0

    def __call__(self, shape, offset=0.0):
        n = int(np.prod(shape))
        i = np.arange(n)
        v = ((7 * i + 3 * self.k) % 17 - 8) / 16 + offset
        self.k += 1
        return v.reshape(shape).astype(np.float32)


def keras3_layer(f, path, name, arrays):
    """A Keras 3 layer group: <path>/vars/<i>, the vars group carrying the layer's name (Keras >= 3.10)."""
    vars_group = f.create_group(path).create_group("vars")
    vars_group.attrs["name"] = name
    for i, a in enumerate(arrays):
        vars_group[str(i)] = a


def dense_bn():
    v = Values()
    with h5py.File(os.path.join(OUT, "dense-bn.weights.h5"), "w") as f:
        keras3_layer(f, "layers/dense", "hidden", [v((4, 3)), v((3,))])
        bn = [v((3,)), v((3,)), v((3,)), v((3,), offset=1.0)]  # gamma, beta, moving_mean, moving_variance
        keras3_layer(f, "layers/batch_normalization", "norm", bn)
        keras3_layer(f, "layers/dense_1", "out", [v((3, 2)), v((2,))])
        f.create_group("vars").attrs["name"] = "sequential"
        opt = f.create_group("optimizer").create_group("vars")
        opt.attrs["name"] = "adam"
        opt["0"] = np.array(3, dtype=np.int64)  # iterations: not a layer weight, never read


def nested():
    # Sequential [Sequential [Dense(4->3)], LSTM(units 2, on [5, 3]), Dense(2->1)]: the inner model's layers sit
    # under layers/sequential/layers/, the LSTM's weights under its cell (kernel, recurrent_kernel, bias).
    v = Values()
    with h5py.File(os.path.join(OUT, "nested.weights.h5"), "w") as f:
        keras3_layer(f, "layers/sequential/layers/dense", "inner_dense", [v((4, 3)), v((3,))])
        f["layers/sequential"].create_group("vars").attrs["name"] = "inner"
        keras3_layer(f, "layers/lstm/cell", "lstm_cell", [v((3, 8)), v((2, 8)), v((8,))])
        f["layers/lstm"].create_group("vars").attrs["name"] = "lstm"
        keras3_layer(f, "layers/dense", "head", [v((2, 1)), v((1,))])
        f.create_group("vars").attrs["name"] = "outer"


def legacy():
    # Keras 2's save_weights: a group per layer named after it; weight_names in the layer's weight order (kernel
    # before bias, though the datasets are listed by name); layers without weights have an empty list.
    v = Values()
    with h5py.File(os.path.join(OUT, "legacy.weights.h5"), "w") as f:
        names = ["dense", "dropout", "dense_1"]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        shapes = {"dense": [(4, 3), (3,)], "dropout": [], "dense_1": [(3, 2), (2,)]}
        for n in names:
            g = f.create_group(n)
            weight_names = [f"{n}/{w}:0" for w in ["kernel", "bias"][: len(shapes[n])]]
            g.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for w, shape in zip(weight_names, shapes[n]):
                g[w] = v(shape)


def custom():
    v = Values()
    with h5py.File(os.path.join(OUT, "custom.weights.h5"), "w") as f:
        keras3_layer(f, "layers/dense", "dense", [v((4, 3)), v((3,))])
        keras3_layer(f, "layers/my_scale", "my_scale", [v((3,))])
        keras3_layer(f, "layers/dense_1", "dense_1", [v((3, 2)), v((2,))])
        f.create_group("vars").attrs["name"] = "sequential"


def legacy_nested():
    v = Values()
    with h5py.File(os.path.join(OUT, "legacy-nested.weights.h5"), "w") as f:
        f.attrs["layer_names"] = np.array([b"sequential", b"dense_2"])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        # _legacy_weights order: trainable (dense_1, BN gamma/beta), then non-trainable (frozen dense, BN moving).
        inner = [
            ("dense_1/kernel:0", (8, 8), 0.0),
            ("dense_1/bias:0", (8,), 0.0),
            ("batch_normalization/gamma:0", (8,), 0.0),
            ("batch_normalization/beta:0", (8,), 0.0),
            ("dense/kernel:0", (8, 8), 0.0),
            ("dense/bias:0", (8,), 0.0),
            ("batch_normalization/moving_mean:0", (8,), 0.0),
            ("batch_normalization/moving_variance:0", (8,), 1.0),
        ]
        # A frozen top-level layer: trainable_weights is empty, non_trainable_weights its weights in their order.
        outer = [("dense_2/kernel:0", (8, 2), 0.0), ("dense_2/bias:0", (2,), 0.0)]
        for name, weights in [("sequential", inner), ("dense_2", outer)]:
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([w.encode() for w, _, _ in weights])
            for w, shape, offset in weights:
                g[w] = v(shape, offset)


os.makedirs(OUT, exist_ok=True)
dense_bn()
nested()
legacy()
custom()
legacy_nested()
