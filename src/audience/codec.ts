import roaring from 'roaring';
import type { AudienceCandidates, AudienceSelection, AudienceSummary, AudienceVersion } from './audience.js';
import { AudienceStoreCorruptError } from './errors.js';

const { RoaringBitmap32 } = roaring;

/**
 * One version in one file: a magic, a JSON header (the summary and the section table) and the aligned column
 * sections (typed arrays as they are in memory, user ids as one newline-joined UTF-8 text, the members' roaring
 * bitmap in its portable serialization, readable by any roaring implementation). A header alone answers `list`.
 */
const MAGIC = Buffer.from('ADNAUD01');

type Kind = 'u8' | 'i16' | 'u32' | 'f64' | 'text' | 'bytes';
interface Section {
  readonly name: string;
  readonly kind: Kind;
  readonly bytes: number;
}
interface Header {
  readonly summary: AudienceSummary;
  readonly sections: readonly Section[];
}

const align8 = (n: number) => (n + 7) & ~7;

export function encodeVersion(v: AudienceVersion): Buffer {
  const c = v.candidates;
  const s = v.selection;
  const bitmap = new RoaringBitmap32();
  const memberDense = new Uint32Array(s.members.length);
  for (let i = 0; i < s.members.length; i++) memberDense[i] = c.dense[s.members[i] as number] as number;
  bitmap.addMany(memberDense);
  const parts: [string, Kind, Uint8Array][] = [
    ['userIds', 'text', Buffer.from(c.userIds.join('\n'), 'utf8')],
    ['dense', 'u32', bytesOf(c.dense)],
    ['scores', 'f64', bytesOf(c.scores)],
    ['predicateFailed', 'i16', bytesOf(c.predicateFailed)],
    ['modelIndex', 'u8', bytesOf(c.modelIndex)],
    ['featuresTs', 'f64', bytesOf(c.featuresTs)],
    ['scoredTs', 'f64', bytesOf(c.scoredTs)],
    ['outcome', 'u8', bytesOf(s.outcome)],
    ['rank', 'u32', bytesOf(s.rank)],
    ['propensity', 'f64', bytesOf(s.propensity)],
    ['members', 'u32', bytesOf(s.members)],
    ['memberBitmap', 'bytes', bitmap.serialize('portable')],
  ];
  const header: Header = {
    summary: v.summary,
    sections: parts.map(([name, kind, b]) => ({ name, kind, bytes: b.byteLength })),
  };
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const start = align8(MAGIC.length + 4 + head.length);
  let total = start;
  for (const [, , b] of parts) total += align8(b.byteLength);
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(head.length, MAGIC.length);
  head.copy(out, MAGIC.length + 4);
  let at = start;
  for (const [, , b] of parts) {
    out.set(b, at);
    at += align8(b.byteLength);
  }
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The header of an encoded version: its length (to read just that from a file) and the parsed JSON. */
export function headerLength(prefix: Buffer, file: string): number {
  if (prefix.length < MAGIC.length + 4 || !prefix.subarray(0, MAGIC.length).equals(MAGIC))
    throw new AudienceStoreCorruptError(`${file} is not an adnova audience version (bad magic)`);
  return MAGIC.length + 4 + prefix.readUInt32LE(MAGIC.length);
}

export function decodeSummary(buf: Buffer, file: string): AudienceSummary {
  return parseHeader(buf, file).summary;
}

function parseHeader(buf: Buffer, file: string): Header {
  const end = headerLength(buf, file);
  try {
    return JSON.parse(buf.subarray(MAGIC.length + 4, end).toString('utf8')) as Header;
  } catch (err) {
    throw new AudienceStoreCorruptError(`${file}: unreadable audience header`, { cause: err });
  }
}

export function decodeVersion(buf: Buffer, file: string): AudienceVersion & { memberBitmap: Uint8Array } {
  const header = parseHeader(buf, file);
  let at = align8(headerLength(buf, file));
  const raw = new Map<string, Buffer>();
  for (const s of header.sections) {
    if (at + s.bytes > buf.length) throw new AudienceStoreCorruptError(`${file}: section ${s.name} is truncated`);
    raw.set(s.name, buf.subarray(at, at + s.bytes));
    at += align8(s.bytes);
  }
  const get = (name: string): Buffer => {
    const b = raw.get(name);
    if (!b) throw new AudienceStoreCorruptError(`${file}: section ${name} is missing`);
    return b;
  };
  // copies: a file buffer's offset need not suit a Float64Array
  const copy = (name: string) => {
    const b = get(name);
    const ab = new ArrayBuffer(b.byteLength);
    new Uint8Array(ab).set(b);
    return ab;
  };
  const text = get('userIds').toString('utf8');
  const userIds = text.length ? text.split('\n') : [];
  const candidates: AudienceCandidates = {
    userIds,
    dense: new Uint32Array(copy('dense')),
    scores: new Float64Array(copy('scores')),
    predicateFailed: new Int16Array(copy('predicateFailed')),
    modelIndex: new Uint8Array(copy('modelIndex')),
    featuresTs: new Float64Array(copy('featuresTs')),
    scoredTs: new Float64Array(copy('scoredTs')),
  };
  const selection: AudienceSelection = {
    outcome: new Uint8Array(copy('outcome')),
    rank: new Uint32Array(copy('rank')),
    propensity: new Float64Array(copy('propensity')),
    members: new Uint32Array(copy('members')),
    slots: header.summary.slots,
  };
  if (candidates.dense.length !== userIds.length || selection.outcome.length !== userIds.length)
    throw new AudienceStoreCorruptError(`${file}: sections disagree on the number of candidates`);
  return { summary: header.summary, candidates, selection, memberBitmap: new Uint8Array(get('memberBitmap')) };
}

/** The members' bitmap of a stored version (dense ids), deserialized from its portable form. */
/** A shard's scored candidates, with the models they name (`modelIndex`), in the same section layout. */
export function encodeCandidates(c: AudienceCandidates, models: readonly string[]): Buffer {
  const empty: AudienceSelection = {
    outcome: new Uint8Array(c.userIds.length),
    rank: new Uint32Array(c.userIds.length),
    propensity: new Float64Array(c.userIds.length),
    members: new Uint32Array(0),
    slots: 0,
  };
  const summary = { models } as unknown as AudienceSummary;
  return encodeVersion({ summary, candidates: c, selection: empty });
}

export function decodeCandidates(buf: Buffer, file: string): { candidates: AudienceCandidates; models: string[] } {
  const v = decodeVersion(buf, file);
  return { candidates: v.candidates, models: [...v.summary.models] };
}

export function memberBitmapOf(bytes: Uint8Array): InstanceType<typeof RoaringBitmap32> {
  return RoaringBitmap32.deserialize(bytes, 'portable');
}
