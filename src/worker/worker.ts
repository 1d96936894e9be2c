// The training worker's entry: one engine, answering the page. Everything else is in engine.ts.
import { Engine } from './engine.ts';
import { browserHost } from './browser-host.ts';
import { serve, type MessagePortLike } from './serve.ts';

serve(new Engine(browserHost(import.meta.env.BASE_URL)), self as unknown as MessagePortLike);
