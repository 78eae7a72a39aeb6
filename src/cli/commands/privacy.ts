import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
import { type CliIo, printJson } from '../io.js';
import { deploymentDirFor } from './deploy.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function openPrivacy(cmd: Command, dir: string | undefined) {
  const [{ loadConfig, createLogger, MetricsRegistry }, { openDeploymentPrivacy }] = await Promise.all([
    import('../../core/index.js'),
    import('../../privacy/index.js'),
  ]);
  const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  const deploymentDir = await deploymentDirFor(cmd, dir);
  const [{ deploymentLayout }, { otherModuleErasers }] = await Promise.all([
    import('../../decision/index.js'),
    import('../wiring.js'),
  ]);
  return openDeploymentPrivacy({
    dir: deploymentDir,
    config,
    // audiences and the request log hold users too
    extraErasers: await otherModuleErasers(deploymentLayout(deploymentDir)),
    logger: createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, name: 'privacy' }),
    metrics: new MetricsRegistry(),
  });
}

/**
 * The users a `--file` names: a text file of one id a line, or a Parquet/CSV file with a `user_id` column (a World's
 * `deletions.parquet`), in file order without repeats.
 */
export async function usersOfFile(
  file: string,
  query: (sql: string) => Promise<Array<Record<string, unknown>>>,
): Promise<string[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new InvalidInputError(`--file: ${path} does not exist`);
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet' || ext === '.csv') {
    const reader = ext === '.csv' ? 'read_csv' : 'read_parquet';
    const lit = `'${path.replaceAll("'", "''")}'`;
    const cols = (await query(`DESCRIBE SELECT * FROM ${reader}(${lit})`)).map((r) => String(r['column_name']));
    if (!cols.includes('user_id'))
      throw new InvalidInputError(`--file: ${path} has no user_id column (its columns: ${cols.join(', ')})`);
    const rows = await query(`SELECT CAST(user_id AS VARCHAR) AS u FROM ${reader}(${lit})`);
    return [...new Set(rows.map((r) => String(r['u'])))];
  }
  return [
    ...new Set(
      readFileSync(path, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith('#')),
    ),
  ];
}

const hours = (h: number) => `${h.toFixed(1)} h`;

