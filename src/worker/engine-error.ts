// The engine's one error of its own: a request it cannot do in its current state. Shared by the engine
// and its run preparation (run-setup.ts); the page shows its message as it is.

/** A request the engine cannot do in its current state, said so a person knows what to do. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
