// The feature store's closed option sets, in a module with no imports: the CLI lists them in --help without
// loading the store, DuckDB or zod (start-up time, see bench/cli.ts).

export const DEFINITION_KINDS = ['entity', 'view', 'transform', 'service'] as const;
