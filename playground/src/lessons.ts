/**
 * The playground's lessons panel: four lessons of the lecture notes that are
 * best seen, each a section with a short text, a Run button and an output
 * area drawn with the library's own `plot` module. The computations are in
 * lessons-math.ts; this file only lays them out. A section's `data-state` is
 * "running" while it runs, then "done", or "error" with the message shown in
 * the section (a lesson never leaves a rejected promise behind).
 */
import { plot, type Backend } from '../../index.ts'
import {
  rtrlVsBptt,
  sequentialJacobian,
  tyingLesson,
  vanishingGradients,
  type Checked,
  type RtrlVsBpttRow,
} from './lessons-math.ts'

/** What the panel needs from the page: the backend to compile and time gradients on. */
export interface LessonsEnv {
  readonly backend: () => Promise<Backend> | Backend
}

/** The mounted panel. */
export interface Lessons {
  /** Runs every lesson, one after another, in the order shown. */
  runAll(): Promise<void>
}

interface Lesson {
  readonly id: 'rtrl-vs-bptt' | 'vanishing' | 'sequential-jacobian' | 'tying'
  readonly title: string
  /** Paragraphs of the text, each a string. */
  readonly text: readonly string[]
  /** Extra controls placed before the Run button, read by `run`. */
  readonly controls?: () => HTMLElement
  readonly run: (out: HTMLElement, section: HTMLElement) => Promise<void>
}

// ------------------------------------------------------------------ helpers

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Readonly<Record<string, string>> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  if (text !== undefined) e.textContent = text
  return e
}

/** An SVG chart from `plot` (its text is escaped there) in a `.chart` box. */
function chart(svg: string, label: string): HTMLElement {
  const box = element('div', { class: 'chart', role: 'img', 'aria-label': label })
  box.innerHTML = svg
  return box
}

function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): HTMLTableElement {
  const t = element('table', { class: 'lesson-table' })
  const head = t.createTHead().insertRow()
  for (const h of headers) head.appendChild(element('th', { scope: 'col' }, h))
  const body = t.createTBody()
  for (const r of rows) {
    const tr = body.insertRow()
    for (const v of r) tr.insertCell().textContent = String(v)
  }
  return t
}

const paragraph = (text: string) => element('p', {}, text)
const message = (e: unknown) => (e instanceof Error ? e.message : String(e))
/** Lets the page paint (the "running" state) before a computation that holds the thread. */
const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0))
const kib = (bytes: number) => (bytes / 1024).toFixed(1)
const sci = (x: number) => x.toExponential(2)

// ------------------------------------------------------------------ lessons

const BARBER = 'D. Barber, Neural Nets (lecture notes)'
const MARTINS = 'A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School 2018'
const COMP613 = 'Deep Learning, COMP613 Advanced Topics in Machine Learning (lecture notes)'

