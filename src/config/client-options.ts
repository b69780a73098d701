/**
 * The options every client command (put, get, history, status, deferred) shares (see
 * daemon-options.ts). Client commands read no config file; HAMSYNC_HTTP, when set, is the
 * default of --http.
 */
import { bool, hostPort } from './checks.js';
import { optionTable, type OptionsOf } from './option-table.js';

export const CLIENT = optionTable({
  http: { type: 'string', default: '127.0.0.1:7878', fromEnv: true, check: hostPort, describe: 'the daemon\'s HTTP API (host:port)' },
  json: { type: 'boolean', default: false, check: bool, describe: 'print JSON for scripts' },
});

export type ClientInput = OptionsOf<typeof CLIENT>;
