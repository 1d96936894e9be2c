// yieldToEventLoop on both of its paths: setImmediate (Node) and, with setImmediate hidden, a message
// to itself through a MessageChannel (browsers). Each lets what was queued before it run, and
// concurrent yields resolve in the order they were asked for.

import { afterEach, describe, expect, it } from 'vitest';
import { yieldToEventLoop } from './yield.ts';

const g = globalThis as { setImmediate?: typeof setImmediate };
const realSetImmediate = g.setImmediate;

afterEach(() => {
  g.setImmediate = realSetImmediate;
});

async function checkPath(): Promise<void> {
  const seen: string[] = [];
  const { port1, port2 } = new MessageChannel();
  port1.onmessage = () => seen.push('message');
  port2.postMessage(null); // a message that arrived before the yield
  await yieldToEventLoop();
  await yieldToEventLoop();
  expect(seen).toEqual(['message']);
  port1.close();
  const order: number[] = [];
  await Promise.all([1, 2, 3].map((i) => yieldToEventLoop().then(() => order.push(i))));
  expect(order).toEqual([1, 2, 3]);
}

describe('yieldToEventLoop', () => {
  it('by setImmediate where there is one (Node)', async () => {
    await checkPath();
  });

  it('by a MessageChannel message where there is no setImmediate (browsers)', async () => {
    g.setImmediate = undefined;
    await checkPath();
  });
});
