/**
 * The playground page: a learner's function and what the transforms make of
 * it, a small network trained live on the page's WebGPU adapter (the CPU
 * where there is none), and the lessons panel.
 */
import { type Backend, cpuBackend, defaultBackend, plot, type Program, webgpuBackend } from '../../index.ts'
import { EXAMPLES } from './examples.ts'
import { compileUser, equations, message, panes, ruleOf } from './inspect.ts'
import { mountLessons } from './lessons.ts'
import { type DatasetName, EXTENT, makeTrainer, type Trainer } from './training.ts'

const $ = <E extends HTMLElement = HTMLElement>(id: string): E => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`the page has no #${id}`)
  return e as E
}

/** Text for innerHTML: the library's own escaping, which its SVG charts use. */
const escapeHtml = plot.escapeXml

const params = new URLSearchParams(location.search)

// ------------------------------------------------------------------ tabs

function showTab(name: string) {
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button[data-tab]'))
    b.setAttribute('aria-selected', String(b.dataset.tab === name))
  for (const s of document.querySelectorAll<HTMLElement>('main > section')) s.hidden = s.id !== name
  history.replaceState(null, '', `#${name}`)
}

// ------------------------------------------------------------------ backends

type Choice = 'auto' | 'webgpu' | 'cpu'

/** The backend a choice names: WebGPU through navigator.gpu falls back to the CPU, saying why. */
async function backendFor(choice: Choice): Promise<{ backend: Backend; note: string }> {
  if (choice === 'cpu') return { backend: cpuBackend(), note: '' }
  if (choice === 'auto') return { backend: await defaultBackend(), note: '' }
  try {
    return { backend: await webgpuBackend(), note: '' }
  } catch (e) {
    return { backend: cpuBackend(), note: `WebGPU could not start (${message(e)}); running on the CPU` }
  }
}

// ------------------------------------------------------------------ transforms panel

