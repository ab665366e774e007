/**
 * Runs every peer (TF.js, jax-js; several backends each) on every workload
 * and prints the median figures.
 *
 *   npx tsx bench/peers/run.ts [--json] [--only tfjs-webgpu,jaxjs-wasm,...]
 *                              [--workloads matmul,mlp,rnn,rbm,vae,gan,cnn,lstm] [--budget 20] [--timeout 150] [--cold]
 *                              [--rounds 1]
 *
 * Without --workloads every workload runs. A peer that has no implementation
 * of a workload (the optional rbmStep, vaeStep, ganStep, cnnStep, lstmStep
 * of `Workloads`) gives a row with no figure and the note "not implemented".
 *
 * Each (peer, workload) pair runs in a child process of its own, so that a
 * crash, a leak or a hang in one library cannot spoil the others, and a
 * workload that does not finish is killed after --timeout seconds. In the
 * child: the peer is loaded, the workload set up, then timeIt() (measure.ts)
 * makes warm-up calls and measured calls until --budget seconds are spent;
 * the figure is computed from the median call time. For webgpu peers the
 * child also counts, per measured call, compute dispatches and queue
 * submissions (navigator.ts wraps GPUComputePassEncoder.dispatchWorkgroups and
 * GPUQueue.submit) and reports the median count.
 *
 * With --rounds N every (peer, workload) pair runs N times, round by round,
 * the peers' order rotated by one each round, and each row gives the median
 * of the rounds' figures, with every round's figure in its note: on a shared
 * machine whose speed drifts for minutes at a time, a ratio from one round
 * can hang on which system ran in a slow spell.
 *
 * Each child is a fresh process, so its first call is a cold start: the row
 * "ms, first call" is that call's time (tracing, compiling and building GPU
 * pipelines included). --cold disables Mesa's shader cache in the children
 * (MESA_SHADER_CACHE_DISABLE=true), which is what a fresh machine and CI see;
 * without it a second run finds the shaders compiled by the first.
 *
 * Output: a table (on stdout; on stderr with --json) and, with --json, one
 * JSON object per line on stdout:
 *   {"workload","system","backend","value","unit"} (+ "note" when there is one)
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MATMUL_N, MLP, median, rate, timeIt, type Row, type Unit, type Workloads } from './measure.ts'

type WorkloadName = Row['workload']
const WORKLOADS: readonly WorkloadName[] = ['matmul', 'mlp', 'rnn', 'rbm', 'vae', 'gan', 'cnn', 'lstm']

interface PeerSpec {
  id: string
  system: string
  backend: string
  gpu: boolean
  load(): Promise<Workloads & { describe?(): string }>
}

const PEERS: readonly PeerSpec[] = [
  ...(['webgpu', 'onnxruntime', 'cpu'] as const).map((b) => ({
    id: `adjoint-${b}`,
    system: 'adjoint',
    backend: `${b}-jit`,
    gpu: b === 'webgpu',
    load: async () => (await import('./adjoint.ts')).createAdjointPeer(b),
  })),
  ...(['cpu', 'wasm', 'webgpu'] as const).map((b) => ({
    id: `tfjs-${b}`,
    system: 'tfjs',
    backend: b,
    gpu: b === 'webgpu',
    load: async () => (await import('./tfjs.ts')).createTfjsPeer(b),
  })),
  ...(['webgpu', 'wasm', 'cpu', 'webgpu-eager', 'wasm-eager', 'webgl'] as const).map((b) => ({
    id: `jaxjs-${b}`,
    system: 'jax-js',
    backend: b === 'webgpu' || b === 'wasm' || b === 'cpu' ? `${b}-jit` : b,
    gpu: b.startsWith('webgpu'),
    load: async () => (await import('./jaxjs.ts')).createJaxjsPeer(b),
  })),
]

const MARK = '@@bench '

// ---------------------------------------------------------------- child side

type Msg =
  | { type: 'unavailable'; reason: string }
  | { type: 'notImplemented' }
  | { type: 'info'; describe: string; adapter?: string }
  | { type: 'warmup'; ms: number }
  | { type: 'sample'; ms: number; dispatches?: number; submissions?: number }
  | { type: 'loss'; first?: number; last?: number }
  | { type: 'error'; message: string }
  | { type: 'done' }

function send(m: Msg): void {
  process.stdout.write(`${MARK}${JSON.stringify(m)}\n`)
}

async function child(peerId: string, workload: WorkloadName, budgetMs: number): Promise<void> {
  const spec = PEERS.find((p) => p.id === peerId)
  if (!spec) throw new Error(`unknown peer ${peerId}`)
  let peer: Awaited<ReturnType<PeerSpec['load']>>
  try {
    peer = await spec.load()
  } catch (e) {
    send({ type: 'unavailable', reason: errorText(e) })
    return
  }
  let adapter: string | undefined
  if (spec.gpu) adapter = (await import('./navigator.ts')).installNavigatorShim().adapterDescription()
  send({ type: 'info', describe: peer.describe?.() ?? spec.id, adapter })
  const make = {
    matmul: () => peer.matmul(MATMUL_N),
    mlp: () => peer.mlpStep(MLP.batch),
    rnn: () => peer.rnnStep(),
    rbm: peer.rbmStep && (() => peer.rbmStep?.()),
    vae: peer.vaeStep && (() => peer.vaeStep?.()),
    gan: peer.ganStep && (() => peer.ganStep?.()),
    cnn: peer.cnnStep && (() => peer.cnnStep?.()),
    lstm: peer.lstmStep && (() => peer.lstmStep?.()),
  }[workload]
  if (!make) {
    send({ type: 'notImplemented' })
    send({ type: 'done' })
    return
  }
  try {
    const fn = await make()
    if (!fn) throw new Error(`${workload}: the peer gave no step`)
    let firstLoss: number | undefined
    let calls = 0
    let counts: { dispatches?: number; submissions?: number } = {}
    const call = async () => {
      const before = peer.counters?.()
      await fn()
      const after = peer.counters?.()
      counts =
        before && after
          ? {
              dispatches: (after.dispatches ?? 0) - (before.dispatches ?? 0),
              submissions: (after.submissions ?? 0) - (before.submissions ?? 0),
            }
          : {}
      if (calls++ === 0) firstLoss = peer.lastLoss?.()
    }
    await timeIt(call, {
      warmup: 2,
      budgetMs,
      onWarmup: (ms) => send({ type: 'warmup', ms }),
      onSample: (ms) => send({ type: 'sample', ms, ...counts }),
    })
    send({ type: 'loss', first: firstLoss, last: peer.lastLoss?.() })
    await peer.dispose?.()
  } catch (e) {
    send({ type: 'error', message: errorText(e) })
  }
  send({ type: 'done' })
}

function errorText(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e)
  return s.split('\n')[0].slice(0, 300)
}

// --------------------------------------------------------------- parent side

interface Outcome {
  msgs: Msg[]
  timedOut: boolean
  exitCode: number | null
  stderrTail: string
}

function runChild(
  peerId: string,
  workload: WorkloadName,
  budgetS: number,
  timeoutS: number,
  cold: boolean,
): Promise<Outcome> {
  const self = fileURLToPath(import.meta.url)
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [...process.execArgv, self, '--child', peerId, workload, String(budgetS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cold ? { ...process.env, MESA_SHADER_CACHE_DISABLE: 'true' } : process.env,
    })
    const msgs: Msg[] = []
    let buf = ''
    let err = ''
    let timedOut = false
    proc.stdout.setEncoding('utf8')
    proc.stdout.on('data', (chunk: string) => {
      buf += chunk
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        if (line.startsWith(MARK)) msgs.push(JSON.parse(line.slice(MARK.length)) as Msg)
      }
    })
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (chunk: string) => {
      err = (err + chunk).slice(-4000)
    })
    const timer = setTimeout(() => {
      timedOut = true
      proc.kill('SIGKILL')
    }, timeoutS * 1000)
    proc.on('close', (code) => {
      clearTimeout(timer)
      resolve({ msgs, timedOut, exitCode: code, stderrTail: err })
    })
  })
}

interface PeerReport {
  id: string
  describe?: string
  adapter?: string
  losses: Partial<Record<WorkloadName, { first?: number; last?: number }>>
  notes: string[]
}

function rowsFor(spec: PeerSpec, workload: WorkloadName, o: Outcome, timeoutS: number, report: PeerReport): Row[] {
  const base = { workload, system: spec.system, backend: spec.backend }
  const unit = rate(workload, 1).unit
  const info = o.msgs.find((m): m is Extract<Msg, { type: 'info' }> => m.type === 'info')
  if (info) {
    report.describe = info.describe
    if (info.adapter) report.adapter = info.adapter
  }
  const unavailable = o.msgs.find((m): m is Extract<Msg, { type: 'unavailable' }> => m.type === 'unavailable')
  if (unavailable) return [{ ...base, value: null, unit, note: `unavailable: ${unavailable.reason}` }]
  if (o.msgs.some((m) => m.type === 'notImplemented')) return [{ ...base, value: null, unit, note: 'not implemented' }]
  const loss = o.msgs.find((m): m is Extract<Msg, { type: 'loss' }> => m.type === 'loss')
  if (loss && workload !== 'matmul') report.losses[workload] = { first: loss.first, last: loss.last }
  const samples = o.msgs.filter((m): m is Extract<Msg, { type: 'sample' }> => m.type === 'sample')
  const warmups = o.msgs.filter((m): m is Extract<Msg, { type: 'warmup' }> => m.type === 'warmup')
  const error = o.msgs.find((m): m is Extract<Msg, { type: 'error' }> => m.type === 'error')
  const rows: Row[] = []
  let note: string | undefined
  if (error) note = `failed: ${error.message}`
  else if (o.timedOut) note = `timed out after ${timeoutS} s`
  else if (!o.msgs.some((m) => m.type === 'done')) {
    const lastErr = o.stderrTail.trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
    note = `crashed (exit ${o.exitCode}): ${lastErr.slice(0, 200)}`
  }
  if (samples.length > 0) {
    const r = rate(workload, median(samples.map((s) => s.ms)))
    rows.push({
      ...base,
      value: r.value,
      unit: r.unit,
      ...(note ? { note: `${note}; median of ${samples.length} calls` } : {}),
    })
  } else if (warmups.length > 0) {
    // Only warm-up calls finished: a lower bound from the fastest (it includes compilation for the first).
    const r = rate(workload, Math.min(...warmups.map((w) => w.ms)))
    rows.push({
      ...base,
      value: r.value,
      unit: r.unit,
      note: `${note ?? 'no measured call'}; from ${warmups.length} warm-up call(s) only (lower bound)`,
    })
  } else {
    rows.push({ ...base, value: null, unit, note: note ?? 'no call finished' })
  }
  // The first call in this fresh process: tracing, compiling and (on a GPU) building pipelines included.
  if (warmups.length > 0) rows.push({ ...base, value: warmups[0].ms, unit: FIRST_CALL })
  if (spec.gpu && samples.length > 0 && samples[0].dispatches !== undefined) {
    rows.push({ ...base, value: median(samples.map((s) => s.dispatches ?? 0)), unit: 'dispatches/step' })
    rows.push({ ...base, value: median(samples.map((s) => s.submissions ?? 0)), unit: 'submissions/step' })
  }
  return rows
}

/** The unit of the first-call rows. */
const FIRST_CALL: Unit = 'ms, first call'

