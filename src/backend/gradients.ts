// Registers tfjs-core's gradient functions, which tf.grads / tf.variableGrads need; tfjs-core's index
// does not (the union package @tensorflow/tfjs does, and we do not use it). They are in the ES-module
// tree '@tensorflow/tfjs-core/dist/register_all_gradients', which bundlers load fine but plain Node
// cannot (extensionless imports, './gradients' both a file and a folder). In Node a resolution hook,
// limited to relative imports inside node_modules/@tensorflow/, tries 'x.js' then 'x/index.js'. The
// tree shares the registries of the CommonJS tfjs-core Node loads, since tfjs keeps them global.

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
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
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
