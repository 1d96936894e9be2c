// The experiment queue's pure parts (issue 6): what an item is, the items "Queue this table" and
// "Queue N seeds" make, which item runs next, what a run's end makes of an item, mean +- std over
// repeated seeds, and the queue's saved form (localStorage) with the check of what is read back: a
// saved queue is data from outside the program, so every field is validated and a queue that fails is
// reported (and kept aside by the slice), never half-used. No DOM, no store.

import { groupRepeats, type RepeatGroup } from './compare.ts';
import { configKey, parseConfigQuery, type ExperimentConfig } from '../experiment/config.ts';
import { finalAndBest, runThisConfig, type ReferenceTable, type TestPointLike } from './reference-tables.ts';
import type { RunEnd, RunOptions } from '../worker/protocol.ts';

/**
 * waiting: not started yet; running: training now (or was, when the page closed: see 'interrupted');
 * done: finished its epochs or its step limit; stopped: the user pressed Stop; diverged, failed: the
 * run ended so; interrupted: the page closed or the worker died mid-run (Continue resumes it).
 */
export type QueueItemState = 'waiting' | 'running' | 'done' | 'stopped' | 'diverged' | 'failed' | 'interrupted';
export const QUEUE_ITEM_STATES: readonly QueueItemState[] = ['waiting', 'running', 'done', 'stopped', 'diverged', 'failed', 'interrupted'];

/** Items whose run is over for the queue (Clear finished removes them). */
export const FINISHED_STATES: readonly QueueItemState[] = ['done', 'stopped', 'diverged', 'failed'];

export interface QueueItem {
  id: string;
  /** What the user reads: "gcr (Torch): depth: gcr (Torch), 20 layers", "ResNet-20 gcr sgd-nesterov". */
  label: string;
  /** The configuration, seed included (saved as its canonical query string). */
  config: ExperimentConfig;
  /** The run options in force when the item was queued. */
  options: RunOptions;
  state: QueueItemState;
  /** The run's id in the run history, once it started. */
  storedId?: string;
  /** How the run ended (finished and max-steps both make 'done'). */
  end?: RunEnd;
  /** Test error (fraction) after the last evaluation: the headline. */
  finalTestError?: number;
  /** Lowest test error of the run and its epoch: chosen on the test set, not a fair result. */
  bestTestError?: number;
  bestEpoch?: number;
  /** A sentence about what happened (why it failed, that it was interrupted, ...). */
  message?: string;
}

export interface SavedQueue {
  version: 1;
  /** The user's Start (true) or Pause (false). */
  running: boolean;
  items: QueueItem[];
}

export const QUEUE_STORAGE_KEY = 'resnet-lab.queue';
/** Where an unreadable saved queue is kept (with a time stamp when one is already there). */
export const QUEUE_CORRUPT_KEY = 'resnet-lab.queue.unreadable';
export const MAX_QUEUE_ITEMS = 1000;
export const MAX_SEEDS = 100;
const MAX_LABEL = 300;
const MAX_MESSAGE = 2000;
const MAX_SAVED_CHARS = 2_000_000;

let idCount = 0;
/** A new item id, unique in this page and very likely across reloads. */
export function newItemId(): string {
  idCount += 1;
  return `q${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}${idCount.toString(36)}`;
}

/** Run options copied (only the known keys, only when set). */
export function copyOptions(o: RunOptions): RunOptions {
  const out: RunOptions = {};
  if (o.maxSteps !== undefined) out.maxSteps = o.maxSteps;
  if (o.evalLimit !== undefined) out.evalLimit = o.evalLimit;
  if (o.checkpointEvery !== undefined) out.checkpointEvery = o.checkpointEvery;
  return out;
}

/** "ResNet-20 gcr sgd-nesterov" (the seed is shown beside it). */
export function configLabel(c: ExperimentConfig): string {
  return `ResNet-${c.depth} ${c.protocol} ${c.solver}`;
}

export function makeItem(config: ExperimentConfig, options: RunOptions, label = configLabel(config)): QueueItem {
  return { id: newItemId(), label, config: { ...config }, options: copyOptions(options), state: 'waiting' };
}