function fmt(v: number | null, unit: string): string {
  if (v === null) return '—'
  if (unit.endsWith('/step')) return Number.isInteger(v) ? String(v) : v.toFixed(1)
  if (v >= 100) return v.toLocaleString('en-US', { maximumFractionDigits: 0 })
  if (v >= 10) return v.toFixed(1)
  return v.toPrecision(3)
}

function table(rows: readonly Row[]): string {
  const head = ['workload', 'system', 'backend', 'value', 'unit', 'note']
  const body = rows.map((r) => [r.workload, r.system, r.backend, fmt(r.value, r.unit), r.unit, r.note ?? ''])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i >= 0) return args[i + 1]
  const eq = args.find((a) => a.startsWith(`${name}=`))
  return eq?.slice(name.length + 1)
}

/**
 * One row per (workload, system, backend, unit) over the rounds: the median of the rounds' figures, and a note that
 * gives each round's, in order (a round without a figure keeps its note).
 */
function medianRows(byRound: readonly (readonly Row[])[]): Row[] {
  const key = (r: Row) => [r.workload, r.system, r.backend, r.unit].join('\u0000')
  const groups = new Map<string, Row[]>()
  for (const rows of byRound) for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r])
  return [...groups.values()].map((rs) => {
    const values = rs.flatMap((r) => (r.value === null ? [] : [r.value]))
    if (values.length === 0) return rs[0]
    const each = rs.map((r) => (r.value === null ? `none (${r.note})` : fmt(r.value, r.unit))).join(', ')
    return { ...rs[0], value: median(values), note: `median of ${rs.length} rounds: ${each}` }
  })
}

