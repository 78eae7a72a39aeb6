/**
 * A tiny WebAssembly assembler: LEB128 encodings, vectors, sections and the opcodes the scorer's kernel uses, by
 * name, so that kernel code reads as instructions rather than bytes. Functions return byte arrays to be spread.
 */

export const uleb = (v: number): number[] => {
  const b: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    b.push(byte);
  } while (v !== 0);
  return b;
};

export const sleb = (v: number): number[] => {
  const b: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      b.push(byte);
      return b;
    }
    b.push(byte | 0x80);
  }
};

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];

/** Value type i32. */
export const I32 = 0x7f;
/** Section ids. */
export const SECTION = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;
/** The module header: magic and version 1. */
export const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/** A function type of `params` i32 parameters and no results. */
export const fnTypeI32 = (params: number): number[] => [
  0x60,
  ...vec(Array.from({ length: params }, () => [I32])),
  ...vec([]),
];
/** An import of memory `field` from `module` with a minimum of one page. */
export const importMemory = (module: string, field: string): number[] => [
  ...name(module),
  ...name(field),
  0x02,
  0x00,
  0x01,
];
/** An export of function `index`. */
export const exportFunction = (field: string, index: number): number[] => [...name(field), 0x00, index];
/** A function body entry of the code section: `locals` i32 locals, then the code (ending in `end`). */
export const functionBody = (locals: number, code: number[]): number[] => {
  const body = [...vec([[...uleb(locals), I32]]), ...code];
  return [...uleb(body.length), ...body];
};

/** Instructions; memory instructions take their static offset. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: 0x0b,
  br: (depth: number): number[] => [0x0c, depth],
  brIf: (depth: number): number[] => [0x0d, depth],
  select: 0x1b,
  localGet: (i: number): number[] => [0x20, i],
  localSet: (i: number): number[] => [0x21, i],
  i32Load: (offset: number): number[] => [0x28, 2, ...uleb(offset)],
  f64Load: (offset: number): number[] => [0x2b, 3, ...uleb(offset)],
  i32Load8U: (offset: number): number[] => [0x2d, 0, ...uleb(offset)],
  i32Store: (offset: number): number[] => [0x36, 2, ...uleb(offset)],
  f64Store: (offset: number): number[] => [0x39, 3, ...uleb(offset)],
  i32Store8: (offset: number): number[] => [0x3a, 0, ...uleb(offset)],
  i32Const: (v: number): number[] => [0x41, ...sleb(v)],
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  f64Add: 0xa0,
} as const;