/** A Program's text with each equation's primitive a button that shows its rules. */
function programHtml(program: Program, paneName: string): string {
  let k = 0
  return program
    .toString()
    .split('\n')
    .map((line) => {
      const m = /^(.*?=\s)([a-z][A-Za-z0-9_]*)(?=[[\s]|$)/.exec(line)
      if (m === null || m[1].trimEnd().endsWith('={')) return escapeHtml(line)
      const index = k++
      const rest = line.slice(m[0].length)
      return `${escapeHtml(m[1])}<button class="prim" data-pane="${paneName}" data-eqn="${index}" data-prim="${m[2]}" title="the rules of ${m[2]}">${m[2]}</button>${escapeHtml(rest)}`
    })
    .join('\n')
}

const programs = new Map<string, Program>()

async function inspect() {
  const error = $('source-error')
  const grid = $('panes')
  error.textContent = ''
  $('transforms').dataset.state = 'running'
  try {
    const user = compileUser($<HTMLTextAreaElement>('source').value)
    const result = await panes(user)
    programs.clear()
    grid.innerHTML = ''
    for (const p of result) {
      if (p.program !== undefined) programs.set(p.name, p.program)
      const div = document.createElement('div')
      div.className = 'pane'
      div.dataset.pane = p.name
      div.innerHTML = `<h3>${escapeHtml(p.title)}</h3>${
        p.program === undefined ? '' : `<pre class="program">${programHtml(p.program, p.name)}</pre>`
      }${p.value === undefined ? '' : `<pre class="value">= ${escapeHtml(p.value)}</pre>`}${
        p.error === undefined ? '' : `<p class="error">${escapeHtml(p.error)}</p>`
      }`
      grid.append(div)
    }
    $('transforms').dataset.state = 'done'
  } catch (e) {
    error.textContent = message(e)
    $('transforms').dataset.state = 'error'
  }
}

function showRule(paneName: string, index: number, prim: string) {
  const program = programs.get(paneName)
  const all = program === undefined ? [] : equations(program)
  // The printed lines and the equations are in the same order; should they ever part, the first of that primitive.
  const eqn = all[index]?.prim === prim ? all[index] : all.find((e) => e.prim === prim)
  const aside = $('rule')
  if (eqn === undefined) return
  const rule = ruleOf(eqn)
  aside.hidden = false
  aside.dataset.prim = rule.prim
  aside.innerHTML = `<button class="close" title="close">×</button><h3>The rules of <code>${escapeHtml(rule.prim)}</code></h3>
<p>The equation alone:</p><pre class="program">${escapeHtml(rule.equation)}</pre>${
    rule.error !== undefined
      ? `<p class="error">${escapeHtml(rule.error)}</p>`
      : `<p>Forward (its JVP rule): primals and tangents in, outputs and output tangents out.</p><pre class="program rule-jvp">${escapeHtml(rule.jvp ?? '')}</pre>
<p>Reverse (the transpose of that linear map: its pullback): primals and output cotangents in, input cotangents out.</p><pre class="program rule-transpose">${escapeHtml(rule.transpose ?? '')}</pre>`
  }`
}

// ------------------------------------------------------------------ training panel

let trainer: Trainer | null = null
let running = false
const losses: number[] = []
const lossSteps: number[] = []

const COLD = [59, 110, 190]
const WARM = [230, 126, 34]

function drawBoundary(t: Trainer, probabilities: Float32Array) {
  const canvas = $<HTMLCanvasElement>('boundary')
  const ctx = canvas.getContext('2d')
  if (ctx === null) return
  const n = t.resolution
  const image = ctx.createImageData(n, n)
  for (let i = 0; i < n * n; i++) {
    const p = probabilities[i]
    for (let c = 0; c < 3; c++)
      image.data[4 * i + c] = 255 - (255 - (p > 0.5 ? WARM : COLD)[c]) * Math.abs(2 * p - 1) * 0.55
    image.data[4 * i + 3] = 255
  }
  const off = document.createElement('canvas')
  off.width = n
  off.height = n
  off.getContext('2d')?.putImageData(image, 0, 0)
  ctx.imageSmoothingEnabled = true
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height)
  const { xy, labels, count } = t.points
  const px = (v: number) => ((v + EXTENT) / (2 * EXTENT)) * canvas.width
  const py = (v: number) => ((EXTENT - v) / (2 * EXTENT)) * canvas.height
  for (let i = 0; i < count; i++) {
    ctx.beginPath()
    ctx.arc(px(xy[2 * i]), py(xy[2 * i + 1]), 3, 0, 2 * Math.PI)
    ctx.fillStyle = `rgb(${(labels[i] > 0.5 ? WARM : COLD).join(',')})`
    ctx.fill()
    ctx.strokeStyle = 'white'
    ctx.stroke()
  }
}

function drawLoss() {
  $('loss').innerHTML = plot.lineChart({
    series: [{ name: 'loss', x: lossSteps, y: losses }],
    logY: true,
    xLabel: 'step',
    yLabel: 'cross-entropy',
    width: 440,
    height: 300,
    legend: false,
  })
}

async function resetTraining() {
  running = false
  const panel = $('train')
  panel.dataset.state = 'starting'
  losses.length = 0
  lossSteps.length = 0
  const { backend, note } = await backendFor($<HTMLSelectElement>('train-backend').value as Choice)
  $('train-backend-name').textContent = backend.name
  $('train-note').textContent = note
  panel.dataset.backend = backend.name
  trainer = await makeTrainer({ dataset: $<HTMLSelectElement>('dataset').value as DatasetName, backend })
  drawBoundary(trainer, await trainer.boundary())
  $('loss').innerHTML = ''
  $('train-first').textContent = ''
  delete panel.dataset.firstCall
  delete panel.dataset.firstLoss
  $('train-status').textContent = 'ready'
  panel.dataset.state = 'ready'
}

