import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { ROLES, assertPassword, assertUserId, hashPassword, loadUsers, saveUsers, type Role, type UserRecord } from '../auth/users.js';
import { readPublicKeyArg } from '../sign/key-file.js';
import { assertNamespace } from '../wire/topics.js';

export const command = 'user';
export const describe = 'Manage the broker\'s users file (hamsync broker --users FILE): add, remove, list';

/** Reads one line from stdin (the password), without the line ending. */
async function readLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    const nl = text.indexOf('\n');
    if (nl >= 0) {
      process.stdin.pause();
      return text.slice(0, nl).replace(/\r$/, '');
    }
    if (text.length > 64 * 1024) break;
  }
  return text.replace(/\r$/, '');
}

/** The `--users FILE` option (also used by `hamsync key`). */
export function withUsersFile<T>(y: Argv<T>) {
  return y.option('users', { type: 'string', demandOption: true, describe: 'the users file (JSON; created by the first `user add`, mode 0600)' });
}

const add = {
  command: 'add <id>',
  describe: 'Add a user, or replace its password, role and namespaces',
  builder: (y: Argv) =>
    withUsersFile(y)
      .positional('id', { type: 'string', demandOption: true, describe: 'user id = MQTT username (a device\'s id: its daemon\'s --id)' })
      .option('role', { choices: ROLES, demandOption: true, describe: 'device: own put/sync/presence topics; observer: read-only; admin: everything; node: a cluster node\'s login for peer snapshots (sync only)' })
      .option('password', { type: 'string', describe: 'the password; without it, one line is read from stdin' })
      .option('ns', { type: 'string', array: true, describe: 'namespaces the user may use (repeatable); default: all' })
      .option('pub', { type: 'string', describe: 'Ed25519 public key (base64url, or @FILE.pub): its updates must then be signed; default: keep the user\'s key, if any' })
      .example('$0 user add pi-7 --role device --users users.json --password s3cret', 'add a device')
      .example('echo "$PW" | $0 user add dash --role observer --ns default --users users.json', 'password from stdin')
      .example('$0 user add pi-7 --role device --users users.json --pub @pi-7.key.pub', 'a device that signs its updates'),
  handler: async (argv: { id: string; role: Role; password?: string; ns?: string[]; pub?: string; users: string }): Promise<void> => {
    assertUserId(argv.id);
    for (const n of argv.ns ?? []) assertNamespace(n);
    const pub = argv.pub === undefined ? undefined : readPublicKeyArg(argv.pub, '--pub');
    const users = loadUsers(argv.users, true);
    const password = argv.password ?? (await readLine());
    assertPassword(password);
    const { salt, hash } = await hashPassword(password);
    const existed = Object.hasOwn(users.users, argv.id);
    // Replacing a user (a new password, role or namespaces) keeps its signing key unless --pub is given.
    const keep = pub ?? (existed ? users.users[argv.id]?.pub : undefined);
    const record: UserRecord = {
      role: argv.role,
      salt,
      hash,
      ...(argv.ns && argv.ns.length > 0 ? { ns: [...new Set(argv.ns)] } : {}),
      ...(keep !== undefined ? { pub: keep } : {}),
    };
    users.users[argv.id] = record;
    saveUsers(argv.users, users);
    process.stdout.write(`${existed ? 'updated' : 'added'} ${argv.id} (${argv.role}${record.ns ? `, ns ${record.ns.join(',')}` : ''}${record.pub ? `, pub ${record.pub}` : ''})\n`);
  },
};

const remove = {
  command: 'remove <id>',
  describe: 'Remove a user (takes effect at its next login; restart the broker to cut existing sessions)',
  builder: (y: Argv) =>
    withUsersFile(y)
      .positional('id', { type: 'string', demandOption: true, describe: 'user id' })
      .example('$0 user remove pi-7 --users users.json', 'a stolen device loses access'),
  handler: (argv: { id: string; users: string }): void => {
    const users = loadUsers(argv.users);
    if (!Object.hasOwn(users.users, argv.id)) throw new HamsyncError('HAMSYNC_ERR_USERS', `no user ${JSON.stringify(argv.id)} in ${argv.users}`, { id: argv.id });
    delete users.users[argv.id];
    saveUsers(argv.users, users);
    process.stdout.write(`removed ${argv.id}\n`);
  },
};

const list = {
  command: 'list',
  describe: 'List users with their roles and namespaces (never the hashes)',
  builder: (y: Argv) =>
    withUsersFile(y)
      .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts' })
      .example('$0 user list --users users.json', 'who may log in')
      .example('$0 user list --users users.json --json', 'as JSON'),
  handler: (argv: { users: string; json: boolean }): void => {
    const users = loadUsers(argv.users);
    const rows = Object.entries(users.users)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, r]) => ({ id, role: r.role, ns: r.ns ?? null }));
    if (argv.json) return void process.stdout.write(`${JSON.stringify(rows)}\n`);
    if (rows.length === 0) return void process.stdout.write('no users\n');
    process.stdout.write(`${rows.map((r) => `${r.id}\t${r.role}\t${r.ns ? r.ns.join(',') : '*'}`).join('\n')}\n`);
  },
};

export function builder(y: Argv) {
  return y
    .command(add)
    .command(remove)
    .command(list)
    .demandCommand(1, 'Name a user action: add, remove or list; see hamsync user --help.')
    .example('$0 user add pi-7 --role device --users users.json --password s3cret', 'add a device')
    .example('$0 user remove pi-7 --users users.json', 'remove it')
    .example('$0 user list --users users.json', 'list users (no hashes)');
}

export function handler(): void {
  // Subcommands do the work; yargs refuses `hamsync user` alone (demandCommand).
}
