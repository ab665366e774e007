/**
 * The playground page in a real browser: built as `npm run playground`
 * builds it, opened in headless Chromium (Debian's package; puppeteer-core
 * drives the system binary, nothing is downloaded) with WebGPU on
 * SwiftShader. The page loads without a console error; a typed function's
 * six Programs appear, and a primitive's rules open; training runs on WebGPU
 * and the loss falls; a wrong source shows its error; the lessons run. Each
 * view is saved as a screenshot under out/playground/ for a person to look at.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error a plain ES module script without declarations
import { buildPlayground } from '../scripts/playground.mjs'

const repo = fileURLToPath(new URL('..', import.meta.url))
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const shots = join(repo, 'out/playground')

let dir = ''
let browser: Browser
let page: Page
const problems: string[] = []
// The page's side of the callbacks runs in the browser; this project's own types have no DOM.
declare const document: any

const attr = (selector: string, name: string) =>
  page.$eval(selector, (e, n) => e.getAttribute(n), name) as Promise<string | null>

async function waitForState(selector: string, states: string[], timeout: number): Promise<string> {
  await page.waitForFunction(
    (s, ok) => ok.includes(document.querySelector(s)?.dataset.state ?? ''),
    { timeout, polling: 100 },
    selector,
    states,
  )
  return (await attr(selector, 'data-state')) ?? ''
}

describe.skipIf(!existsSync(CHROMIUM))('the playground in headless Chromium', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adjoint-playground-'))
    await buildPlayground(join(dir, 'site'))
    await mkdir(shots, { recursive: true })
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--use-angle=swiftshader',
        `--user-data-dir=${join(dir, 'profile')}`,
      ],
    })
    page = await browser.newPage()
    await page.setViewport({ width: 1400, height: 1000 })
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page: ${e instanceof Error ? e.message : String(e)}`))
    // A few hundred steps are enough to see the loss fall here.
    await page.goto(`${pathToFileURL(join(dir, 'site/index.html')).href}?steps=200`)
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, { timeout: 120_000 })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('loads without a console error and chooses WebGPU through navigator.gpu', async () => {
    expect(await attr('body', 'data-ready')).toBe('true')
    expect(await page.$eval('#fatal', (e) => e.textContent)).toBe('')
    expect(await page.$eval('#backend', (e) => e.textContent)).toMatch(/^webgpu \(navigator\.gpu, /)
    expect(problems).toEqual([])
  })

  it("shows a typed function's six Programs and a primitive's rules", async () => {
    await page.$eval('#source', (e) => {
      e.value = `import { ops, tensor, type Tensor } from 'adjoint'
const f = (w: Tensor<[2]>, x: Tensor<[3, 2]>): Tensor<[]> => ops.sum(ops.tanh(ops.matmul(x, w)))
const args = [tensor([0.5, -1]), tensor([[1, 2], [3, 4], [5, 6]])]`
    })
    await page.click('#inspect')
    await waitForState('#transforms', ['done', 'error'], 30_000)
    const panes = await page.$$eval('.pane', (ps) =>
      ps.map((p) => ({
        name: p.dataset.pane,
        program: p.querySelector('pre.program')?.textContent ?? '',
        value: p.querySelector('pre.value')?.textContent ?? '',
        error: p.querySelector('.error')?.textContent ?? '',
      })),
    )
    expect(panes.map((p) => p.name)).toEqual(['f', 'jvp', 'linearize', 'transpose', 'grad', 'vmap'])
    for (const p of panes) {
      expect(p.error, p.name).toBe('')
      expect(p.program, p.name).toMatch(/^\{ lambda /)
    }
    expect(panes[0].program).toContain('tanh')
    expect(panes[5].program).toContain('f32[3,3,2]') // vmap's batch of three
    // f = Σ tanh(x·w) at these values, and grad(f) = xᵀ(1 − tanh²): computed here independently.
    const x = [
      [1, 2],
      [3, 4],
      [5, 6],
    ]
    const z = x.map((r) => r[0] * 0.5 - r[1])
    const f = z.reduce((s, v) => s + Math.tanh(v), 0)
    const g = [0, 1].map((j) => x.reduce((s, r, i) => s + r[j] * (1 - Math.tanh(z[i]) ** 2), 0))
    expect(Number(/\) (\S+)$/.exec(panes[0].value)?.[1])).toBeCloseTo(f, 5)
    const gradValues = JSON.parse(/(\[[^\]]*\])\s*$/.exec(panes[4].value)?.[1] ?? '[]') as number[]
    gradValues.forEach((v, i) => expect(v).toBeCloseTo(g[i], 5))
    // The transpose of the tangent map is the gradient.
    expect(panes[3].value.split('\n')[0]).toBe(panes[4].value.split('\n')[0])

    await page.click('.pane[data-pane="f"] button.prim[data-prim="tanh"]')
    const rule = await page.$eval('#rule', (e) => ({
      hidden: e.hidden,
      prim: e.dataset.prim,
      jvp: e.querySelector('.rule-jvp')?.textContent ?? '',
      transpose: e.querySelector('.rule-transpose')?.textContent ?? '',
    }))
    expect(rule.hidden).toBe(false)
    expect(rule.prim).toBe('tanh')
    expect(rule.jvp).toMatch(/tanh/)
    expect(rule.jvp).toMatch(/mul/)
    expect(rule.transpose).toMatch(/^\{ lambda /)
    await page.screenshot({ path: join(shots, 'transforms.png') })
    expect(problems).toEqual([])
  }, 60_000)

  it('names what is wrong with a source that does not define f', async () => {
    await page.$eval('#source', (e) => {
      e.value = 'const g = (x) => x\nconst args = [tensor([1])]'
    })
    await page.click('#inspect')
    expect(await waitForState('#transforms', ['done', 'error'], 30_000)).toBe('error')
    expect(await page.$eval('#source-error', (e) => e.textContent)).toMatch(/define a function f; got nothing/)
    await page.click('#inspect')
  }, 60_000)

  it('trains the two spirals on WebGPU, the loss falling, and draws the boundary', async () => {
    await page.click('nav button[data-tab="train"]')
    await waitForState('#train', ['ready'], 60_000)
    expect(await attr('#train', 'data-backend')).toMatch(/^webgpu \(navigator\.gpu, /)
    await page.click('#train-start')
    expect(await waitForState('#train', ['done', 'error'], 240_000)).toBe('done')
    expect(await page.$eval('#train-note', (e) => e.textContent)).toBe('')
    expect(Number(await attr('#train', 'data-steps'))).toBe(200)
    // The first step, timed on its own: it traced and compiled the program.
    expect(Number(await attr('#train', 'data-first-call'))).toBeGreaterThan(0)
    expect(await page.$eval('#train-first', (e) => e.textContent)).toMatch(
      /^The first step traced and compiled the program: \d+\.\d\d s\.$/,
    )
    const first = Number(await attr('#train', 'data-first-loss'))
    const last = Number(await attr('#train', 'data-last-loss'))
    expect(first).toBeGreaterThan(0.3)
    expect(last).toBeLessThan(first / 2)
    // One submission a step, counted by the executable.
    expect(await page.$eval('#train-status', (e) => e.textContent)).toMatch(/a step is 1 submission, \d+ dispatches/)
    expect(await page.$eval('#loss', (e) => e.querySelectorAll('svg path').length)).toBeGreaterThan(0)
    // The boundary is drawn: both classes' colours are on the canvas.
    const colours = await page.$eval('#boundary', (c) => {
      const d = c.getContext('2d')?.getImageData(0, 0, 300, 300).data ?? []
      let blue = 0
      let orange = 0
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 2] > d[i] + 40) blue++
        if (d[i] > d[i + 2] + 40) orange++
      }
      return { blue, orange }
    })
    expect(colours.blue).toBeGreaterThan(1000)
    expect(colours.orange).toBeGreaterThan(1000)
    await page.screenshot({ path: join(shots, 'train.png') })
    expect(problems).toEqual([])
  }, 300_000)

  it('runs the lessons', async () => {
    await page.click('nav button[data-tab="lessons"]')
    await page.click('#lessons-run-all')
    await page.waitForFunction(
      () => {
        const ls = [...document.querySelectorAll('.lesson')] as any[]
        return ls.length > 0 && ls.every((l: any) => l.dataset.state === 'done' || l.dataset.state === 'error')
      },
      { timeout: 240_000, polling: 250 },
    )
    const lessons = await page.$$eval('.lesson', (ls) =>
      ls.map((l) => ({
        name: l.dataset.lesson,
        state: l.dataset.state,
        charts: l.querySelectorAll('svg').length,
        text: l.textContent?.slice(0, 2000) ?? '',
      })),
    )
    expect(lessons.map((l) => l.name)).toEqual(['rtrl-vs-bptt', 'vanishing', 'sequential-jacobian', 'tying'])
    for (const l of lessons) expect(l.state, `${l.name}: ${l.text}`).toBe('done')
    for (const l of lessons.slice(0, 3)) expect(l.charts, l.name).toBeGreaterThan(0)
    await page.screenshot({ path: join(shots, 'lessons.png'), fullPage: true })
    expect(problems).toEqual([])
  }, 300_000)
})