/** Registers `adnova privacy delete|apply|status|verify|sla`. */
export function registerPrivacyCommands(program: Command, io: CliIo): void {
  const privacy = program
    .command('privacy')
    .description('deletion requests: tombstones first, then every store erased in batches, verified, with receipts');

  privacy
    .command('delete')
    .description(
      'request the deletion of users (one request for the --user ids; one request per user of a --file), then apply the pending batch unless --queue',
    )
    .option('--user <id>', 'a user id (repeatable)', collect)
    .option('--file <path>', 'users to delete: one id a line, or a Parquet/CSV file with a user_id column')
    .option('--requested-by <name>', 'who asked (kept on the receipt)', 'cli')
    .option('--queue', 'only record the request; the batch is applied later (privacy apply, or the schedule)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const users = (opts.user as string[] | undefined) ?? [];
      if (users.length === 0 && opts.file === undefined)
        throw new InvalidInputError('privacy delete: give --user or --file');
      const p = await openPrivacy(cmd, opts.deployment);
      try {
        const requests = [];
        if (users.length > 0) requests.push(await p.service.submit(users, opts.requestedBy));
        if (opts.file !== undefined) {
          const fromFile = await usersOfFile(opts.file, (sql) => p.deployment.store.offline.query(sql));
          requests.push(
            ...(await p.service.submitMany(fromFile.map((u) => ({ userIds: [u], requestedBy: opts.requestedBy })))),
          );
        }
        let applied = null;
        if (!opts.queue) while (p.service.batchDue(Number.POSITIVE_INFINITY)) applied = await p.service.apply();
        const out = {
          requests: requests.map((r) => ({ ...r, status: p.service.status(r.id)?.status ?? r.status })),
          applied,
        };
        if (opts.json) printJson(io, out);
        else {
          for (const r of out.requests) io.out(`${r.id} ${r.status}${r.repeated ? ' (repeated request)' : ''}`);
          if (applied)
            io.out(
              `applied batch ${applied.batchId}: ${applied.users} users; ${Object.entries(applied.storeMs)
                .map(([s, ms]) => `${s} ${Math.round(ms)} ms`)
                .join(', ')}`,
            );
        }
      } finally {
        await p.close();
      }
    });

  privacy
    .command('apply')
    .description('apply every pending deletion now (resuming a batch a crash interrupted)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const p = await openPrivacy(cmd, opts.deployment);
      try {
        const batches = [];
        while (p.service.batchDue(Number.POSITIVE_INFINITY)) batches.push(await p.service.apply());
        if (opts.json) printJson(io, { batches });
        else if (batches.length === 0) io.out('nothing pending');
        else
          for (const b of batches)
            io.out(`batch ${b.batchId}: ${b.requests} requests, ${b.users} users${b.resumed ? ' (resumed)' : ''}`);
      } finally {
        await p.close();
      }
    });

  privacy
    .command('status')
    .description("a deletion request's receipt: per store, when it was removed and how that was verified")
    .argument('<id>', 'the request id (del_...)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { NotFoundError } = await import('../../core/index.js');
      const p = await openPrivacy(cmd, opts.deployment);
      try {
        const r = p.service.status(id);
        if (r === null)
          throw new NotFoundError(`no deletion request ${JSON.stringify(id)} in ${p.deployment.layout.root}`);
        if (opts.json) printJson(io, r);
        else {
          io.out(
            `${r.id} ${r.status}: ${r.users} users requested by ${r.requestedBy} at ${r.requestedAt}${r.completedAt ? `, complete at ${r.completedAt}` : ''}${r.nothingFound ? ' (nothing found)' : ''}`,
          );
          for (const [name, s] of Object.entries(r.stores))
            io.out(
              `  ${name.padEnd(16)} removed ${s.removedAt} (${s.batchRecords} records in the batch${s.usersFound === null ? '' : `, ${s.usersFound} of these users`}), verified ${s.verifiedAt} by ${s.verifiedBy}: ${s.leftovers} left`,
            );
          for (const m of r.models) io.out(`  model ${m.modelId} (${m.role ?? 'retired'}): ${m.action} by ${m.dueBy}`);
          if (r.error) io.out(`  error: ${r.error}`);
        }
      } finally {
        await p.close();
      }
    });

  privacy
    .command('verify')
    .description('scan every store for tombstoned users and report leftovers (must be 0)')
    .option('--user <id>', 'check this user (repeatable)', collect)
    .option('--all', 'every tombstoned user (scans each store that can list its users)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--json', 'machine-readable output: checked, leftovers, stores.<name>.leftovers')
    .action(async (opts, cmd: Command) => {
      const users = opts.user as string[] | undefined;
      if ((users === undefined) === !opts.all)
        throw new InvalidInputError('privacy verify: give --user U or --all (one of them)');
      const p = await openPrivacy(cmd, opts.deployment);
      try {
        const r = await p.service.verify(users);
        if (opts.json) printJson(io, r);
        else {
          io.out(`checked ${r.checked} ${users ? 'users' : 'tombstones'}: ${r.leftovers} leftovers`);
          for (const [name, s] of Object.entries(r.stores))
            io.out(`  ${name.padEnd(16)} ${s.leftovers === null ? 'n/a' : s.leftovers}  (${s.method})`);
        }
        if (r.leftovers > 0) process.exitCode = 1;
      } finally {
        await p.close();
      }
    });

  privacy
    .command('sla')
    .description('pending deletion requests by age; alerts (metric and log) on those pending 20 h or more (SLA 24 h)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const p = await openPrivacy(cmd, opts.deployment);
      try {
        const r = p.service.sla();
        if (opts.json) printJson(io, r);
        else {
          io.out(
            `${r.pending.length} pending; ${r.atRisk} at risk (>= 20 h), ${r.missed} past the 24 h SLA${r.oldestAgeHours === null ? '' : `; oldest ${hours(r.oldestAgeHours)}`}`,
          );
          for (const x of r.pending)
            io.out(`  ${x.id} ${x.status.padEnd(12)} ${hours(x.ageHours).padStart(8)}  ${x.users} users`);
        }
      } finally {
        await p.close();
      }
    });
}
