export {
  type DeadLetter,
  type DeadLetterInput,
  type DeadLetterSink,
  MemoryDeadLetterSink,
  validateDeadLetters,
} from './dead-letter.js';
export {
  type DeadLetterFileContents,
  FileDeadLetterSink,
  type FileDeadLetterSinkOptions,
  readDeadLetterFile,
} from './dead-letter-file.js';
export {
  type BusConsumer,
  type BusEventInput,
  type BusMessage,
  type ConsumerOptions,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_PULL_MAX_MESSAGES,
  DEFAULT_PULL_WAIT_MS,
  EVENT_BUS_KINDS,
  type EventBus,
  type EventBusKind,
  MAX_PULL_MESSAGES,
  type PublishResult,
  type PullOptions,
  partitionTopic,
  partitionTopics,
  START_AT_KINDS,
  type StartAt,
  validateBusName,
} from './event-bus.js';
export { type CreateEventBusOptions, createEventBus } from './event-bus-factory.js';
export { MemoryEventBus, type MemoryEventBusOptions } from './memory-event-bus.js';
export { NatsEventBus, type NatsEventBusOptions } from './nats-event-bus.js';
export { RedisStreamsEventBus, type RedisStreamsEventBusOptions } from './redis-streams-event-bus.js';