function rtrlLesson(env: LessonsEnv): Lesson {
  return {
    id: 'rtrl-vs-bptt',
    title: 'RTRL against BPTT: two exact gradients, two costs',
    text: [
      `Both algorithms compute the same gradient of E = Σₜ ½‖hₜ − yₜ‖² for an Elman RNN (${BARBER}, "Computing the Gradient").`,
      'BPTT runs forwards, stacking a few vectors per step, then backwards: its memory grows with the length T, its work per step like H².',
      'RTRL carries the sensitivities S = dh/dθ forwards instead: memory that does not depend on T but grows like H·|θ| ≈ H³, and work per step like H²·|θ| ≈ H⁴.',
      "Memory is read off the compiled programs' shapes; times are medians on the CPU interpreter, whose cost per operation hides most of the arithmetic at these small sizes.",
    ],
    async run(out) {
      const backend = await env.backend()
      const progress = out.appendChild(paragraph('measuring…'))
      const result = await rtrlVsBptt({
        backend,
        onRow: (r) => {
          progress.textContent = `measured H = ${r.hidden}, T = ${r.length}…`
          return yieldToPage()
        },
      })
      const { rows } = result
      const Hs = [...new Set(rows.map((r) => r.hidden))]
      const Ts = [...new Set(rows.map((r) => r.length))]
      // One colour per H; RTRL solid, BPTT dashed.
      const seriesOf = (algorithm: 'RTRL' | 'BPTT', pick: (r: RtrlVsBpttRow) => number): plot.Series[] =>
        Hs.map((H, i) => {
          const of = rows.filter((r) => r.hidden === H)
          return {
            name: `${algorithm}, H = ${H}`,
            x: of.map((r) => r.length),
            y: of.map(pick),
            color: plot.PALETTE[i % plot.PALETTE.length],
            dashed: algorithm === 'BPTT',
          }
        })
      const memory = [...seriesOf('RTRL', (r) => r.rtrlBytes / 1024), ...seriesOf('BPTT', (r) => r.bpttBytes / 1024)]
      const time = [...seriesOf('RTRL', (r) => r.rtrlMs), ...seriesOf('BPTT', (r) => r.bpttMs)]
      progress.textContent = `Elman RNN, I = ${result.inputSize}, f64, one sequence, timed on ${result.backend}. RTRL solid, BPTT dashed.`
      out.appendChild(
        chart(
          plot.lineChart({ series: memory, title: 'memory', xLabel: 'length T', yLabel: 'KiB', logY: true }),
          'memory of RTRL and BPTT against the sequence length',
        ),
      )
      out.appendChild(
        chart(
          plot.lineChart({ series: time, title: 'time per gradient', xLabel: 'length T', yLabel: 'ms', logY: true }),
          'time per gradient of RTRL and BPTT against the sequence length',
        ),
      )
      const [T0, T1] = [Ts[0], Ts[Ts.length - 1]]
      const [H0, H1] = [Hs[0], Hs[Hs.length - 1]]
      const at = (H: number, T: number) => rows.find((r) => r.hidden === H && r.length === T) as RtrlVsBpttRow
      const times = (a: number, b: number) => `× ${(a / b).toFixed(2)}`
      if (Ts.length > 1)
        out.appendChild(
          paragraph(
            `T × ${T1 / T0} (H = ${H1}): RTRL memory ${times(at(H1, T1).rtrlBytes, at(H1, T0).rtrlBytes)}, BPTT memory ${times(at(H1, T1).bpttBytes, at(H1, T0).bpttBytes)}.`,
          ),
        )
      if (Hs.length > 1)
        out.appendChild(
          paragraph(
            `H × ${H1 / H0} (T = ${T1}): RTRL memory ${times(at(H1, T1).rtrlBytes, at(H0, T1).rtrlBytes)}, BPTT memory ${times(at(H1, T1).bpttBytes, at(H0, T1).bpttBytes)}; RTRL time per step ${times(at(H1, T1).rtrlMs, at(H0, T1).rtrlMs)}, BPTT ${times(at(H1, T1).bpttMs, at(H0, T1).bpttMs)} (the orders: × ${(H1 / H0) ** 4} and × ${(H1 / H0) ** 2}).`,
          ),
        )
      out.appendChild(
        table(
          ['H', 'T', '|θ|', 'RTRL KiB', 'BPTT KiB', 'RTRL ms', 'BPTT ms', 'RTRL µs/step', 'BPTT µs/step', 'Δgrad'],
          rows.map((r) => [
            r.hidden,
            r.length,
            r.parameters,
            kib(r.rtrlBytes),
            kib(r.bpttBytes),
            r.rtrlMs.toFixed(1),
            r.bpttMs.toFixed(1),
            ((1000 * r.rtrlMs) / r.length).toFixed(0),
            ((1000 * r.bpttMs) / r.length).toFixed(0),
            r.disagreement.toExponential(1),
          ]),
        ),
      )
    },
  }
}

