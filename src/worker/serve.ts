// Answers EngineRequests arriving on a message port with a LabEngine, and forwards its events: the
// whole body of the worker, kept apart from the entry file so it can be read (and tested) on its own.

import type { EngineReplies, EngineRequest, LabEngine, ReplyType, WorkerMessage } from './protocol.ts';

export interface MessagePortLike {
  postMessage(message: WorkerMessage): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<EngineRequest>) => void): void;
}

export function serve(engine: LabEngine, port: MessagePortLike): void {
  engine.subscribe((event) => port.postMessage({ type: 'event', event }));

  const answer = <T extends ReplyType>(id: number, work: () => Promise<EngineReplies[T]>) => {
    work().then(
      (value) => port.postMessage({ type: 'reply', id, ok: true, value }),
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        port.postMessage({ type: 'reply', id, ok: false, name: err.name, message: err.message });
      },
    );
  };

  port.addEventListener('message', ({ data: req }) => {
    switch (req.type) {
      case 'set-backend':
        return answer(req.id, () => engine.setBackend(req.choice, req.options));
      case 'load-data':
        return answer(req.id, () => engine.loadData(req.source));
      case 'train':
        return answer(req.id, () => engine.train(req.config, req.options));
      case 'continue-run':
        return answer(req.id, () => engine.continueRun(req.storedId, req.options));
      case 'export-weights':
        return answer(req.id, () => engine.exportWeights());
      case 'load-weights':
        return answer(req.id, () => engine.loadWeights(req.files, req.config, req.options));
      case 'inspect':
        return answer(req.id, () => engine.inspect(req.options));
      case 'test-images':
        return answer(req.id, () => engine.testImages(req.indices));
      case 'pause':
        return engine.pause();
      case 'resume':
        return engine.resume();
      case 'stop':
        return engine.stop();
    }
  });
}
