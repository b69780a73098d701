import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { assertUserId, loadUsers, saveUsers } from '../auth/users.js';
import { generateSigningKey, loadPrivateKey, readPublicKeyArg, savePrivateKey } from '../sign/key-file.js';
import { Keyring } from '../sign/keyring.js';
import { encodePublicKey } from '../sign/public-key.js';
import { withUsersFile } from './user.js';

export const command = 'key';
export const describe = 'Manage Ed25519 signing keys: generate, show, and the public keys in the users file (set, remove, list)';

function noUser(id: string, file: string): never {
  throw new HamsyncError('HAMSYNC_ERR_USERS', `no user ${JSON.stringify(id)} in ${file} (add it first: hamsync user add)`, { id });
}

const generate = {
  command: 'generate',
  describe: 'Create a key pair: FILE (private key, PKCS#8 PEM, mode 0600) and FILE.pub; prints the public key',
  builder: (y: Argv) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'the private key file to write (the public key goes to FILE.pub)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace FILE and FILE.pub if they exist (the old key is lost)' })
      .example('$0 key generate --out /etc/hamsync/pi-7.key', 'a device\'s key; stdout: its public key'),
  handler: (argv: { out: string; force: boolean }): void => {
    const { privateKey } = generateSigningKey();
    const saved = savePrivateKey(argv.out, privateKey, { force: argv.force });
    process.stderr.write(`wrote ${saved.file} (private key, mode 0600) and ${saved.pubFile}\n`);
    process.stdout.write(`${saved.pub}\n`);
  },
};

const show = {
  command: 'show',
  describe: 'Print the public key of a private key file',
  builder: (y: Argv) =>
    y.option('key', { type: 'string', demandOption: true, describe: 'the private key file (from key generate)' }).example('$0 key show --key pi-7.key', 'its public key'),
  handler: (argv: { key: string }): void => {
    process.stdout.write(`${encodePublicKey(loadPrivateKey(argv.key))}\n`);
  },
};

const set = {
  command: 'set <id>',
  describe: 'Store a user\'s public key in the users file: from then on its updates must be signed with that key',
  builder: (y: Argv) =>
    withUsersFile(y)
      .positional('id', { type: 'string', demandOption: true, describe: 'user id (= the device\'s source id)' })
      .option('pub', { type: 'string', demandOption: true, describe: 'the public key: base64url, or @FILE (FILE.pub or a PEM public key)' })
      .example('$0 key set pi-7 --pub @pi-7.key.pub --users users.json', 'pi-7 must sign from now on'),
  handler: (argv: { id: string; pub: string; users: string }): void => {
    assertUserId(argv.id);
    const pub = readPublicKeyArg(argv.pub, '--pub');
    const users = loadUsers(argv.users);
    const user = users.users[argv.id];
    if (!Object.hasOwn(users.users, argv.id) || user === undefined) noUser(argv.id, argv.users);
    const replaced = user.pub !== undefined && user.pub !== pub;
    user.pub = pub;
    saveUsers(argv.users, users);
    process.stdout.write(`${replaced ? 'replaced' : 'set'} the public key of ${argv.id}: ${pub}\n`);
  },
};

const remove = {
  command: 'remove <id>',
  describe: 'Remove a user\'s public key: its updates are accepted unsigned again (unless signatures are required)',
  builder: (y: Argv) =>
    withUsersFile(y).positional('id', { type: 'string', demandOption: true, describe: 'user id' }).example('$0 key remove pi-7 --users users.json', 'pi-7 no longer signs'),
  handler: (argv: { id: string; users: string }): void => {
    const users = loadUsers(argv.users);
    const user = users.users[argv.id];
    if (!Object.hasOwn(users.users, argv.id) || user === undefined) noUser(argv.id, argv.users);
    if (user.pub === undefined) throw new HamsyncError('HAMSYNC_ERR_USERS', `user ${JSON.stringify(argv.id)} in ${argv.users} has no public key`, { id: argv.id });
    delete user.pub;
    saveUsers(argv.users, users);
    process.stdout.write(`removed the public key of ${argv.id}\n`);
  },
};

const list = {
  command: 'list',
  describe: 'List the users that have a public key; --json prints a keys file for peers without the users file',
  builder: (y: Argv) =>
    withUsersFile(y)
      .option('json', { type: 'boolean', default: false, describe: 'print {"version":1,"keys":{"<id>":"<pub>"}} (a keys file)' })
      .example('$0 key list --users users.json', 'who signs, with which key')
      .example('$0 key list --users users.json --json > keys.json', 'a keys file for peers'),
  handler: (argv: { users: string; json: boolean }): void => {
    const users = loadUsers(argv.users);
    const ring = Keyring.fromUsers(users);
    const keys = ring.toJSON().keys;
    if (argv.json) return void process.stdout.write(`${JSON.stringify(ring.toJSON())}\n`);
    const ids = Object.keys(keys);
    if (ids.length === 0) return void process.stdout.write('no keys\n');
    process.stdout.write(`${ids.map((id) => `${id}\t${users.users[id]?.role ?? '?'}\t${keys[id] ?? ''}`).join('\n')}\n`);
  },
};

export function builder(y: Argv) {
  return y
    .command(generate)
    .command(show)
    .command(set)
    .command(remove)
    .command(list)
    .demandCommand(1, 'Name a key action: generate, show, set, remove or list; see hamsync key --help.')
    .example('$0 key generate --out pi-7.key', 'on the device: a key pair')
    .example('$0 key set pi-7 --pub @pi-7.key.pub --users users.json', 'on the hub: pi-7 must sign')
    .example('$0 key list --users users.json', 'the public keys');
}

export function handler(): void {
  // Subcommands do the work; yargs refuses `hamsync key` alone (demandCommand).
}
