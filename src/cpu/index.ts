/** The CPU reference interpreter: the oracle every backend is checked against, and the fallback backend. */
export { cpuBackend } from './backend.ts'
export { type RunOptions, runProgram } from './interpreter.ts'
