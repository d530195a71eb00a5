// The names of logged values (Keras' snake_case: 'binary_accuracy', 'val_loss', 'priority_loss'), and
// the lookups that also accept the camelCase spelling ('valBinaryAccuracy', history.history.binaryAccuracy).
import { snake } from '../nn/names.js';
import { normalizeName } from '../registry.js';

/** The key a metric named `name` is logged under: Keras' snake_case ('binaryAccuracy' -> 'binary_accuracy'). */
export function logName(name: string): string {
  return snake(name);
}

/**
 * The key of `logs` that `name` means: the key itself, else the one it spells in another case style
 * ('valBinaryAccuracy' or 'val_binaryAccuracy' for 'val_binary_accuracy'); undefined when none does.
 */
export function findLogKey(logs: object, name: string): string | undefined {
  if (Object.hasOwn(logs, name)) return name;
  const wanted = normalizeName(name);
  return Object.keys(logs).find((k) => normalizeName(k) === wanted);
}

/**
 * `logs` (History.history, evaluate's result) readable under the camelCase names too, so code written
 * for the old keys (history.history.binaryAccuracy) keeps working. Object.keys, JSON and spreading
 * show the snake_case keys only.
 */
export function withCamelCaseAliases<T extends object>(logs: T): T {
  return new Proxy(logs, {
    get(target, key, receiver) {
      if (typeof key !== 'string' || key in target) return Reflect.get(target, key, receiver);
      const found = findLogKey(target, key);
      return found === undefined ? undefined : Reflect.get(target, found, receiver);
    },
    has(target, key) {
      return key in target || (typeof key === 'string' && findLogKey(target, key) !== undefined);
    },
  });
}
