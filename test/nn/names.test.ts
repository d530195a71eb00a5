// Default layer names: Keras' snake_case rule, per-prefix counters, and names reserved by loaded configs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reserveName, snake, uniqueName } from '../../src/nn/names.js';
import { suggest } from '../../src/registry.js';

test('snake follows Keras', () => {
  assert.equal(snake('Conv2DTranspose'), 'conv2d_transpose');
  assert.equal(snake('MaxPooling2D'), 'max_pooling2d');
  assert.equal(snake('InputLayer'), 'input_layer');
  assert.equal(snake('Dense'), 'dense');
});

test('uniqueName counts per prefix and skips reserved names', () => {
  assert.equal(uniqueName('zz_test'), 'zz_test');
  assert.equal(uniqueName('zz_test'), 'zz_test_1');
  reserveName('zz_test_7');
  assert.equal(uniqueName('zz_test'), 'zz_test_8');
  reserveName('zz_other');
  assert.equal(uniqueName('zz_other'), 'zz_other_1');
});

test('suggest names the nearest known name', () => {
  assert.match(suggest('adma', ['sgd', 'adam', 'rmsprop']), /did you mean 'adam'\?/);
  assert.doesNotMatch(suggest('completelydifferent', ['sgd', 'adam']), /did you mean/);
});
