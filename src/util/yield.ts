// Yielding to the event loop between long synchronous stretches (training steps, evaluation batches),
// so that a worker gets its messages (pause, stop) and timers run.

/** A message to ourselves: a task that timers do not clamp (see yieldToEventLoop). */
let channel: { port: MessagePort; waiting: (() => void)[] } | undefined;

/**
 * Let the event loop run (messages to a worker, timers) between steps. Not by setTimeout(0): a
 * browser clamps a timer set from inside a timer's task, five deep, to 4 ms (the HTML spec's timer
 * nesting rule), and each step's timer would be clamped. setImmediate in Node, a message through a
 * MessageChannel in a browser.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  if (channel === undefined) {
    const { port1, port2 } = new MessageChannel();
    const waiting: (() => void)[] = [];
    port1.onmessage = () => waiting.shift()?.();
    (port1 as { unref?: () => void }).unref?.(); // Node: an idle port must not keep the process alive
    channel = { port: port2, waiting };
  }
  const c = channel;
  return new Promise((resolve) => {
    c.waiting.push(resolve);
    c.port.postMessage(null);
  });
}
