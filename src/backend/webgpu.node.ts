// Node-only: gives tfjs-backend-webgpu a `navigator.gpu` from Dawn for Node (the npm package `webgpu`),
// after finding a Vulkan driver for it. A system with a GPU driver's Vulkan ICD (a JSON file in one of
// the loader's folders) whose device exists gets that; a system without one gets Chromium's
// SwiftShader (a software adapter, reported as such), when Debian's chromium is installed. Not the backend's start
// (setup.ts) and not the lab's WebGPU kernels (src/kernels/webgpu/).
//
// Reaches node:fs / node:os / node:path / node:module through process.getBuiltinModule, so a browser
// bundle that happens to include this module pulls in nothing from Node.

/** Where the Vulkan loader looks for drivers' ICD files (the loader's documented search path). */
const ICD_FOLDERS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
/** Chromium's SwiftShader ICD, from Debian's chromium package. */
const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
/** ICDs that Dawn cannot use: Debian 12's lavapipe lacks features Dawn requires. */
const UNUSABLE_ICD = /lvp_icd|lavapipe/;
/** NVIDIA's driver needs its device files; Mesa's hardware drivers (Intel, Radeon, ...) a DRM render node. */
const NVIDIA_ICD = /nvidia/i;

interface Fs {
  existsSync(p: string): boolean;
  readdirSync(p: string): string[];
  mkdtempSync(prefix: string): string;
}

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') throw new Error('WebGPU in Node needs Node >= 20.16 (process.getBuiltinModule).');
  return proc.getBuiltinModule(id) as T;
}

/** The Vulkan driver Dawn gets: the system's (null: left to the loader) or a SwiftShader ICD file. */
export interface NodeGpuDriver {
  /** The ICD files handed to the loader through VK_ICD_FILENAMES (null: none found). */
  icd: string | null;
  /** The GPU drivers' ICD files in the loader's folders whose device exists (lavapipe left out). */
  systemIcds: string[];
}

function hasRenderNode(fs: Fs): boolean {
  return fs.existsSync('/dev/dri') && fs.readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
}

/**
 * Chooses the Vulkan driver and sets the environment the loader reads (VK_ICD_FILENAMES,
 * XDG_RUNTIME_DIR). A VK_ICD_FILENAMES or VK_DRIVER_FILES already set is kept as the user's choice.
 */
export function chooseVulkanDriver(env: Record<string, string | undefined> = process.env): NodeGpuDriver {
  const fs = builtin<Fs>('node:fs');
  const path = builtin<{ join(...p: string[]): string }>('node:path');
  const systemIcds = ICD_FOLDERS.filter((d) => fs.existsSync(d))
    .flatMap((d) => fs.readdirSync(d).map((f) => path.join(d, f)))
    .filter((f) => f.endsWith('.json') && !UNUSABLE_ICD.test(f))
    .filter((f) => (NVIDIA_ICD.test(f) ? fs.existsSync('/dev/nvidiactl') : hasRenderNode(fs)));
  if (env.XDG_RUNTIME_DIR == null || !fs.existsSync(env.XDG_RUNTIME_DIR)) {
    const os = builtin<{ tmpdir(): string }>('node:os');
    env.XDG_RUNTIME_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-xdg-'));
  }
  const chosen = env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES;
  if (chosen != null) return { icd: chosen, systemIcds };
  if (systemIcds.length > 0) {
    // Only the GPU drivers, so the loader does not also offer Mesa's drivers for absent hardware.
    env.VK_ICD_FILENAMES = systemIcds.join(':');
    return { icd: env.VK_ICD_FILENAMES, systemIcds };
  }
  const swiftshader = SWIFTSHADER_ICDS.find((f) => fs.existsSync(f));
  if (swiftshader != null) env.VK_ICD_FILENAMES = swiftshader;
  return { icd: swiftshader ?? null, systemIcds };
}

/** Whether the Vulkan loader library is there (Debian's libvulkan1); Dawn finds no adapter without it. */
function hasVulkanLoader(env: Record<string, string | undefined>): boolean {
  const fs = builtin<Fs>('node:fs');
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== ''),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
  ];
  return dirs.some((d) => fs.existsSync(`${d}/libvulkan.so.1`));
}

/** Dawn for Node's npm package. */
const DAWN_PACKAGE = 'webgpu';

let installed: Promise<NodeGpuDriver> | undefined;

/**
 * Sets globalThis.navigator.gpu (and the WebGPU globals such as GPUBufferUsage) from Dawn for Node.
 * Resolves with the driver chosen; rejects with what to install when no adapter can exist. Once per process.
 */
export function installNodeWebGpu(): Promise<NodeGpuDriver> {
  installed ??= (async () => {
    const env = process.env;
    const driver = chooseVulkanDriver(env);
    if (process.platform === 'linux' && !hasVulkanLoader(env)) {
      throw new Error(
        'the Vulkan loader (libvulkan.so.1) is missing: install it (apt-get install -y libvulkan1) or put it on LD_LIBRARY_PATH.',
      );
    }
    if (driver.icd == null && driver.systemIcds.length === 0 && process.platform === 'linux') {
      throw new Error(
        'no Vulkan driver: no GPU driver ICD in ' +
          `${ICD_FOLDERS.join(', ')} and no Chromium SwiftShader (apt-get install -y chromium gives the software one).`,
      );
    }
    // A specifier in a variable: bundlers for the browser (Vite) then leave Dawn for Node out.
    const { create, globals } = (await import(/* @vite-ignore */ DAWN_PACKAGE)) as {
      create(flags: string[]): GPU;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, globals);
    const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as { gpu?: GPU };
    if (nav.gpu == null) Object.defineProperty(nav, 'gpu', { value: create([]), configurable: true });
    if ((globalThis as { navigator?: object }).navigator == null) {
      Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    }
    return driver;
  })();
  return installed;
}
