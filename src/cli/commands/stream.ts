import type { Command } from 'commander';
import type { DemoStage } from '../demo.js';
import type { CliIo } from '../io.js';

/** Registers `adnova stream ...`. Not built yet. */
export function registerStreamCommands(_program: Command, _io: CliIo): void {}

/** The stream stage of `adnova demo`. */
export const streamDemoStage: DemoStage | undefined = undefined;
