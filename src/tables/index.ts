export {
  CELL_KINDS,
  type CellKind,
  CellReader,
  categoryOf,
  DEFAULT_NA_VALUES,
  isoDateMs,
  naValuesFromList,
} from './cells.js';
export { CsvReader, type CsvReadOptions, type CsvRecord, type CsvSpan, emptySpan } from './csv-reader.js';
export {
  type ParsedCategoricalColumn,
  type ParsedColumn,
  type ParsedNumericColumn,
  type ParsedTable,
  readCsvTable,
  type TableReadOptions,
} from './csv-table.js';
export { plainDecimal } from './decimal-scan.js';
