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

/** no-restricted-imports of the folders in `above`, for files in src/<folder>. */
function restrict(folder, above) {
  const patterns = above.map((f) => ({
    group: [`../${f}/*`, `../../${f}/*`, `../${f}`, `../../${f}`],
    message: `src/${folder} is below src/${f} in the layers (README, Architecture): move the shared piece down, or pass it in.`,
  }));
  return { 'no-restricted-imports': ['error', { patterns }] };
}

/**
 * src/<folder> imports no folder above it; a core folder's tests may use the rest of the core (a
 * kernel's test builds a model), never an app layer. scripts/layers.test.ts checks the same graph.
 */
function layerRules(folder) {
  const above = LAYERS.slice(LAYERS.indexOf(folder) + 1);
  const rules = [{ files: [`src/${folder}/**/*.{ts,tsx}`], rules: restrict(folder, above) }];
  if (CORE_LAYERS.includes(folder)) {
    const app = above.filter((f) => !CORE_LAYERS.includes(f));
    rules.push({ files: [`src/${folder}/**/*.test.ts`, `src/${folder}/**/test-utils.ts`], rules: restrict(folder, app) });
  }
  return rules;
}

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      '.scratch/',
      'bench-results/',
      'gpu-bundle/',
      'src/kernels/lab-wasm.binary.ts',
      'kernels-as/',
    ],
  },
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
      // Flags `let x = default; try { x = ... }`, which states the fallback where the variable is declared.
      'no-useless-assignment': 'off',
    },
  },
  // Tests reach into decoded files and fake objects freely.
  { files: ['**/*.test.ts', '**/*.test.tsx'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['src/ui/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  ...LAYERS.flatMap(layerRules),
);