/** `n` repeats of one configuration with seeds config.seed, config.seed + 1, ... (within the seed range). */
export function seedItems(config: ExperimentConfig, n: number, options: RunOptions): QueueItem[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SEEDS)
    throw new RangeError(`the number of seeds must be a whole number from 1 to ${MAX_SEEDS}`);
  const last = 2 ** 32 - 1;
  const first = Math.min(config.seed, last - (n - 1));
  return Array.from({ length: n }, (_, i) => makeItem({ ...config, seed: first + i }, options));
}

/** Every row of a published table, with exactly the configuration its "Run this" selects (this seed). */
export function tableItems(table: ReferenceTable, seed: number, options: RunOptions): QueueItem[] {
  return table.rows.map((row) => makeItem(runThisConfig(row, { seed }), options, `${table.title}: ${row.name}`));
}

/** The item the queue runs next: the first, in list order, that is waiting or was interrupted. */
export function nextItem(items: readonly QueueItem[]): QueueItem | undefined {
  return items.find((i) => i.state === 'waiting' || i.state === 'interrupted');
}

/** What a run's end makes of its item. */
export function stateForEnd(end: RunEnd): QueueItemState {
  switch (end) {
    case 'finished':
    case 'max-steps':
      return 'done';
    case 'stopped':
    case 'diverged':
    case 'failed':
    case 'interrupted':
      return end;
  }
}

/** Whether the queue goes on by itself after a run ended so (a user's Stop and an interruption pause it). */
export function continuesAfter(end: RunEnd): boolean {
  return end !== 'stopped' && end !== 'interrupted';
}

/** The final and best test errors of a run from its evaluations (the one before training left out). */
export function resultsOf(tests: readonly TestPointLike[]): Pick<QueueItem, 'finalTestError' | 'bestTestError' | 'bestEpoch'> {
  const fb = finalAndBest(tests);
  if (!fb) return {};
  return { finalTestError: fb.final.testError, bestTestError: fb.best.testError, bestEpoch: fb.best.epoch };
}

/**
 * Finished items (done, and diverged: counted, with no error) grouped by configuration without the
 * seed, and by run options (200 steps and a whole run are not repeats of one experiment), in
 * first-seen order, with mean +- std of the final-epoch error (the headline) and of the best epoch's.
 * A group's key is its configuration without seed, then "|" and its run options.
 */
export function queueGroups(items: readonly QueueItem[]): RepeatGroup<QueueItem>[] {
  const byOptions = new Map<string, QueueItem[]>();
  for (const i of items) {
    if (i.state !== 'done' && i.state !== 'diverged') continue;
    const k = JSON.stringify(copyOptions(i.options));
    byOptions.set(k, [...(byOptions.get(k) ?? []), i]);
  }
  const groups = [...byOptions].flatMap(([options, its]) =>
    groupRepeats(its, (i) => ({
      config: i.config,
      final: i.state === 'done' ? i.finalTestError : undefined,
      best: i.state === 'done' ? i.bestTestError : undefined,
    })).map((g) => ({ ...g, key: `${g.key}|${options}` })),
  );
  const first = (g: RepeatGroup<QueueItem>) => items.indexOf(g.runs[0]!);
  return groups.sort((a, b) => first(a) - first(b));
}

// ---- saved form ---------------------------------------------------------------------------------

export function serializeQueue(q: SavedQueue): string {
  // The saved form keeps each configuration as its query string (localStorage is an edge).
  return JSON.stringify({ ...q, items: q.items.map((i) => ({ ...i, config: configKey(i.config) })) });
}