function vanishingLesson(): Lesson {
  return {
    id: 'vanishing',
    title: 'Vanishing and exploding gradients',
    text: [
      `Backpropagation through time multiplies the error by Diag(tanh′(zₜ))·Whᵀ once per step (${MARTINS}, "Backpropagation Through Time"), so ∂L/∂hₖ for a loss on the last state shrinks or grows geometrically with the distance T − k.`,
      'Here Wh = ρQ with Q orthogonal, so Wh scales every vector by exactly ρ: while tanh stays near linear (tiny inputs) the factor per step is ρ, vanishing for ρ < 1 and exploding for ρ > 1.',
      'With unit inputs the state saturates, tanh′ = 1 − h² falls, and the gradient vanishes even for ρ = 1.5.',
    ],
    async run(out) {
      await yieldToPage()
      const small = vanishingGradients()
      const unit = vanishingGradients({ inputScale: 1 })
      // The same colour per ρ in both; the legend only on the first.
      const panel = (r: typeof small, title: string, legend: boolean) =>
        chart(
          plot.lineChart({
            series: r.radii.map((rho, i) => ({ name: `ρ = ${rho}`, y: r.norms[i] })),
            title,
            xLabel: 'step k',
            yLabel: '‖∂L/∂hₖ‖',
            logY: true,
            legend,
          }),
          `the norm of dL/dh_k against k for each spectral radius, ${title}`,
        )
      out.appendChild(paragraph(`Elman RNN, H = ${small.hidden}, T = ${small.length}, L = ½‖h_T − y‖².`))
      out.appendChild(panel(small, `tiny inputs (σ = ${small.inputScale})`, true))
      out.appendChild(panel(unit, 'unit inputs (σ = 1), colours as above', false))
      out.appendChild(
        table(
          [
            'ρ',
            'factor per step, tiny inputs',
            'max |hₜ|, tiny inputs',
            'factor per step, unit inputs',
            'max |hₜ|, unit inputs',
          ],
          small.radii.map((rho, i) => [
            rho,
            small.factorPerStep[i].toFixed(4),
            small.saturation[i].toFixed(3),
            unit.factorPerStep[i].toFixed(4),
            unit.saturation[i].toFixed(3),
          ]),
        ),
      )
    },
  }
}

const RADII = ['0.5', '0.9', '1', '1.2'] as const

function jacobianLesson(): Lesson {
  return {
    id: 'sequential-jacobian',
    title: 'The sequential Jacobian',
    text: [
      `Which inputs does a recurrent network's state depend on? The Jacobian answers whether or not the network has an attention mechanism (${COMP613}, "Attention & Memory in Deep Learning": attention given implicitly by J = ∂y/∂x).`,
      'For an Elman RNN J[t][k] = ‖∂hₜ/∂xₖ‖ is lower triangular, since hₜ cannot depend on later inputs, and decays with the distance t − k: by ρ per step at most, and faster where tanh′ < 1.',
      'It is computed here by forward mode (jacfwd), one pass per input entry; the heat map shows log₁₀ J, the blank upper triangle is exactly zero.',
    ],
    controls() {
      const label = element('label', {}, 'ρ ')
      const select = label.appendChild(element('select', { name: 'rho' }))
      for (const r of RADII) select.appendChild(element('option', r === '0.9' ? { selected: '' } : {}, r))
      return label
    },
    async run(out, section) {
      await yieldToPage()
      const rho = Number(section.querySelector<HTMLSelectElement>('select[name="rho"]')?.value ?? 0.9)
      const r = sequentialJacobian({ rho })
      const T = r.J.length
      const logJ = r.J.map((row, t) => row.map((v, k) => (k > t ? Number.NaN : Math.log10(v))))
      const labels = Array.from({ length: T }, (_, i) => String(i))
      out.appendChild(
        paragraph(
          `Elman RNN, H = ${r.problem.hidden}, I = ${r.problem.inputSize}, T = ${T}, Wh = ${rho}·Q, inputs of σ = 0.5.`,
        ),
      )
      out.appendChild(
        chart(
          plot.heatmap({
            values: logJ,
            title: `log₁₀ ‖∂hₜ/∂xₖ‖, ρ = ${rho}`,
            rowLabels: labels,
            colLabels: labels,
            xLabel: 'input k',
            yLabel: 'state t',
          }),
          'heat map of the sequential Jacobian, lower triangular',
        ),
      )
      out.appendChild(
        chart(
          plot.lineChart({
            series: [
              { name: 'mean of J[t][t − d]', y: r.byDistance },
              {
                name: 'ρ^d from d = 0 (tanh′ = 1)',
                y: r.byDistance.map((_, d) => r.byDistance[0] * rho ** d),
                dashed: true,
              },
            ],
            title: 'decay with the distance',
            xLabel: 'distance d = t − k',
            yLabel: '‖∂hₜ/∂xₖ‖',
            logY: true,
          }),
          'the mean Jacobian norm against the distance t − k',
        ),
      )
    },
  }
}

