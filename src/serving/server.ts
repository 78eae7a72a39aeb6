import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { AdnovaError, describeError, InvalidInputError, MetricsRegistry } from '../core/index.js';
import {
  type Campaign,
  CampaignNotFoundError,
  CampaignSpecError,
  campaignToSpec,
  type Deployment,
  isLive,
} from '../decision/index.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './breaker.js';
import { CampaignCache } from './campaign-cache.js';
import { ForbiddenError, ServiceNotConfiguredError, UnauthorizedError } from './errors.js';
import type { FileKeyStore, Principal } from './keys.js';
import { type CampaignAnswer, OnlineDecider, type OnlineDecision, type UserAnswer } from './online.js';
import type { AudienceApi, DeletionRequests } from './ports.js';
import type { RequestLog } from './request-log.js';
import {
  batchDecisionRequestSchema,
  campaignIdParams,
  campaignListQuery,
  decisionRequestSchema,
  deletionBody,
  deletionParams,
  diffQuery,
  exportBody,
  keyCreateBody,
  keyParams,
  membersQuery,
  stagesQuery,
} from './schemas.js';
import { BatchSnapshotSource } from './snapshot-source.js';

export interface ServerOptions {
  readonly deployment: Deployment;
  readonly keys: FileKeyStore;
  readonly audiences?: AudienceApi;
  readonly deletions?: DeletionRequests;
  readonly requestLog?: RequestLog;
  readonly metrics?: MetricsRegistry;
  /** pino logging by fastify (default off: tests and benchmarks); `adnova serve` turns it on. */
  readonly logger?: boolean | { level: string };
  /** Deadline of a one-user decision (default 100 ms) and of a batch (default 2,000 ms). */
  readonly decisionDeadlineMs?: number;
  readonly batchDeadlineMs?: number;
  /** Requests per key per window (default 6,000 a minute); false: no limit. */
  readonly rateLimit?: { readonly max: number; readonly windowMs: number } | false;
  /** Largest request body (default 1 MiB; a one-user decision is capped at 16 KiB). */
  readonly bodyLimitBytes?: number;
  /**
   * The batch snapshot served while the online store is down: loaded in the background at start (default), a
   * given one, or none (the fallback then answers 503).
   */
  readonly snapshot?: 'load' | 'none' | BatchSnapshotSource;
  readonly breaker?: CircuitBreakerOptions;
  /** Record online sends in the cap ledger (default false). */
  readonly commit?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    startedAt: number;
  }
}

/** One problem with a request field: where, what came, what was expected. */
export interface FieldProblem {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
}

const PUBLIC_PREFIXES = ['/healthz', '/readyz', '/metrics', '/docs'];

