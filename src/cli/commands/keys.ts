import type { Command } from 'commander';
// registering loads only import-free modules; each action imports the serving code it runs
import { InvalidInputError } from '../../core/errors.js';
import type { FileKeyStore } from '../../serving/index.js';
import { type CliIo, printJson } from '../io.js';
import { deploymentDirFor } from './deploy.js';

async function keyStoreFor(cmd: Command, dir: string | undefined): Promise<FileKeyStore> {
  const [{ deploymentLayout }, { FileKeyStore }] = await Promise.all([
    import('../../decision/index.js'),
    import('../../serving/index.js'),
  ]);
  return new FileKeyStore(deploymentLayout(await deploymentDirFor(cmd, dir)).keys);
}

/** Registers `adnova keys create|list|revoke`: the serving API's keys (stored hashed, under the deployment). */
export function registerKeysCommands(program: Command, io: CliIo): void {
  const keys = program
    .command('keys')
    .description('API keys of the serving API (stored hashed under <deployment>/keys)');
  const dirOption = ['--deployment <dir>', 'the deployment (default: the configured store directory)'] as const;

  keys
    .command('create')
    .description('create an advertiser key (--advertiser ID) or an admin key (--admin); the key is printed once')
    .option('--advertiser <id>', 'the advertiser whose campaigns the key sees')
    .option('--admin', 'a platform key: every campaign, deletions, keys')
    .option('--label <text>', 'a note shown by list')
    .option(...dirOption)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: { advertiser?: string; admin?: boolean; label?: string; deployment?: string; json?: boolean },
        cmd,
      ) => {
        if (Boolean(opts.admin) === (opts.advertiser !== undefined))
          throw new InvalidInputError('keys create: give exactly one of --advertiser <id> or --admin');
        const store = await keyStoreFor(cmd as Command, opts.deployment);
        const { record, key } = store.create({
          role: opts.admin ? 'admin' : 'advertiser',
          ...(opts.advertiser !== undefined ? { advertiserId: opts.advertiser } : {}),
          ...(opts.label !== undefined ? { label: opts.label } : {}),
        });
        if (opts.json) printJson(io, { id: record.id, role: record.role, advertiserId: record.advertiserId, key });
        else {
          io.out(key);
          io.err(
            `created ${record.role} key ${record.id}${record.advertiserId ? ` for ${record.advertiserId}` : ''} (shown once)`,
          );
        }
      },
    );

  keys
    .command('list')
    .description('list keys (ids, roles, advertisers, revoked or not; never the secrets)')
    .option(...dirOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { deployment?: string; json?: boolean }, cmd) => {
      const store = await keyStoreFor(cmd as Command, opts.deployment);
      const list = store.list().map(({ sha256: _s, ...k }) => k);
      if (opts.json) printJson(io, { keys: list });
      else if (list.length === 0) io.out(`no keys in ${store.file}`);
      else
        for (const k of list)
          io.out(
            `${k.id}  ${k.role.padEnd(10)}  ${(k.advertiserId ?? '-').padEnd(12)}  created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}${k.label ? `  ${k.label}` : ''}`,
          );
    });

  keys
    .command('revoke')
    .description('revoke a key by id (a running server refuses it from its next request)')
    .argument('<id>', 'the key id (key_...)')
    .option(...dirOption)
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { deployment?: string; json?: boolean }, cmd) => {
      const store = await keyStoreFor(cmd as Command, opts.deployment);
      const { sha256: _s, ...k } = store.revoke(id);
      if (opts.json) printJson(io, k);
      else io.out(`revoked ${k.id} at ${k.revokedAt}`);
    });
}
