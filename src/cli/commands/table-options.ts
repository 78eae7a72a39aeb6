import type { Command } from 'commander';
import { DEFAULT_NA_VALUES, naValuesFromList } from '../../tables/index.js';

/** The parsing options every command that reads a table shares (docs/model.md, "Reading tables"). */
export interface TableCliOptions {
  sep?: string;
  header?: boolean;
  naValues?: string;
}

export function addTableOptions(cmd: Command): Command {
  return cmd
    .option('--sep <char>', 'CSV field separator, \\t for tab (default: detected from the first lines)')
    .option('--no-header', 'the CSV has no header row: columns are named c1..cN')
    .option(
      '--na-values <list>',
      `comma-separated cells read as missing, replacing the default list ("default" in the list stands for it: ${DEFAULT_NA_VALUES.filter((t) => t !== '').join(' ')}); empty cells are always missing`,
    );
}

/** The options for src/tables (and the model and monitor readers) from the parsed flags. */
export function tableReadOptions(o: TableCliOptions): {
  sep?: string;
  header?: boolean;
  naValues?: string[];
} {
  return {
    ...(o.sep === undefined ? {} : { sep: o.sep }),
    ...(o.header === false ? { header: false } : {}),
    ...(o.naValues === undefined ? {} : { naValues: naValuesFromList(o.naValues) }),
  };
}
