import { z } from 'zod';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_CAMPAIGNS_PER_REQUEST = 50;
export const MAX_USERS_PER_BATCH = 1000;
export const MAX_USERS_PER_DELETION = 10_000;

const userId = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, { error: 'expected a user id (1-128 of A-Z a-z 0-9 _ . : @ -)' });
const campaignIds = z
  .array(z.string().regex(ID, { error: `expected a campaign id matching ${ID}` }), {
    error: 'expected a list of campaign ids',
  })
  .min(1, { error: 'expected at least one campaign id' })
  .max(MAX_CAMPAIGNS_PER_REQUEST, { error: `expected at most ${MAX_CAMPAIGNS_PER_REQUEST} campaign ids` })
  .refine((ids) => new Set(ids).size === ids.length, { error: 'expected distinct campaign ids' });

export const contextSchema = z.strictObject({
  hourOfDay: z
    .number()
    .int({ error: 'expected a whole hour 0..23' })
    .min(0, { error: 'expected a whole hour 0..23' })
    .max(23, { error: 'expected a whole hour 0..23' })
    .optional(),
  platform: z.string().min(1).max(32).optional(),
});

const deadlineMs = z
  .number()
  .int()
  .min(1, { error: 'expected 1..5000 ms' })
  .max(5000, { error: 'expected 1..5000 ms' })
  .optional();

export const decisionRequestSchema = z.strictObject({
  userId,
  campaignIds,
  context: contextSchema.optional(),
  /** Top feature contributions and a sentence per campaign (slower: one tree walk per campaign). */
  explain: z.boolean().optional(),
  deadlineMs,
});

export const batchDecisionRequestSchema = z.strictObject({
  userIds: z
    .array(userId, { error: 'expected a list of user ids' })
    .min(1, { error: 'expected at least one user id' })
    .max(MAX_USERS_PER_BATCH, { error: `expected at most ${MAX_USERS_PER_BATCH} user ids` }),
  campaignIds,
  context: contextSchema.optional(),
  deadlineMs,
});

export const campaignIdParams = z.strictObject({
  id: z.string().regex(ID, { error: `expected a campaign id matching ${ID}` }),
});

export const campaignListQuery = z.strictObject({
  status: z.enum(['active', 'paused'], { error: 'expected active or paused' }).optional(),
  advertiserId: z.string().regex(ID).optional(),
});

export const membersQuery = z.strictObject({
  version: z.coerce.number().int().min(1).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000, { error: 'expected 1..10000' }).default(1000),
});

export const exportBody = z.strictObject({
  format: z.enum(['csv', 'parquet'], { error: 'expected csv or parquet' }).default('csv'),
  version: z.number().int().min(1).optional(),
});

export const diffQuery = z.strictObject({
  from: z.coerce.number().int().min(1),
  to: z.coerce.number().int().min(1),
});

export const stagesQuery = z.strictObject({ version: z.coerce.number().int().min(1).optional() });

export const deletionBody = z.strictObject({
  userIds: z
    .array(userId, { error: 'expected a list of user ids' })
    .min(1, { error: 'expected at least one user id' })
    .max(MAX_USERS_PER_DELETION, { error: `expected at most ${MAX_USERS_PER_DELETION} user ids` }),
});

export const deletionParams = z.strictObject({ id: z.string().min(1).max(128) });

export const keyCreateBody = z.strictObject({
  role: z.enum(['advertiser', 'admin'], { error: 'expected advertiser or admin' }),
  advertiserId: z.string().regex(ID).optional(),
  label: z.string().max(200).optional(),
});

export const keyParams = z.strictObject({ id: z.string().min(1).max(128) });
