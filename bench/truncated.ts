/**
 * Truncated BPTT beside full BPTT on the RNN workload's cell (input 32,
 * hidden 128, T = 50, batch 32, loss mean(h_T²)): one jitted gradient call
 * on WebGPU and on the CPU interpreter, ms per call (median of 7 after the
 * first), dispatches and submissions on WebGPU. Truncated BPTT is a scan over
 * chunks of k steps, each a forward and a backward scan: on WebGPU, loops
 * inside a loop in one submission. Neither peer has truncated BPTT.
 *
 *   npx tsx bench/truncated.ts [--k 10]
 */
import { cpuBackend, jit, ops, random, type Backend, type Tensor } from '../src/index.ts'
import { webgpuBackend } from '../gpu/index.ts'
import { bptt, elman } from '../src/recurrent/index.ts'
import { RNN } from './peers/measure.ts'

const at = process.argv.indexOf('--k')
const k = at >= 0 ? Number(process.argv[at + 1]) : 10
if (!Number.isInteger(k) || k < 1)
  throw new Error(`--k takes a whole number of steps of at least 1, got ${process.argv[at + 1]}`)

const { input, hidden, steps, batch } = RNN
const cell = elman(input, hidden)
const params = cell.init(random.key(0))
const h0 = cell.initialState(batch)
const xs = random.normal(random.key(1), [steps, batch, input])
const loss = (h: Tensor) => ops.mean(ops.square(h)) as Tensor<[]>

const backends: [string, Backend][] = [
  ['webgpu', await webgpuBackend()],
  ['cpu', cpuBackend()],
]
for (const truncate of [undefined, k])
  for (const [name, backend] of backends) {
    const f = jit(
      (p: typeof params, h: Tensor, x: Tensor) =>
        bptt(cell, loss as never, truncate === undefined ? {} : { truncate })(p, h as never, x as never),
      { backend },
    )
    const call = async () => (await (await f(params, h0, xs)).loss.data())[0]
    let t0 = performance.now()
    const value = await call()
    const first = performance.now() - t0
    const times: number[] = []
    for (let i = 0; i < 7; i++) {
      t0 = performance.now()
      await call()
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    const stats = name === 'webgpu' ? (await f.compiled(params, h0, xs)).stats() : null
    const counts = stats === null ? '' : `  ${stats.dispatches} dispatches, ${stats.submissions} submission(s)`
    console.log(
      `${truncate === undefined ? 'full BPTT     ' : `truncated k=${String(k).padEnd(2)}`} ${name.padEnd(7)} ${times[3].toFixed(1).padStart(7)} ms a call  (first ${first.toFixed(0)} ms)${counts}  loss ${value.toFixed(6)}`,
    )
  }
