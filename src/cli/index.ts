export { DEMO_STAGES, type DemoStage, type DemoStageResult, runDemo } from './demo.js';
export { type CliIo, processIo } from './io.js';
export { buildProgram, runCli } from './program.js';
