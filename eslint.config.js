// ESLint for the whole project: typescript-eslint's recommended rules, React's hook rules for the UI,
// no import cycles, and the layer rule of README's Architecture: the ML core (experiment, model, data,
// kernels, backend, train, util) imports nothing from the app layers (storage, worker, state, ui,
// cli), and each app layer only what lies below it. Formatting is Prettier's (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

/** The folders of src/, lowest first; a folder may import only from those before it. */
export const LAYERS = ['util', 'experiment', 'kernels', 'backend', 'model', 'data', 'train', 'storage', 'worker', 'state', 'ui', 'cli'];
/** The ML core: the same code trains in the browser worker, the CLI and the tests. */
export const CORE_LAYERS = LAYERS.slice(0, LAYERS.indexOf('train') + 1);

/** no-restricted-imports patterns that keep src/<folder> off every folder above it. */
function layerRule(folder) {
  const above = LAYERS.slice(LAYERS.indexOf(folder) + 1).filter((f) => !(folder === 'ui' && f === 'cli'));
  const patterns = above.map((f) => ({
    group: [`../${f}/*`, `../../${f}/*`, `../${f}`, `../../${f}`],
    message: `src/${folder} is below src/${f} in the layers (README, Architecture): move the shared piece down, or pass it in.`,
  }));
  return { files: [`src/${folder}/**/*.{ts,tsx}`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', '.scratch/', 'bench-results/', 'src/kernels/lab-wasm.binary.ts', 'kernels-as/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js'] })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  { files: ['src/ui/**/*.tsx'], plugins: { 'react-hooks': reactHooks }, rules: reactHooks.configs.recommended.rules },
  ...LAYERS.map(layerRule),
);
