// Registers tfjs-core's gradient functions, which tf.grads / tf.variableGrads / optimizers need.
//
// @tensorflow/tfjs-core's index does not register them (the union package @tensorflow/tfjs does, and
// we do not use it). They live in the ES-module tree '@tensorflow/tfjs-core/dist/register_all_gradients'.
// Bundlers (Vite in the browser, Vitest) load that tree fine. Plain Node (tsx, the CLI) cannot: the
// tree uses extensionless relative imports and imports './gradients' where both gradients.js and a
// gradients/ folder exist. In Node we therefore add a module-resolution hook, limited to relative
// imports from inside node_modules/@tensorflow/, that resolves 'x' to 'x.js' first (what bundlers do)
// and 'x/index.js' second. The gradient tree shares the engine, kernel and gradient registries of the
// CommonJS build of tfjs-core that Node loads for '@tensorflow/tfjs-core', because tfjs keeps those
// in a global namespace.

import { getGradient } from '@tensorflow/tfjs-core';

const HOOK_SOURCE = `
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent && parent.includes('/node_modules/@tensorflow/') &&
      (specifier.startsWith('./') || specifier.startsWith('../')) && !/\\.[cm]?js$/.test(specifier)) {
    for (const candidate of [specifier + '.js', specifier + '/index.js']) {
      try { return await next(candidate, context); } catch { /* try the next form */ }
    }
  }
  return next(specifier, context);
}
`;

let hookInstalled = false;

interface NodeModuleApi {
  register(specifier: string, parentURL?: string | URL): void;
}

function nodeModuleApi(): NodeModuleApi | undefined {
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } })
    .process;
  if (p?.versions?.node == null || typeof p.getBuiltinModule !== 'function') return undefined;
  return p.getBuiltinModule('node:module') as NodeModuleApi;
}

/** True once tfjs-core's gradients are registered (checked on Conv2D's). */
export function gradientsRegistered(): boolean {
  return getGradient('Conv2D') != null;
}

/** Registers tfjs-core's gradients once; safe to call many times and in any environment. */
export async function ensureGradients(): Promise<void> {
  if (gradientsRegistered()) return;
  const nodeModule = nodeModuleApi();
  if (nodeModule != null && !hookInstalled) {
    nodeModule.register(`data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`);
    hookInstalled = true;
  }
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  if (!gradientsRegistered()) {
    throw new Error('tfjs-core gradients did not register: tf.grads would fail on every op.');
  }
}
