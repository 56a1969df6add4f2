/**
 * `sft account`: adds, removes and lists the accounts senders log in with.
 *
 * Passwords are stored as scrypt hashes with per-account salts, never in clear.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SftError } from '../errors';
import { Accounts, validateUsername } from '../storage/accounts';
import { CliIo, Command, EXIT_OK, parseOptions, writeLine } from './io';
import { requireSecret } from './secrets';

const usage = 'sft account add USER --store DIR [--password-file F] | remove USER --store DIR | list --store DIR [--json]';

export const account: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      store: { type: 'string' },
      'password-file': { type: 'string' },
      json: { type: 'boolean' },
    }, usage);
    const [action, username, ...extra] = positionals;
    if (values.store === undefined) {
      throw new SftError('USAGE', `Missing --store DIR: the receiver's store folder. Usage: ${usage}`);
    }
    const wantsUser = action === 'add' || action === 'remove';
    if (action === undefined || !['add', 'remove', 'list'].includes(action)) {
      throw new SftError('USAGE', `Unknown account action "${action ?? ''}": use add, remove or list. Usage: ${usage}`);
    }
    if ((wantsUser && username === undefined) || (!wantsUser && username !== undefined) || extra.length > 0) {
      throw new SftError('USAGE', `"sft account ${action}" takes ${wantsUser ? 'one USER' : 'no USER'}. Usage: ${usage}`);
    }
    // Only "add" may create a store; listing or removing in a mistyped folder must not look like an empty store.
    const storeExists = await fs.stat(path.resolve(values.store)).then((stats) => stats.isDirectory(), () => false);
    if (action !== 'add' && !storeExists) {
      throw new SftError('FILE_NOT_FOUND', `Store ${values.store} not found. Give the folder that "sft receive --store" uses.`);
    }
    const accounts = await Accounts.open(path.resolve(values.store));

    switch (action) {
      case 'add': {
        validateUsername(username);
        const password = await requireSecret(io, {
          file: values['password-file'],
          option: '--password-file',
          env: 'SFT_PASSWORD',
          prompt: `Password for ${username}`,
          confirm: true,
        });
        await accounts.add(username, password);
        writeLine(io.stderr, `Added account "${username}" to ${values.store}.`);
        return EXIT_OK;
      }
      case 'remove':
        await accounts.remove(username);
        writeLine(io.stderr, `Removed account "${username}" from ${values.store}.`);
        return EXIT_OK;
      default: {
        const list = await accounts.list();
        if (values.json) {
          writeLine(io.stdout, JSON.stringify(list, null, 2));
        } else if (list.length === 0) {
          writeLine(io.stderr, `No accounts in ${values.store}. Add one with "sft account add USER --store ${values.store}".`);
        } else {
          for (const item of list) {
            writeLine(io.stdout, `${item.username}  ${item.createdAt}`);
          }
        }
        return EXIT_OK;
      }
    }
  },
};
