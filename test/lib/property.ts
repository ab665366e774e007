/**
 * `fc.assert` for synchronous properties. fast-check's `assert` is
 * overloaded (a Promise for an async property, nothing for a synchronous
 * one); this is its synchronous overload alone, so the compiler rejects an
 * async property here (which must be awaited) and the linter's type
 * inference, which takes the first overload, sees no promise to await.
 */
import * as fc from 'fast-check'
import { lawRuns } from '../../laws/index.ts'

export const assertProperty: <Ts>(property: fc.IProperty<Ts>, params?: fc.Parameters<Ts>) => void = fc.assert

/** Runs for a property `cost` times as dear as one law check: `lawRuns() / cost`, at least 3. */
export const runs = (cost: number): { numRuns: number } => ({ numRuns: Math.max(3, Math.ceil(lawRuns() / cost)) })
