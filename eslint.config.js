import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layering (docs/architecture.md): the core never imports the programs, and a program takes
 * another only through its entry point. `no-restricted-imports` sees static imports;
 * test/unit/layering.test.ts checks the same rules on every import (dynamic ones too) and
 * finds import cycles.
 */
const PROGRAM = '(^|/)(broker|devices|daemon|cli|demo)/';
const restrict = (message, ...regexes) => ({
  'no-restricted-imports': ['error', { patterns: regexes.map((regex) => ({ regex, message })) }],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The dashboard's plain browser modules (broker/dashboard, served as they are).
    files: ['broker/dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'fetch', 'EventSource', 'Node', 'performance', 'setTimeout', 'clearTimeout', 'setInterval', 'console'].map((g) => [g, 'readonly'])),
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The core and the shared libraries: never a program.
    files: ['src/**/*.ts'],
    ignores: ['src/daemon/**', 'src/cli/**', 'src/demo/**'],
    rules: restrict('the core and shared libraries never import a program (broker/, devices/, src/daemon, src/cli, src/demo); see docs/architecture.md', PROGRAM),
  },
  {
    files: ['broker/**/*.ts'],
    rules: restrict('the broker imports the core and shared libraries only, never another program', '(^|/)src/(daemon|cli|demo)/', '(^|/)devices/'),
  },
  {
    files: ['devices/**/*.ts'],
    rules: restrict('devices import the core and shared libraries only, never another program', '(^|/)broker/', '(^|/)src/(daemon|cli|demo)/'),
  },
  {
    files: ['src/daemon/**/*.ts'],
    rules: restrict('the daemon takes devices only through devices/index.ts, and never the broker, the CLI or the demo', '(^|/)broker/', '(^|/)(cli|demo)/', '(^|/)devices/(?!index\\.js$)'),
  },
  {
    files: ['src/cli/**/*.ts', 'src/demo/**/*.ts'],
    rules: restrict(
      'the CLI and the demo take a program only through its entry point (broker/server.ts, src/daemon/daemon.ts, devices/index.ts, src/demo/scenario.ts)',
      '(^|/)broker/(?!server\\.js$)',
      '(^|/)daemon/(?!daemon\\.js$)',
      '(^|/)devices/(?!index\\.js$)',
      '(^|/)demo/(?!scenario\\.js$)',
    ),
  },
);
