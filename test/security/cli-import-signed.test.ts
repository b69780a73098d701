/**
 * `hamsync import --keys`: an export's signed rows are verified before anything is imported; a
 * tampered row refuses the whole file (FILE:LINE), the untampered file imports, and without keys
 * signatures are carried over unchecked (form only).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { canonical } from '../../src/ham/lexical.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { generateSigningKey } from '../../src/sign/key-file.js';
import { sign } from '../../src/sign/sign.js';
import { Replica } from '../../src/sync/replica.js';
import { Harness, runCli } from '../helpers/procs.js';

test('import --keys verifies every signed row first; a tampered export imports nothing', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const dir = h.tempDir('src');
  const { privateKey, pub } = generateSigningKey();
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(10_000) });
  const rows = [
    { key: 'pi-7/temp', value: 48.5, state: 1000 },
    { key: 'pi-7/mode', value: 'survey', state: 2000 },
  ];
  await replica.receive(rows.map((r) => ({ ...r, source: 'pi-7', sig: sign(privateKey, 'pi-7', r.key, r.state, canonical(r.value)) }))).durable;
  await replica.close();
  const out = path.join(h.tempDir('exp'), 'pi-7.ndjson');
  const exported = await runCli(['export', '--data-dir', dir, '--out', out]);
  assert.equal(exported.code, 0, exported.stderr);
  const keys = path.join(h.tempDir('keys'), 'keys.json');
  fs.writeFileSync(keys, JSON.stringify({ version: 1, keys: { 'pi-7': pub } }));

  // Tamper with one value, keep its signature.
  const text = fs.readFileSync(out, 'utf8');
  assert.ok(text.includes('"survey"') && text.includes('"g":'), 'the export carries the signatures');
  const bad = path.join(path.dirname(out), 'tampered.ndjson');
  fs.writeFileSync(bad, text.replace('"survey"', '"abort"'));

  const target = h.tempDir('dst');
  const refused = await runCli(['import', bad, '--data-dir', target, '--keys', keys]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /HAMSYNC_ERR_SIGNATURE/);
  assert.match(refused.stderr, /tampered\.ndjson:\d+/);
  const after = await Replica.open({ dataDir: target, clock: new ManualClock(10_000) });
  assert.equal(after.get('pi-7/temp'), undefined, 'nothing imported, not even the good row');
  await after.close();

  const ok = await runCli(['import', out, '--data-dir', target, '--keys', keys, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  // Into the (still empty) data dir: a restore, every row written as exported (2 live, 2 history).
  assert.deepEqual(JSON.parse(ok.stdout) as { imported: number; mode: string }, { ...(JSON.parse(ok.stdout) as object), imported: 4, mode: 'restore' });

  // Without keys the tampered file imports (signatures are checked for form only): the keys are what protect.
  const unchecked = await runCli(['import', bad, '--data-dir', h.tempDir('dst2')]);
  assert.equal(unchecked.code, 0, unchecked.stderr);

  const noKeys = await runCli(['import', out, '--data-dir', h.tempDir('dst3'), '--require-signed']);
  assert.notEqual(noKeys.code, 0);
  assert.match(noKeys.stderr, /HAMSYNC_ERR_CONFIG.*--require-signed needs --keys or --users/);
});
