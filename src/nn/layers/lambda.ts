// Lambda (Keras): wraps a function of the inputs as a layer. Code is not serialized (Keras too refuses to load
// arbitrary code): a Lambda saves the name its function was registered under with registerLambda(), and saving
// one whose function is not registered is an error that says how to register it.
import type { Tensor } from '../../tensor/tensor.js';
import { ArgumentError } from '../../errors.js';
import { Registry, checkOptions } from '../../registry.js';
import { BASE_OPTIONS } from '../layer-options.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { who } from './common.js';

/** The wrapped function: the input (a list for list calls) and the layer's `arguments`. */
export type LambdaFunction = (inputs: Tensor | Tensor[], args: Readonly<Record<string, unknown>>) => Tensor;

const FUNCTIONS = new Registry<LambdaFunction>('Lambda', 'Lambda function');

/**
 * Registers `fn` under `name`, so that Lambda layers wrapping it can be saved (as the name) and loaded again
 * (in a process that registered the same name). Registering a name again replaces its function.
 */
export function registerLambda(name: string, fn: LambdaFunction): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new ArgumentError(`registerLambda: name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (typeof fn !== 'function')
    throw new ArgumentError(`registerLambda: expected a function for '${name}', got ${typeof fn}`);
  FUNCTIONS.add(name, fn);
}

/** The registered name of `fn`, or undefined. */
function nameOf(fn: LambdaFunction): string | undefined {
  return FUNCTIONS.names.find((n) => FUNCTIONS.find(n)?.value === fn);
}

export interface LambdaArgs extends LayerArgs {
  /** The function, or the name it was registered under with registerLambda(). */
  function: LambdaFunction | string;
  /**
   * The output shape without the batch axis, when it cannot be found by running the function on zeros (the
   * default: the function runs once on zeros of the input shape, unknown sizes taken as 1).
   */
  outputShape?: readonly (number | null)[] | null;
  /** Extra JSON-able arguments passed to the function (Keras `arguments`). */
  arguments?: Record<string, unknown> | null;
}

const LAMBDA_OPTIONS: readonly string[] = [...BASE_OPTIONS, 'function', 'outputShape', 'arguments'];

export class Lambda extends Layer {
  static override readonly className: string = 'Lambda';
  readonly fn: LambdaFunction;
  /** The registered name of the function, when it has one (looked up when the config is asked for). */
  private readonly given: string | undefined;
  readonly outputShape: (number | null)[] | null;
  readonly arguments: Record<string, unknown>;

  constructor(args: LambdaArgs) {
    // Checked here, not by the layers factory: its check reads getConfig(), which refuses unregistered functions.
    checkOptions('Lambda', args, LAMBDA_OPTIONS);
    super(args);
    const f = args.function;
    if (typeof f === 'string') {
      const entry = FUNCTIONS.get(f);
      this.given = entry.name;
      this.fn = entry.value;
    } else if (typeof f === 'function') {
      this.fn = f;
    } else {
      throw new ArgumentError(
        `${who(this)}: function must be a function or a name given to registerLambda(), got ${typeof f}`,
      );
    }
    this.outputShape = args.outputShape ? [...args.outputShape] : null;
    const extra = args.arguments ?? {};
    if (typeof extra !== 'object' || Array.isArray(extra))
      throw new ArgumentError(`${who(this)}: arguments must be an object, got ${JSON.stringify(args.arguments)}`);
    this.arguments = { ...extra };
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return this.fn(inputs, this.arguments);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    if (!this.outputShape) return super.computeOutputShape(inputShape);
    const first = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as SymShape;
    return [first[0], ...this.outputShape];
  }

  override getConfig(): LayerConfig {
    const name = this.given ?? nameOf(this.fn);
    if (name === undefined)
      throw new ArgumentError(
        `${who(this)} cannot be saved: its function is not registered, and code is not serialized (as in Keras). ` +
          `Register it with registerLambda('someName', fn) before saving, and again before loading.`,
      );
    return {
      ...super.getConfig(),
      function: name,
      outputShape: this.outputShape ? [...this.outputShape] : null,
      arguments: JSON.parse(JSON.stringify(this.arguments)) as Record<string, unknown>,
    };
  }
}

registerLayer(Lambda);