/**
 * The HTTP API: online decisions, campaigns, audiences and deletions for advertisers (their own) and admins, with
 * OpenAPI at /docs, health at /healthz and /readyz and Prometheus metrics at /metrics.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { deployment, keys } = options;
  const metrics = options.metrics ?? new MetricsRegistry();
  const decisionDeadlineMs = options.decisionDeadlineMs ?? 100;
  const batchDeadlineMs = options.batchDeadlineMs ?? 2000;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;

  const breakerState = metrics.gauge({
    name: 'adnova_serving_online_store_breaker_open',
    help: '1 while the online store circuit breaker is open or half-open',
  });
  const breaker = new CircuitBreaker({
    ...options.breaker,
    onChange: (s) => {
      breakerState.set(s === 'closed' ? 0 : 1);
      options.breaker?.onChange?.(s);
    },
  });
  let snapshot: BatchSnapshotSource | null = null;
  let snapshotState: 'loading' | 'ok' | 'failed' | 'none' = 'none';
  let snapshotError: string | null = null;
  let snapshotLoading: Promise<void> = Promise.resolve();
  if (options.snapshot instanceof BatchSnapshotSource) {
    snapshot = options.snapshot;
    snapshotState = 'ok';
  } else if (options.snapshot !== 'none') {
    snapshotState = 'loading';
    snapshotLoading = BatchSnapshotSource.load(deployment).then(
      (s) => {
        snapshot = s;
        snapshotState = 'ok';
      },
      (err: unknown) => {
        snapshotState = 'failed';
        snapshotError = describeError(err);
      },
    );
  }

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    genReqId: () => randomUUID(),
    // a connection that never sends its request must not hold a socket forever
    requestTimeout: 10_000,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  app.decorateRequest('startedAt', 0);

  const decider = new OnlineDecider(deployment, {
    breaker,
    snapshot: () => snapshot,
    metrics,
    ...(options.commit !== undefined ? { commit: options.commit } : {}),
  });
  const campaigns = new CampaignCache(deployment.campaigns);
  const warming = (async () => {
    const live = await deployment.campaigns.list({ liveAt: deployment.clock.now() });
    const first = deployment.index.users.size > 0 ? deployment.index.users.userOf(0) : undefined;
    await decider.warm(live, first);
  })().catch(() => {});
  const httpMs = metrics.histogram({
    name: 'adnova_serving_http_ms',
    help: 'Server time of a request (ms), by route and status class',
    labelNames: ['route', 'status'],
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 1000],
  });
  const errorsTotal = metrics.counter({
    name: 'adnova_serving_errors_total',
    help: 'Error answers by status and code',
    labelNames: ['status', 'code'],
  });

  app.addHook('onRequest', async (req) => {
    req.startedAt = performance.now();
    if (!req.url.startsWith('/v1/')) return;
    const header = req.headers.authorization;
    const presented =
      typeof header === 'string' && header.startsWith('Bearer ')
        ? header.slice(7).trim()
        : typeof req.headers['x-api-key'] === 'string'
          ? req.headers['x-api-key']
          : undefined;
    if (!presented) throw new UnauthorizedError('an API key is required: Authorization: Bearer <key>');
    const principal = keys.authenticate(presented);
    if (!principal) throw new UnauthorizedError('the API key is unknown or revoked');
    req.principal = principal;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    httpMs.observe({ route, status: `${Math.floor(reply.statusCode / 100)}xx` }, performance.now() - req.startedAt);
  });

  app.setErrorHandler((err: FastifyError | AdnovaError | Error, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) =>
    sendError(new AdnovaNotFound(`no route ${req.method} ${req.url.split('?')[0]}`), req, reply),
  );

  function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
    let status = 500;
    let body: Record<string, unknown>;
    if (hasZodFastifySchemaValidationErrors(err)) {
      status = 400;
      const where = (err as { validationContext?: string }).validationContext ?? 'body';
      const source = where === 'querystring' ? req.query : where === 'params' ? req.params : req.body;
      const problems: FieldProblem[] = err.validation.map((v) => {
        const path = v.instancePath.split('/').filter(Boolean);
        return {
          field: path.length ? path.join('.') : `(${where})`,
          value: valueAt(source, path) ?? null,
          expected: v.message ?? 'a valid value',
        };
      });
      body = {
        code: 'INVALID_INPUT',
        message: problems.map((p) => `${p.field}: ${p.expected} (got ${render(p.value)})`).join('; '),
        problems,
      };
    } else if (err instanceof CampaignSpecError) {
      status = 400;
      body = {
        code: err.code,
        message: err.message,
        problems: err.problems.map((p) => ({ field: p.field, value: p.value, expected: p.message })),
      };
    } else if (err instanceof AdnovaError) {
      status = err.httpStatus;
      body = { code: err.code, message: err.message };
      if (err instanceof InvalidInputError && err.details) body['details'] = err.details;
    } else if (isHttpError(err)) {
      status = err.statusCode;
      body = { code: err.code ?? `HTTP_${status}`, message: err.message };
      if (status === 413) body['code'] = 'PAYLOAD_TOO_LARGE';
      if (status === 429) body['code'] = 'RATE_LIMITED';
    } else {
      // not ours and not fastify's: log it whole, answer without anything from it
      req.log.error({ err }, 'internal error');
      body = { code: 'INTERNAL', message: 'internal error' };
    }
    if (status >= 500 && status !== 503)
      body = { code: body['code'] ?? 'INTERNAL', message: status === 500 ? 'internal error' : body['message'] };
    if (status === 503 || status === 429) {
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? (status === 429 ? undefined : 1);
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    }
    errorsTotal.inc({ status: String(status), code: String(body['code']) });
    return reply
      .code(status)
      .type('application/json')
      .send({ error: { ...body, requestId: req.id } });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'adnova serving API', version: '1' },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'adn_<id>_<secret>' } },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (options.rateLimit !== false) {
    const rl = options.rateLimit ?? { max: 6000, windowMs: 60_000 };
    await app.register(rateLimit, {
      global: true,
      max: rl.max,
      timeWindow: rl.windowMs,
      hook: 'preHandler', // after the key is known
      keyGenerator: (req) => req.principal?.keyId ?? req.ip,
      allowList: (req) => PUBLIC_PREFIXES.some((p) => req.url.startsWith(p)),
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        code: 'RATE_LIMITED',
        message: `rate limit of ${ctx.max} requests per ${ctx.after} exceeded for this key`,
        retryAfterSeconds: Math.max(1, Math.ceil(ctx.ttl / 1000)),
      }),
    });
  }

  const z = app.withTypeProvider<ZodTypeProvider>();

  // ---- health
  z.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  z.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const online = breaker.state;
    const degraded: string[] = [];
    if (online !== 'closed') degraded.push('online_store');
    if (snapshotState !== 'ok') degraded.push('batch_snapshot');
    const logStats = options.requestLog?.stats();
    if (logStats && logStats.dropped > 0) degraded.push('request_log');
    const ready = online === 'closed' || snapshotState === 'ok';
    reply.code(ready ? 200 : 503);
    if (!ready) reply.header('retry-after', '1');
    return {
      ready,
      degraded,
      dependencies: {
        onlineStore: {
          state: online === 'closed' ? 'ok' : 'degraded',
          breaker: online,
          kind: deployment.store.online.kind,
        },
        batchSnapshot: {
          state: snapshotState,
          ...(snapshot
            ? { users: (snapshot as BatchSnapshotSource).users, atMs: (snapshot as BatchSnapshotSource).atMs }
            : {}),
          ...(snapshotError ? { error: snapshotError } : {}),
        },
        ...(logStats ? { requestLog: logStats } : {}),
        audiences: options.audiences ? 'ok' : 'not_configured',
        deletions: options.deletions ? 'ok' : 'not_configured',
      },
    };
  });
  z.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });

  // ---- helpers
  const principalOf = (req: FastifyRequest): Principal => {
    if (!req.principal) throw new UnauthorizedError('an API key is required');
    return req.principal;
  };
  const requireAdmin = (req: FastifyRequest): Principal => {
    const p = principalOf(req);
    if (p.role !== 'admin') throw new ForbiddenError('this route needs an admin key');
    return p;
  };
  /** The campaign, when the caller may see it; another advertiser's campaign is as absent as an unknown one. */
  const visibleCampaign = async (req: FastifyRequest, id: string): Promise<Campaign> => {
    const p = principalOf(req);
    const c = await campaigns.get(id);
    if (!c || (p.role !== 'admin' && c.advertiserId !== p.advertiserId))
      throw new CampaignNotFoundError(`no campaign ${JSON.stringify(id)}`);
    return c;
  };
  const audiencesOrThrow = (): AudienceApi => {
    if (!options.audiences) throw new ServiceNotConfiguredError('no audience service is configured on this server');
    return options.audiences;
  };
  const deletionsOrThrow = (): DeletionRequests => {
    if (!options.deletions) throw new ServiceNotConfiguredError('no deletion service is configured on this server');
    return options.deletions;
  };

  async function decideFor(
    req: FastifyRequest,
    userIds: readonly string[],
    campaignIds: readonly string[],
    body: {
      context?: { hourOfDay?: number | undefined; platform?: string | undefined } | undefined;
      explain?: boolean | undefined;
      deadlineMs?: number | undefined;
    },
    defaultDeadline: number,
  ): Promise<OnlineDecision & { notLive: Map<number, CampaignAnswer> }> {
    const cs = await Promise.all(campaignIds.map((id) => visibleCampaign(req, id)));
    const now = deployment.clock.now();
    const live: Campaign[] = [];
    const notLive = new Map<number, CampaignAnswer>();
    cs.forEach((c, k) => {
      if (isLive(c, now)) live.push(c);
      else
        notLive.set(k, {
          campaignId: c.id,
          included: false,
          score: null,
          rank: null,
          propensity: null,
          stage: 'request',
          rule: 'campaign_not_live',
          detail: c.status === 'paused' ? 'paused' : c.launchTs > now ? 'not launched yet' : 'ended',
          modelVersion: null,
          degraded: [],
        });
    });
    const context = {
      ...(body.context?.hourOfDay !== undefined ? { hourOfDay: body.context.hourOfDay } : {}),
      ...(body.context?.platform !== undefined ? { platform: body.context.platform } : {}),
    };
    const d = await decider.decide(userIds, live, {
      context,
      deadlineMs: body.deadlineMs ?? defaultDeadline,
      ...(body.explain ? { explain: true } : {}),
    });
    options.requestLog?.record(d, { requestId: String(req.id), keyId: principalOf(req).keyId });
    return { ...d, notLive };
  }

  const merge = (u: UserAnswer, notLive: Map<number, CampaignAnswer>, total: number): CampaignAnswer[] => {
    if (notLive.size === 0) return u.campaigns as CampaignAnswer[];
    const out: CampaignAnswer[] = [];
    let j = 0;
    for (let k = 0; k < total; k++) out.push(notLive.get(k) ?? (u.campaigns[j++] as CampaignAnswer));
    return out;
  };

  // ---- decisions
  z.post(
    '/v1/decisions',
    {
      bodyLimit: 16 * 1024,
      schema: {
        description: 'Decide up to 50 campaigns for one user',
        tags: ['decisions'],
        body: decisionRequestSchema,
      },
    },
    async (req) => {
      const b = req.body;
      const d = await decideFor(req, [b.userId], b.campaignIds, b, decisionDeadlineMs);
      const u = d.users[0] as UserAnswer;
      return {
        requestId: req.id,
        atMs: d.atMs,
        userId: u.userId,
        featureSource: u.featureSource,
        featureAgesMs: u.featureAgesMs,
        degraded: u.degraded,
        campaigns: merge(u, d.notLive, b.campaignIds.length),
      };
    },
  );

  z.post(
    '/v1/decisions/batch',
    {
      schema: {
        description: 'Decide up to 50 campaigns for up to 1,000 users',
        tags: ['decisions'],
        body: batchDecisionRequestSchema,
      },
    },
    async (req) => {
      const b = req.body;
      const d = await decideFor(req, b.userIds, b.campaignIds, b, batchDeadlineMs);
      return {
        requestId: req.id,
        atMs: d.atMs,
        featureSource: d.featureSource,
        degraded: d.reasons,
        users: d.users.map((u) => ({
          userId: u.userId,
          featureAgesMs: u.featureAgesMs,
          degraded: u.degraded,
          campaigns: merge(u, d.notLive, b.campaignIds.length),
        })),
      };
    },
  );

  // ---- campaigns
  z.post(
    '/v1/campaigns',
    { schema: { description: 'Create a campaign (the decision spec)', tags: ['campaigns'] } },
    async (req, reply) => {
      const p = principalOf(req);
      const spec = req.body as Record<string, unknown> | null;
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec))
        throw new InvalidInputError('body: expected a campaign spec object', {
          details: { problems: [{ field: '(body)', value: spec, expected: 'a campaign spec object' }] },
        });
      if (p.role !== 'admin' && spec['advertiserId'] !== p.advertiserId)
        throw new ForbiddenError(
          `advertiserId: this key creates campaigns for ${p.advertiserId} only (got ${render(spec['advertiserId'])})`,
        );
      const c = await deployment.campaigns.create(spec, 'body');
      reply.code(201);
      return campaignJson(c);
    },
  );
  z.get(
    '/v1/campaigns',
    {
      schema: {
        description: 'List campaigns (an advertiser sees its own)',
        tags: ['campaigns'],
        querystring: campaignListQuery,
      },
    },
    async (req) => {
      const p = principalOf(req);
      const q = req.query;
      if (p.role !== 'admin' && q.advertiserId !== undefined && q.advertiserId !== p.advertiserId)
        throw new ForbiddenError(`advertiserId: this key sees ${p.advertiserId} only`);
      const advertiserId = p.role === 'admin' ? q.advertiserId : (p.advertiserId as string);
      const list = await deployment.campaigns.list({
        ...(advertiserId !== undefined ? { advertiserId } : {}),
        ...(q.status ? { status: q.status } : {}),
      });
      return { campaigns: list.map(campaignJson) };
    },
  );
  z.get('/v1/campaigns/:id', { schema: { tags: ['campaigns'], params: campaignIdParams } }, async (req) =>
    campaignJson(await visibleCampaign(req, req.params.id)),
  );
  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const)
    z.post(
      `/v1/campaigns/:id/${action}`,
      { schema: { tags: ['campaigns'], params: campaignIdParams } },
      async (req) => {
        await visibleCampaign(req, req.params.id);
        return campaignJson(await deployment.campaigns.setStatus(req.params.id, status));
      },
    );

  // ---- audiences (through the AudienceApi port)
  z.post(
    '/v1/campaigns/:id/audience/builds',
    { schema: { description: 'Launch a build of the audience', tags: ['audiences'], params: campaignIdParams } },
    async (req, reply) => {
      const c = await visibleCampaign(req, req.params.id);
      const s = await audiencesOrThrow().build(c.id, principalOf(req).keyId);
      reply.code(202);
      return s;
    },
  );
  z.get(
    '/v1/campaigns/:id/audience',
    { schema: { description: 'Status of the latest build', tags: ['audiences'], params: campaignIdParams } },
    async (req) => {
      const c = await visibleCampaign(req, req.params.id);
      const s = await audiencesOrThrow().status(c.id);
      if (!s) throw new AdnovaNotFound(`campaign ${c.id} has no audience build`);
      return s;
    },
  );
  z.get(
    '/v1/campaigns/:id/audience/members',
    { schema: { tags: ['audiences'], params: campaignIdParams, querystring: membersQuery } },
    async (req) => {
      const c = await visibleCampaign(req, req.params.id);
      const q = req.query;
      const m = await audiencesOrThrow().members(c.id, {
        offset: q.offset,
        limit: q.limit,
        ...(q.version !== undefined ? { version: q.version } : {}),
      });
      if (!m) throw new AdnovaNotFound(`campaign ${c.id} has no audience${q.version ? ` version ${q.version}` : ''}`);
      return { campaignId: c.id, offset: q.offset, limit: q.limit, ...m };
    },
  );
  z.post(
    '/v1/campaigns/:id/audience/exports',
    { schema: { tags: ['audiences'], params: campaignIdParams, body: exportBody } },
    async (req, reply) => {
      const c = await visibleCampaign(req, req.params.id);
      const b = req.body ?? { format: 'csv' as const };
      const r = await audiencesOrThrow().export(c.id, {
        format: b.format,
        ...(b.version !== undefined ? { version: b.version } : {}),
      });
      reply.code(201);
      return r;
    },
  );
  z.get(
    '/v1/campaigns/:id/audience/diff',
    { schema: { tags: ['audiences'], params: campaignIdParams, querystring: diffQuery } },
    async (req) => {
      const c = await visibleCampaign(req, req.params.id);
      const r = await audiencesOrThrow().diff(c.id, req.query.from, req.query.to);
      if (!r) throw new AdnovaNotFound(`campaign ${c.id} has no versions ${req.query.from} and ${req.query.to}`);
      return r;
    },
  );
  z.get(
    '/v1/campaigns/:id/audience/stages',
    { schema: { tags: ['audiences'], params: campaignIdParams, querystring: stagesQuery } },
    async (req) => {
      const c = await visibleCampaign(req, req.params.id);
      const r = await audiencesOrThrow().stages(c.id, req.query.version);
      if (!r) throw new AdnovaNotFound(`campaign ${c.id} has no audience build`);
      return { campaignId: c.id, stages: r };
    },
  );

  // ---- deletions (admin; through the DeletionRequests port)
  z.post(
    '/v1/deletions',
    { schema: { description: 'Request deletion of users (admin)', tags: ['privacy'], body: deletionBody } },
    async (req, reply) => {
      const p = requireAdmin(req);
      const r = await deletionsOrThrow().submit(req.body.userIds, p.keyId);
      reply.code(202);
      return r;
    },
  );
  z.get('/v1/deletions/:id', { schema: { tags: ['privacy'], params: deletionParams } }, async (req) => {
    requireAdmin(req);
    const r = await deletionsOrThrow().status(req.params.id);
    if (!r) throw new AdnovaNotFound(`no deletion request ${JSON.stringify(req.params.id)}`);
    return r;
  });

  // ---- keys (admin)
  z.get('/v1/keys', { schema: { tags: ['keys'] } }, async (req) => {
    requireAdmin(req);
    return { keys: keys.list().map(({ sha256: _s, ...k }) => k) };
  });
  z.post('/v1/keys', { schema: { tags: ['keys'], body: keyCreateBody } }, async (req, reply) => {
    requireAdmin(req);
    const b = req.body;
    const { record, key } = keys.create({
      role: b.role,
      ...(b.advertiserId !== undefined ? { advertiserId: b.advertiserId } : {}),
      ...(b.label !== undefined ? { label: b.label } : {}),
    });
    const { sha256: _s, ...shown } = record;
    reply.code(201);
    return { ...shown, key };
  });
  z.post('/v1/keys/:id/revoke', { schema: { tags: ['keys'], params: keyParams } }, async (req) => {
    requireAdmin(req);
    const { sha256: _s, ...shown } = keys.revoke(req.params.id);
    return shown;
  });

  app.addHook('onClose', async () => {
    await Promise.all([snapshotLoading, warming]);
    await options.requestLog?.flush();
  });
  /** Resolves when the background snapshot load and the model warm-up finished (`serve` waits before listening). */
  app.decorate('servingReady', () => Promise.all([snapshotLoading, warming]).then(() => {}));
  app.decorate('decider', decider);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    servingReady(): Promise<void>;
    decider: OnlineDecider;
  }
}

class AdnovaNotFound extends AdnovaError {
  readonly code = 'NOT_FOUND';
  override readonly httpStatus: number = 404;
}

function campaignJson(c: Campaign): Record<string, unknown> {
  return { ...campaignToSpec(c), status: c.status, version: c.version };
}

function isHttpError(err: unknown): err is { statusCode: number; code?: string; message: string } {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 600;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function render(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