/** Trains until stopped or `limit` steps, drawing as it goes; every step is one call of the jitted step. */
async function train(limit: number) {
  if (running) return
  if (trainer === null) await resetTraining()
  const t = trainer
  if (t === null) return
  running = true
  const panel = $('train')
  panel.dataset.state = 'running'
  $<HTMLButtonElement>('train-start').textContent = 'Pause'
  const chunk = 10
  try {
    if (t.steps() === 0) {
      // The first call traces the step and compiles it for the backend: timed on its own.
      const t0 = performance.now()
      const loss = await t.run(1)
      const ms = performance.now() - t0
      panel.dataset.firstCall = String(ms)
      panel.dataset.firstLoss = String(loss)
      losses.push(loss)
      lossSteps.push(1)
      $('train-first').textContent = `The first step traced and compiled the program: ${(ms / 1000).toFixed(2)} s.`
    }
    while (running && t.steps() < limit) {
      const t0 = performance.now()
      const k = Math.min(chunk, limit - t.steps())
      const loss = await t.run(k)
      const ms = (performance.now() - t0) / k
      losses.push(loss)
      lossSteps.push(t.steps())
      panel.dataset.steps = String(t.steps())
      panel.dataset.firstLoss ??= String(loss)
      panel.dataset.lastLoss = String(loss)
      const stats = await t.stats()
      const work =
        stats === null || stats.submissions === 0
          ? ''
          : ` · a step is ${stats.submissions} submission${stats.submissions === 1 ? '' : 's'}, ${stats.dispatches} dispatches`
      $('train-status').textContent =
        `step ${t.steps()} · loss ${loss.toPrecision(3)} · ${ms.toFixed(1)} ms a step${work}`
      if (losses.length % 5 === 1 || t.steps() >= limit) {
        drawLoss()
        drawBoundary(t, await t.boundary())
      }
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    drawLoss()
    drawBoundary(t, await t.boundary())
    panel.dataset.state = t.steps() >= limit ? 'done' : 'paused'
  } catch (e) {
    $('train-note').textContent = message(e)
    panel.dataset.state = 'error'
  } finally {
    running = false
    $<HTMLButtonElement>('train-start').textContent = 'Train'
  }
}

// ------------------------------------------------------------------ start

async function start() {
  const select = $<HTMLSelectElement>('example')
  for (const name of Object.keys(EXAMPLES)) select.add(new Option(name, name))
  const source = $<HTMLTextAreaElement>('source')
  source.value = Object.values(EXAMPLES)[0]
  select.onchange = () => {
    source.value = EXAMPLES[select.value]
    void inspect()
  }
  $('inspect').onclick = () => void inspect()
  source.onkeydown = (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault()
      void inspect()
    }
  }
  $('panes').onclick = (e) => {
    const b = (e.target as HTMLElement).closest<HTMLButtonElement>('button.prim')
    if (b !== null) showRule(b.dataset.pane ?? '', Number(b.dataset.eqn), b.dataset.prim ?? '')
  }
  $('rule').onclick = (e) => {
    if ((e.target as HTMLElement).closest('button.close') !== null) $('rule').hidden = true
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button[data-tab]'))
    b.onclick = () => showTab(b.dataset.tab ?? 'transforms')
  showTab(['transforms', 'train', 'lessons'].includes(location.hash.slice(1)) ? location.hash.slice(1) : 'transforms')

  const limit = Number(params.get('steps') ?? 3000)
  $('train-start').onclick = () => {
    if (running) running = false
    else void train(limit)
  }
  $('train-reset').onclick = () => void resetTraining()
  $('dataset').onchange = () => void resetTraining()
  $('train-backend').onchange = () => void resetTraining()

  const lessons = mountLessons($('lessons-root'), { backend: () => cpuBackend() })
  $('lessons-run-all').onclick = () => void lessons.runAll()

  const backend = await defaultBackend()
  $('backend').textContent = backend.name
  document.body.dataset.backend = backend.name
  await inspect()
  await resetTraining()
  document.body.dataset.ready = 'true'
}

start().catch((e) => {
  $('fatal').textContent = `The page could not start: ${message(e)}`
  document.body.dataset.ready = 'error'
})
