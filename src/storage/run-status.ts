// The statuses a run can have, shared by the run history and run bundles (the .rlab file), so runs
// export and import without translation. Plain data with no imports: the bundle format and the page
// may use it without pulling in IndexedDB. Not the transitions: runs.ts and checkpoints.ts make those.

/** 'max-steps': the run was cut at its step limit; 'failed': it ended on an error other than divergence. */
export const RUN_STATUSES = ['running', 'paused', 'finished', 'max-steps', 'stopped', 'diverged', 'interrupted', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A tab is (or was) training these; after the tab closes they become 'interrupted'. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['running', 'paused'];
/** Runs in these states are over: setStatus stamps endedAt. */
export const ENDED_STATUSES: readonly RunStatus[] = ['finished', 'max-steps', 'stopped', 'diverged', 'failed'];
