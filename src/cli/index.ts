export { DEMO_STAGES, type DemoStage, type DemoStageResult, runDemo } from './demo/index.js';
export { type CliIo, processIo } from './io.js';
export { buildProgram, runCli } from './program.js';
