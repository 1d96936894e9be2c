// Types of what eslint.config.js exports besides the configuration (read by scripts/layers.test.ts).
export declare const LAYERS: readonly string[];
export declare const CORE_LAYERS: readonly string[];
declare const config: unknown;
export default config;
