/**
 * The closed vocabularies campaigns, events, models and the World are written in, defined once: a channel or a
 * goal means the same thing to the simulator, the event contract, the trainer and a campaign spec.
 */
export const CHANNELS = ['email', 'push', 'in_app'] as const;
export type Channel = (typeof CHANNELS)[number];
export const GOALS = ['open', 'click', 'convert'] as const;
export type Goal = (typeof GOALS)[number];
export const PLATFORMS = ['ios', 'android', 'web'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];
