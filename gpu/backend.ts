/**
 * The WebGPU backend implements `Backend` from src/core/backend.ts: it lowers
 * a Program to WGSL kernels and runs each call as one command submission.
 * Only the interface is fixed so far; src/ never imports this folder.
 */
export type { Backend, Executable, ExecutableStats } from '../src/core/backend.ts'
