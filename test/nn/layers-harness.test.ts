// Tests the layer-test harness itself: each check must catch the bug it exists for, shown on small
// deliberately broken layers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, keep, mul, stopGradient } from '../../src/index.js';
import {
  Layer,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../../src/nn/layer.js';
import type { Variable } from '../../src/nn/variable.js';
import { runLayerTest } from './harness.js';

type ScaleArgs = LayerArgs & { factor?: number; bug?: 'config' | 'gradient' | 'leak' | 'shape' };

/** y = x * w * factor with one weight w [features]; `bug` breaks one thing the harness must notice. */
class Scale extends Layer {
  static override readonly className: string = 'HarnessScale';
  readonly factor: number;
  readonly bug?: ScaleArgs['bug'];
  w?: Variable;
  constructor(args: ScaleArgs = {}) {
    super(args);
    this.factor = args.factor ?? 1;
    this.bug = args.bug;
  }
  override build(shape: SymShape | SymShape[]): void {
    const s = shape as SymShape;
    this.w = this.addWeight('w', [s[s.length - 1]!], 'randomNormal');
  }
  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const w = this.bug === 'gradient' ? stopGradient(this.w!.value) : this.w!.value;
    const scaled = mul(inputs as Tensor, w);
    if (this.bug === 'leak') keep(mul(scaled, 1));
    return mul(scaled, this.factor);
  }
  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const s = inputShape as SymShape;
    return this.bug === 'shape' ? [...s, 1] : s;
  }
  override getConfig(): LayerConfig {
    // The 'config' bug forgets to save factor; the bug flag itself is saved so rebuilt layers keep it.
    return {
      ...super.getConfig(),
      ...(this.bug === 'config' ? {} : { factor: this.factor }),
      ...(this.bug ? { bug: this.bug } : {}),
    };
  }
}
registerLayer(Scale);

class Unregistered extends Scale {
  static override readonly className: string = 'HarnessUnregistered';
}

const run = (args: ScaleArgs, make: (a: ScaleArgs) => Layer = (a) => new Scale(a)) =>
  runLayerTest({ make: () => make(args), inputShape: [2, 3], expectedOutputShape: [2, 3] });

describe('the layer-test harness', () => {
  test('passes a correct layer', () => run({ factor: 2 }));
  test('catches a config that forgets an argument (serialization round trip)', () => {
    assert.throws(() => run({ factor: 2, bug: 'config' }), /\[HarnessScale serialization round trip\]/);
  });
  test('catches an unregistered class', () => {
    assert.throws(
      () => run({}, (a) => new Unregistered(a)),
      /\[HarnessUnregistered config round trip\].*unknown layer class/,
    );
  });
  test('catches a wrong gradient', () => {
    assert.throws(() => run({ bug: 'gradient' }), /\[HarnessScale float64 gradients\] gradient check failed/);
  });
  test('catches a wrong computeOutputShape', () => {
    assert.throws(() => run({ bug: 'shape' }), /\[HarnessScale output shapes\]/);
  });
  test('catches a tensor leak', () => {
    assert.throws(() => run({ bug: 'leak' }), /\[HarnessScale no tensor leak\]/);
  });
});
