/**
 * Exports a point-in-time training table of a simulated world as CSV (sends x the batch snapshot of the send day,
 * labels, true probabilities), for `check_learnable.py`: `npx tsx src/world/tools/export-training-csv.ts WORLD OUT.csv`.
 */
import { WorldDb } from '../duckdb-world-db.js';
import { readManifest, tableFiles } from '../manifest.js';

const [dir, out] = process.argv.slice(2);
if (!dir || !out) throw new Error('usage: export-training-csv.ts WORLD_DIR OUT.csv');
const m = readManifest(dir);
const batch = tableFiles(dir, m, 'batch')
  .map((f) => `'${f}'`)
  .join(', ');
const db = await WorldDb.open({ path: ':memory:' });
try {
  await db.exec(
    `COPY (
       SELECT s.send_id, s.send_ts, s.channel, s.vertical, b.* EXCLUDE (user_id, snapshot_date, event_ts, created_ts),
              (o.send_id IS NOT NULL)::INT AS y_open, (c.send_id IS NOT NULL)::INT AS y_convert, g.p_open, g.p_convert
       FROM '${dir}/sends.parquet' s
       JOIN read_parquet([${batch}]) b ON b.user_id = s.user_id AND b.snapshot_date = strftime(make_timestamp(s.send_ts * 1000), '%Y-%m-%d')
            AND b.created_ts <= s.send_ts
       JOIN '${dir}/ground_truth.parquet' g USING (send_id)
       LEFT JOIN (SELECT send_id FROM '${dir}/outcomes.parquet' WHERE kind = 'open') o USING (send_id)
       LEFT JOIN (SELECT send_id FROM '${dir}/outcomes.parquet' WHERE kind = 'convert') c USING (send_id)
       ORDER BY s.send_ts, s.send_id) TO '${out}' (HEADER)`,
  );
} finally {
  db.close();
}
