// Shared pieces of the lab's WGSL kernels: how a flat range of work is spread over workgroups (at most
// 65,535 per dimension), and the WGSL lines that turn a workgroup id back into a flat index. Not a
// kernel.

/** WebGPU's guaranteed workgroups per dimension (maxComputeWorkgroupsPerDimension's default). */
export const MAX_WORKGROUPS = 65535;

/** Workgroups for `items` work items of `perGroup` each: [x, y] with x * y >= the groups needed. */
export function grid(items: number, perGroup: number): [number, number] {
  const groups = Math.max(1, Math.ceil(items / perGroup));
  if (groups <= MAX_WORKGROUPS) return [groups, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS);
  return [Math.ceil(groups / y), y];
}

/** WGSL: `let group = ...;` the flat workgroup index of a grid() dispatch (needs @builtin(workgroup_id) wid and num_workgroups nwg). */
export const FLAT_GROUP = 'let group = wid.x + wid.y * nwg.x;';