async function parent(args: string[]): Promise<void> {
  const json = args.includes('--json')
  const only = arg(args, '--only')?.split(',').filter(Boolean)
  const workloads = (arg(args, '--workloads')?.split(',').filter(Boolean) ?? WORKLOADS) as WorkloadName[]
  const budgetS = Number(arg(args, '--budget') ?? 20)
  const timeoutS = Number(arg(args, '--timeout') ?? 150)
  const cold = args.includes('--cold')
  for (const w of workloads)
    if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`)
  const peers = only ? PEERS.filter((p) => only.includes(p.id)) : PEERS
  if (only)
    for (const id of only)
      if (!PEERS.some((p) => p.id === id))
        throw new Error(`unknown peer ${id}; known: ${PEERS.map((p) => p.id).join(', ')}`)

  const rounds = Number(arg(args, '--rounds') ?? 1)
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds takes a whole number of at least 1, got ${rounds}`)
  const log = (s: string) => process.stderr.write(`${s}\n`)
  const out = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`)
  // A row is written as soon as it is known (one round), or as the rounds' median once all have run.
  const emit = (r: Row) => {
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`)
    else
      log(`  ${r.workload} ${r.system} ${r.backend}: ${fmt(r.value, r.unit)} ${r.unit}${r.note ? ` (${r.note})` : ''}`)
  }
  const reports: PeerReport[] = peers.map((spec) => ({ id: spec.id, losses: {}, notes: [] }))
  const unavailable = new Map<string, string>()
  // Each round runs every workload on every peer, the peers in an order rotated by one each round, so that a slow
  // spell of a shared machine falls on different systems in different rounds.
  const byRound: Row[][] = []
  for (let round = 0; round < rounds; round++) {
    const rows: Row[] = []
    byRound.push(rows)
    for (const workload of workloads)
      for (let j = 0; j < peers.length; j++) {
        const p = (j + round) % peers.length
        const spec = peers[p]
        const skipped = unavailable.get(spec.id)
        let newRows: Row[]
        if (skipped !== undefined) {
          const unit = rate(workload, 1).unit
          newRows = [{ workload, system: spec.system, backend: spec.backend, value: null, unit, note: skipped }]
        } else {
          log(`… ${spec.id} ${workload}${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}`)
          const o = await runChild(spec.id, workload, budgetS, timeoutS, cold)
          newRows = rowsFor(spec, workload, o, timeoutS, reports[p])
          if (newRows[0].note?.startsWith('unavailable')) unavailable.set(spec.id, newRows[0].note)
        }
        rows.push(...newRows)
        if (rounds === 1) newRows.forEach(emit)
      }
  }
  const rows = rounds === 1 ? byRound[0] : medianRows(byRound)
  if (rounds > 1) rows.forEach(emit)
  out('')
  out(table(rows))
  out('')
  out(
    cold
      ? "First calls with Mesa's shader cache disabled (--cold: MESA_SHADER_CACHE_DISABLE=true), as on a fresh machine."
      : "First calls with the shader caches as they are (--cold disables Mesa's, as on a fresh machine).",
  )
  for (const r of reports) {
    if (!r.describe) continue
    const losses = Object.entries(r.losses)
      .map(([w, l]) => `${w} loss ${l.first?.toFixed(4)} → ${l.last?.toFixed(4)}`)
      .join('; ')
    out(`${r.id}: ${r.describe}${r.adapter ? `; adapter: ${r.adapter}` : ''}${losses ? `; ${losses}` : ''}`)
  }
}

// ---------------------------------------------------------------------- main

const argv = process.argv.slice(2)
if (argv[0] === '--child') {
  const [, peerId, workload, budget] = argv
  child(peerId, workload as WorkloadName, Number(budget) * 1000)
    .then(() => process.exit(0))
    .catch((e) => {
      send({ type: 'error', message: errorText(e) })
      process.exit(1)
    })
} else {
  parent(argv).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${errorText(e)}\n`)
      process.exit(1)
    },
  )
}
