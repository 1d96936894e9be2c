// WebGPU in Node (Dawn): the Vulkan driver chosen for it, and the backend it starts, reported as a
// software adapter on a machine without a GPU (this project's CI machines have SwiftShader only).

import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeBackend, initBackend } from './setup.ts';
import { chooseVulkanDriver } from './webgpu.node.ts';

const hasGpuDevice =
  existsSync('/dev/nvidiactl') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')));

describe('WebGPU in Node', () => {
  it("keeps the user's VK_ICD_FILENAMES and sets a runtime folder", () => {
    const env: Record<string, string | undefined> = { VK_ICD_FILENAMES: '/opt/my_icd.json' };
    const driver = chooseVulkanDriver(env);
    expect(driver.icd).toBe('/opt/my_icd.json');
    expect(env.VK_ICD_FILENAMES).toBe('/opt/my_icd.json');
    expect(env.XDG_RUNTIME_DIR && existsSync(env.XDG_RUNTIME_DIR)).toBeTruthy();
  });

  it.skipIf(hasGpuDevice)('takes Chromium SwiftShader where no GPU device exists, never lavapipe', () => {
    const env: Record<string, string | undefined> = {};
    const driver = chooseVulkanDriver(env);
    expect(driver.systemIcds).toEqual([]);
    expect(driver.icd).toMatch(/vk_swiftshader_icd\.json$/);
    expect(env.VK_ICD_FILENAMES).toBe(driver.icd);
  });

  it('starts tfjs-webgpu and labels a software adapter as software', async () => {
    const info = await initBackend('webgpu');
    expect(info.backend).toBe('webgpu');
    expect(info.software).toBe(!hasGpuDevice);
    if (!hasGpuDevice) expect(describeBackend(info)).toMatch(/^WebGPU: .*swiftshader.*\(software adapter\); lab kernels$/);
  });
});
