/** The IR, as data: Programs of equations over the primitives, and their printer. */
export * from './program.ts'
export { printProgram } from './pprint.ts'