/** Why a saved queue cannot be used. */
export class SavedQueueError extends Error {
  override name = 'SavedQueueError';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ID = /^[A-Za-z0-9_-]{1,64}$/;

function optionalString(o: Record<string, unknown>, key: string, max: number, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new SavedQueueError(`${where}: ${key} is not a text of at most ${max} characters`);
  return v;
}

function optionalFraction(o: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw new SavedQueueError(`${where}: ${key} is not an error between 0 and 1`);
  return v;
}

function readOptions(v: unknown, where: string): RunOptions {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new SavedQueueError(`${where}: options is not an object`);
  const out: RunOptions = {};
  for (const key of Object.keys(v)) {
    if (key !== 'maxSteps' && key !== 'evalLimit' && key !== 'checkpointEvery')
      throw new SavedQueueError(`${where}: unknown run option ${JSON.stringify(key.slice(0, 40))}`);
    const n = v[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1e9)
      throw new SavedQueueError(`${where}: ${key} is not a whole number from 1 to 1e9`);
    out[key] = n;
  }
  return out;
}

function readItem(v: unknown, index: number): QueueItem {
  const where = `item ${index + 1}`;
  if (!isRecord(v)) throw new SavedQueueError(`${where} is not an object`);
  if (typeof v.id !== 'string' || !ID.test(v.id)) throw new SavedQueueError(`${where}: id is missing or malformed`);
  if (typeof v.label !== 'string' || v.label.length === 0 || v.label.length > MAX_LABEL)
    throw new SavedQueueError(`${where}: label is missing or longer than ${MAX_LABEL} characters`);
  if (typeof v.config !== 'string' || v.config.length > 2000) throw new SavedQueueError(`${where}: config is missing`);
  const parsed = parseConfigQuery(v.config);
  if (parsed.issues.length > 0) throw new SavedQueueError(`${where}: its configuration is invalid (${parsed.issues[0]!.problem})`);
  if (typeof v.state !== 'string' || !(QUEUE_ITEM_STATES as readonly string[]).includes(v.state))
    throw new SavedQueueError(`${where}: unknown state`);
  const item: QueueItem = {
    id: v.id,
    label: v.label,
    config: parsed.config,
    options: readOptions(v.options, where),
    state: v.state as QueueItemState,
  };
  const storedId = optionalString(v, 'storedId', 200, where);
  if (storedId !== undefined) item.storedId = storedId;
  if (v.end !== undefined) {
    const ends: readonly string[] = ['finished', 'stopped', 'diverged', 'max-steps', 'failed', 'interrupted'];
    if (typeof v.end !== 'string' || !ends.includes(v.end)) throw new SavedQueueError(`${where}: unknown end`);
    item.end = v.end as RunEnd;
  }
  const final = optionalFraction(v, 'finalTestError', where);
  if (final !== undefined) item.finalTestError = final;
  const best = optionalFraction(v, 'bestTestError', where);
  if (best !== undefined) item.bestTestError = best;
  if (v.bestEpoch !== undefined) {
    if (typeof v.bestEpoch !== 'number' || !Number.isFinite(v.bestEpoch) || v.bestEpoch < 0)
      throw new SavedQueueError(`${where}: bestEpoch is not a number of epochs`);
    item.bestEpoch = v.bestEpoch;
  }
  const message = optionalString(v, 'message', MAX_MESSAGE, where);
  if (message !== undefined) item.message = message;
  return item;
}

/** The saved queue in `text`, checked field by field; throws SavedQueueError saying what is wrong. */
export function parseSavedQueue(text: string): SavedQueue {
  if (text.length > MAX_SAVED_CHARS) throw new SavedQueueError(`it is too large (${text.length} characters)`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SavedQueueError('it is not valid JSON');
  }
  if (!isRecord(raw)) throw new SavedQueueError('it is not an object');
  if (raw.version !== 1) throw new SavedQueueError(`unknown version ${JSON.stringify(raw.version)?.slice(0, 20) ?? 'undefined'}`);
  if (typeof raw.running !== 'boolean') throw new SavedQueueError('running is not true or false');
  if (!Array.isArray(raw.items)) throw new SavedQueueError('items is not a list');
  if (raw.items.length > MAX_QUEUE_ITEMS) throw new SavedQueueError(`it has more than ${MAX_QUEUE_ITEMS} items`);
  const items = raw.items.map(readItem);
  const ids = new Set(items.map((i) => i.id));
  if (ids.size !== items.length) throw new SavedQueueError('two items have the same id');
  if (items.filter((i) => i.state === 'running').length > 1) throw new SavedQueueError('more than one item is running');
  return { version: 1, running: raw.running, items };
}

/** The part of localStorage the queue uses (an in-memory one in tests). */
export interface QueueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface LoadedQueue {
  queue: SavedQueue;
  /** Said to the user: the saved queue could not be read (and where it was kept), or the page closed mid-run. */
  notice?: { kind: 'unreadable' | 'interrupted' | 'paused'; message: string };
  /** The unreadable saved queue could not be kept aside: it stays where it is and must not be written over. */
  blocked?: boolean;
}

const EMPTY: SavedQueue = { version: 1, running: false, items: [] };

/**
 * Reads the saved queue. A page that closed while an item ran leaves that item 'running': it becomes
 * 'interrupted' and the queue is paused until the user continues it. An unreadable saved queue is
 * copied aside (QUEUE_CORRUPT_KEY) before anything new is saved; when even that fails it is left in
 * place and `blocked` says not to save over it.
 */
export function loadQueue(storage: QueueStorage | undefined): LoadedQueue {
  if (!storage) return { queue: EMPTY };
  let text: string | null;
  try {
    text = storage.getItem(QUEUE_STORAGE_KEY);
  } catch (e) {
    return {
      queue: EMPTY,
      notice: {
        kind: 'unreadable',
        message: `The saved queue could not be read (${e instanceof Error ? e.message : String(e)}); it was left as it is and the queue starts empty.`,
      },
      blocked: true,
    };
  }
  if (text === null) return { queue: EMPTY };
  let queue: SavedQueue;
  try {
    queue = parseSavedQueue(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    let aside = QUEUE_CORRUPT_KEY;
    try {
      if (storage.getItem(aside) !== null) aside = `${QUEUE_CORRUPT_KEY}.${Date.now()}`;
      storage.setItem(aside, text);
      storage.removeItem(QUEUE_STORAGE_KEY);
    } catch {
      return {
        queue: EMPTY,
        blocked: true,
        notice: {
          kind: 'unreadable',
          message: `The saved queue could not be read (${why}). It could not be copied aside either (storage full?), so it is left in place and this queue will not be saved until you discard it.`,
        },
      };
    }
    return {
      queue: EMPTY,
      notice: {
        kind: 'unreadable',
        message: `The saved queue could not be read (${why}). It was kept aside in this browser's storage as “${aside}”, and the queue starts empty.`,
      },
    };
  }
  const running = queue.items.find((i) => i.state === 'running');
  if (running) {
    const items = queue.items.map((i): QueueItem =>
      i === running ? { ...i, state: 'interrupted', message: 'The page was closed or reloaded while this run trained.' } : i,
    );
    const how = running.storedId
      ? 'Continue queue resumes that run from its last checkpoint, then goes on.'
      : 'Continue queue starts it again, then goes on.';
    return {
      queue: { version: 1, running: false, items },
      notice: { kind: 'interrupted', message: `The queue was interrupted at “${running.label}”, seed ${running.config.seed}. ${how}` },
    };
  }
  if (queue.running && nextItem(queue.items)) {
    return {
      queue: { ...queue, running: false },
      notice: { kind: 'paused', message: 'The queue was running when the page closed. Continue queue goes on with the next item.' },
    };
  }
  return { queue: { ...queue, running: false } };
}

export type SaveResult = { ok: true } | { ok: false; message: string };

/** Writes the queue; a full storage (or any failure) is reported, never thrown. */
export function saveQueue(storage: QueueStorage, queue: SavedQueue): SaveResult {
  try {
    storage.setItem(QUEUE_STORAGE_KEY, serializeQueue(queue));
    return { ok: true };
  } catch (e) {
    const name = e instanceof Error || (typeof e === 'object' && e !== null && 'name' in e) ? String((e as { name: unknown }).name) : '';
    const text = e instanceof Error ? e.message : String(e);
    if (name === 'QuotaExceededError' || /quota|full/i.test(text)) {
      return {
        ok: false,
        message:
          'The browser’s storage is full, so the queue could not be saved: it goes on in this page, but a reload would lose its latest changes. Delete runs you no longer need (Runs list) to make room.',
      };
    }
    return {
      ok: false,
      message: `The queue could not be saved (${text}): it goes on in this page, but a reload would lose its latest changes.`,
    };
  }
}