function tyingSection(): Lesson {
  return {
    id: 'tying',
    title: 'Parameter tying',
    text: [
      `E(θ) = [y − tanh(θ·sin(xθ))]² uses θ twice (${BARBER}, "Parameter Tying"). Give each use its own copy, F(θ₁, θ₂) = [y − tanh(θ₂·sin(xθ₁))]², and dE/dθ = ∂F/∂θ₁ + ∂F/∂θ₂ at θ₁ = θ₂ = θ.`,
      'untie builds F from the traced program; its two partials, their sum and grad(E) are checked against Barber’s closed forms at x = 0.5, y = 2, θ = 0.7.',
      'In the reverse-mode program of grad(E) the sum is no special case: it is the transpose of the fan-out of θ to its two uses, an add.',
    ],
    async run(out) {
      await yieldToPage()
      const r = tyingLesson()
      out.appendChild(paragraph(`E(${r.theta}) = ${r.energy.toFixed(12)}; θ is used ${r.copies} times. The untied F:`))
      out.appendChild(element('pre', {}, r.untiedProgram))
      const row = (name: string, c: Checked) => [
        name,
        c.computed.toFixed(15),
        c.closedForm.toFixed(15),
        sci(Math.abs(c.computed - c.closedForm)),
      ]
      out.appendChild(
        table(
          ['quantity', 'computed', 'closed form', '|difference|'],
          [
            row('∂F/∂θ₁ (inner use, in sin(xθ))', r.inner),
            row('∂F/∂θ₂ (outer use)', r.outer),
            row('sum of the partials', r.sum),
            row('grad(E), tied', r.grad),
          ],
        ),
      )
      out.appendChild(paragraph('The reverse-mode program of grad(E):'))
      out.appendChild(element('pre', {}, r.gradProgram))
    },
  }
}

// ------------------------------------------------------------------ mount

/**
 * Renders the four lessons into `root` (replacing its contents): RTRL
 * against BPTT, vanishing gradients, the sequential Jacobian and parameter
 * tying. `env.backend` is where RTRL and BPTT are compiled and timed; the
 * other lessons are small enough to run eagerly.
 */
export function mountLessons(root: HTMLElement, env: LessonsEnv): Lessons {
  const lessons = [rtrlLesson(env), vanishingLesson(), jacobianLesson(), tyingSection()]
  root.replaceChildren()
  const runners = lessons.map((lesson) => {
    const section = element('section', { class: 'lesson', 'data-lesson': lesson.id })
    section.appendChild(element('h2', {}, lesson.title))
    for (const t of lesson.text) section.appendChild(paragraph(t))
    const controls = element('div')
    if (lesson.controls) controls.appendChild(lesson.controls())
    const button = controls.appendChild(element('button', { type: 'button', class: 'lesson-run' }, 'Run'))
    section.appendChild(controls)
    const out = section.appendChild(element('div', { class: 'lesson-output', 'aria-live': 'polite' }))
    root.appendChild(section)
    let running: Promise<void> | null = null
    const run = (): Promise<void> => {
      if (running) return running
      section.dataset.state = 'running'
      button.disabled = true
      out.replaceChildren()
      running = (async () => {
        try {
          await lesson.run(out, section)
          section.dataset.state = 'done'
        } catch (e) {
          section.dataset.state = 'error'
          out.appendChild(element('p', { role: 'alert' }, `Error: ${message(e)}`))
        } finally {
          button.disabled = false
          running = null
        }
      })()
      return running
    }
    button.addEventListener('click', () => void run())
    return run
  })
  return {
    async runAll() {
      for (const run of runners) await run()
    },
  }
}
