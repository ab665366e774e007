// The API reference: `npm run docs` writes HTML to out/docs/api/ (open
// out/docs/api/index.html in a browser). typedoc reads the doc comments of
// everything the two entries export (`index.ts` for `adjoint`,
// `laws/index.ts` for `adjoint/laws`); this script adds what the comments
// cannot say themselves:
//
// - the pipeline's stages (STAGES below) as typedoc categories of the
//   `adjoint` module, in the pipeline's order, and a front page listing them;
//   a name exported but in no stage, or a stage naming what is not exported,
//   stops the build;
// - one page per example (examples/*.ts: its header comment, the names it
//   uses, its source and the sources of the examples/lib helpers it imports),
//   and on each name's page the examples that use it (docs-usage.mjs says
//   what counts as a use).
//
// typedoc needs TypeScript's compiler API, which TypeScript 7 (the project's
// `typescript`) lacks: docs-typescript.mjs points typedoc's imports of
// `typescript` at the `typescript-5.4` devDependency.
//
//   node scripts/docs.mjs [--out <folder>]
//
// Any typedoc warning (a broken link in a comment, a type that a signature
// names but the package does not export, unless docs-not-exported.mjs lists
// it) fails the build, after the pages are written.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { register } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript-5.4'
import { intentionallyNotExported } from './docs-not-exported.mjs'
import { exampleUsage, repositoryCompilerOptions } from './docs-usage.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const words = (list) => list.split(/\s+/).filter((w) => w !== '')

/** The pipeline's stages, in its order; each name `adjoint` exports belongs to exactly one. */
export const STAGES = [
  {
    title: 'Tensors and shapes',
    about:
      'Immutable tensors whose shape and dtype are part of their type, their constructors, and the run-time shapes and codecs that check data from outside.',
    names: words(
      'Tensor ConcreteTensor Aval DType FloatDType TypedArray Dim Shape RuntimeShape tensor scalar zeros ones full arange eye shape tensorCodec tensorRecord decodeTensor formatDecodeError',
    ),
  },
  {
    title: 'Operations',
    about:
      'What a traced function is made of: `ops` (broadcasting, dtype promotion, shapes checked in the types), the strict primitives `lax` that `ops` calls, random numbers from explicit keys, and pytrees of tensors.',
    names: words('ops lax random tree'),
  },
  {
    title: 'Transforms',
    about:
      'Functions of functions: forward mode (`jvp`, `linearize`), reverse mode (`vjp`, `grad`), `vmap`, Jacobians and Hessians, parameter tying (`untie`), custom derivatives and rematerialisation; `makeProgram` shows the program a function traces to.',
    names: words(
      'jvp linearize vjp grad valueAndGrad GradOptions jacfwd jacrev hessian hvp JacobianOptions vmap VmapOptions InAxes AxisTree makeProgram untie Untied customJvp customVjp checkpoint remat savedResiduals SavedResiduals',
    ),
  },
  {
    title: 'Programs (the IR)',
    about:
      'The traced program as data: equations over primitives, its evaluator, checker and transpose, the CPU interpreter, and the table of rules each primitive brings.',
    names: words(
      'Program Var Literal Eqn Atom evalProgram typecheck transposeProgram runProgram RunOptions Primitive PrimitiveParams PrimitiveRule RuleTable rules',
    ),
  },
  {
    title: 'Control flow and recurrence',
    about:
      'Loops and branches that stay one primitive in the program (`scan`, `cond`, `whileLoop`), recurrent cells, and the two exact gradients through time (`bptt`, `rtrl`).',
    names: words(
      'scan ScanOptions Stacked Unstacked cond switchCase whileLoop foriLoop WhileOptions recurrent bptt BpttOptions rtrl rtrlOnline RtrlOptions',
    ),
  },
  {
    title: 'Compilation and backends',
    about:
      '`jit` traces a function once per input shape and runs the program on a backend: WebGPU on a hardware adapter, else ONNX Runtime, else WebGPU on a software adapter, else the CPU interpreter; or one registered by name.',
    names: words(
      'jit JitOptions Jitted Backend Executable ExecutableStats registerBackend setBackend defaultBackend cpuBackend webgpuBackend WebGpuBackend DeviceOptions DeviceTensor DeviceLostError UnsupportedProgramError',
    ),
  },
  {
    title: 'Layers and models',
    about:
      'Layers as pure values `{ init, apply }` with activations, losses and combinators (`nn`), and energy-based models: Hopfield networks, RBMs, deep belief networks (`energy`).',
    names: words('nn energy'),
  },
  {
    title: 'Training',
    about:
      'Optimisers as pure values over pytrees (`optim`), and training loops with batches, metrics and progress (`train`).',
    names: words('optim train'),
  },
  {
    title: 'Data and files',
    about:
      'Parameters as safetensors files or bytes, data sets (`io`); programs as ONNX model files, ONNX models as functions, and ONNX Runtime as a backend (`onnx`).',
    names: words('io onnx'),
  },
  {
    title: 'Plots',
    about: 'Charts as SVG text: line charts, heat maps, figures of several panels (`plot`).',
    names: words('plot'),
  },
]

/** The second entry, a stage of its own. */
export const LAW_KIT = {
  title: 'The law kit',
  about:
    'The gradient laws as property-based tests to run on your own layers and primitives: predicates, fast-check arbitraries, and checks that report a replayable counterexample.',
}

/** The package's entries: module name, file, and the prefix docs-usage.mjs gives their export paths. */
const ENTRIES = [
  { module: 'adjoint', file: 'index.ts', prefix: '' },
  { module: 'adjoint/laws', file: 'laws/index.ts', prefix: 'laws/' },
]

/** The runnable examples: examples/*.ts. */
export function exampleFiles(folder = join(root, 'examples')) {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.ts') && statSync(join(folder, name)).isFile())
    .sort()
    .map((name) => join(folder, name))
}

/** An example's page name: its file name without `.ts`. */
const exampleTitle = (file) => basename(file).replace(/\.ts$/, '')

/**
 * The header comment of a source file (its first `/** ... *\/` block, after
 * any `///` directives) as markdown: a paragraph indented by two spaces or
 * more that is not a list becomes a code block (shell for the commands
 * that run an example, TypeScript otherwise).
 */
export function headerMarkdown(source) {
  const match = /^\s*(?:\/\/\/[^\n]*\n\s*)*\/\*\*([\s\S]*?)\*\//.exec(source)
  if (match === null) return ''
  const lines = match[1].split('\n').map((line) => line.replace(/^\s*\* ?/, '').trimEnd())
  return lines
    .join('\n')
    .trim()
    .split(/\n{2,}/)
    .map((p) => (/^ {2,}\S/.test(p) && !/^ *(?:[-*]|\d+\.) /.test(p) ? fence(dedent(p), language(p)) : p))
    .join('\n\n')
}

/** A command (`npx tsx examples/xor.ts`) is shell; anything else indented in a header is TypeScript. */
const language = (code) => (/^\s*(?:npx|npm|node)\s/.test(code) ? 'sh' : 'ts')

function dedent(text) {
  const lines = text.split('\n')
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)[0].length))
  return lines.map((l) => l.slice(indent)).join('\n')
}

/**
 * The first sentence of a header, for the list of examples, up to its first
 * colon: asides in parentheses (citations) left out, an initial (`A. Martins`)
 * not taken for a sentence's end.
 */
export function summarySentence(markdown) {
  const paragraph = markdown
    .split('\n\n')[0]
    .replace(/-\n(?=\w)/g, '-')
    .replace(/\s+/g, ' ')
  let out = ''
  // Depth of parentheses: an aside opens after a space and is dropped; f(x) is kept.
  const open = []
  for (let i = 0; i < paragraph.length; i++) {
    const c = paragraph[i]
    const dropping = open.includes('aside')
    if (c === '(') open.push(i > 0 && paragraph[i - 1] !== ' ' ? 'call' : 'aside')
    if (!dropping && !open.includes('aside')) {
      const atEnd = i + 1 === paragraph.length || paragraph[i + 1] === ' '
      if (open.length === 0 && ((c === '.' && atEnd && !/(?:^|\s)[A-Z]$/.test(out)) || c === ':')) break
      out += c
    }
    if (c === ')') open.pop()
  }
  return `${out
    .replace(/\s+([,;])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[;,]$/, '')}.`
}

function fence(code, language) {
  const longest = Math.max(2, ...(code.match(/`+/g) ?? []).map((run) => run.length))
  const ticks = '`'.repeat(longest + 1)
  return `${ticks}${language}\n${code.replace(/\n$/, '')}\n${ticks}`
}

/** Placeholders in the generated markdown, replaced by links once the project is resolved. */
const USES_MARKER = 'ADJOINT-DOCS-USES'
const LIST_MARKER = 'ADJOINT-DOCS-EXAMPLE-LIST'

/** For each example (relative to the root), the files under examples/ it imports, directly or not. */
export function helperFiles(examples) {
  const folder = join(root, 'examples')
  const result = new Map()
  for (const file of examples) {
    const found = new Set()
    const pending = [file]
    while (pending.length > 0) {
      const current = pending.pop()
      for (const { fileName } of ts.preProcessFile(readFileSync(current, 'utf8'), true, false).importedFiles) {
        if (!fileName.startsWith('.')) continue
        const target = resolve(dirname(current), fileName)
        if (!target.startsWith(folder + sep) || target === file || found.has(target)) continue
        found.add(target)
        pending.push(target)
      }
    }
    result.set(
      relative(root, file),
      [...found].sort().map((f) => relative(root, f)),
    )
  }
  return result
}

/** Markdown pages for the examples and one listing them, written to `folder`; returns the list's path. */
function writeExamplePages(folder, examples, helpers) {
  const pages = []
  for (const file of examples) {
    const source = readFileSync(file, 'utf8')
    const name = relative(root, file)
    const own = helpers.get(name) ?? []
    const uses =
      own.length === 0
        ? USES_MARKER
        : `Its own code and its helpers' (${own.map((h) => `\`${h}\``).join(', ')}):\n\n${USES_MARKER}`
    const parts = [
      `---\ntitle: ${exampleTitle(file)}\n---`,
      `# ${exampleTitle(file)}`,
      headerMarkdown(source) || `The example \`${name}\`.`,
      `## Uses\n\n${uses}`,
      `## Source: ${name}\n\n${fence(source, 'ts')}`,
      ...own.map((helper) => `## Helper: ${helper}\n\n${fence(readFileSync(join(root, helper), 'utf8'), 'ts')}`),
    ]
    const page = `${exampleTitle(file)}.md`
    writeFileSync(join(folder, page), `${parts.join('\n\n')}\n`)
    pages.push(page)
  }
  const list = join(folder, 'examples.md')
  writeFileSync(
    list,
    `---\ntitle: Examples\nchildren:\n${pages.map((p) => `  - ./${p}`).join('\n')}\n---\n\n# Examples\n\n` +
      'The runnable examples of the repository (`examples/`), each run from the repository root with ' +
      '`npx tsx examples/<name>.ts`. Each page shows what the example does, the names it uses, and its source.\n\n' +
      `${LIST_MARKER}\n`,
  )
  return list
}

/** Parts of a typedoc comment: text (markdown), and a link to a reflection's page. */
const text = (value) => ({ kind: 'text', text: value })
const link = (label, target) => ({ kind: 'inline-tag', tag: '@link', text: label, target })

/**
 * Builds the reference into `out`. Returns the folder, the number of HTML
 * pages, the names documented (`jit`, `nn.dense`, `laws/checkLayer`), the
 * number of examples, and typedoc's warning and error counts.
 */
export async function buildDocs({ out = join(root, 'out/docs/api') } = {}) {
  register('./docs-typescript.mjs', import.meta.url)
  const td = await import('typedoc').catch((error) => {
    throw new Error(`typedoc could not be loaded (it is a devDependency: run npm ci): ${error.message}`)
  })
  if (td.TypeScript.version !== ts.version) {
    throw new Error(`typedoc loaded TypeScript ${td.TypeScript.version}, not typescript-5.4's ${ts.version}`)
  }
  const examples = exampleFiles()
  const work = mkdtempSync(join(tmpdir(), 'adjoint-docs-'))
  try {
    const examplesPage = writeExamplePages(work, examples, helperFiles(examples))
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version
    const app = await td.Application.bootstrapWithPlugins(
      {
        name: `adjoint ${version}`,
        entryPoints: ENTRIES.map((e) => join(root, e.file)),
        entryPointStrategy: 'resolve',
        out,
        readme: 'none',
        projectDocuments: [examplesPage],
        skipErrorChecking: true,
        excludeExternals: true,
        // "Defined in" links open the source file itself (no hosting is assumed).
        disableGit: true,
        basePath: root,
        sourceLinkTemplate: `${pathToFileURL(root).href}/{path}`,
        githubPages: false,
        categorizeByGroup: false,
        categoryOrder: [...STAGES.map((s) => s.title), '*'],
        navigation: { includeCategories: true, includeGroups: false, includeFolders: false },
        useFirstParagraphOfCommentAsSummary: true,
        searchInComments: true,
        searchInDocuments: true,
        validation: { notExported: true, invalidLink: true, rewrittenLink: true, notDocumented: false },
        intentionallyNotExported: intentionallyNotExported(),
        locales: { en: { tag_usedIn: 'Used in the examples' } },
        logLevel: 'Warn',
      },
      [],
    )
    const roots = [...ENTRIES.map((e) => join(root, e.file)), ...examples]
    app.options.setCompilerOptions(roots, repositoryCompilerOptions(ts, root), undefined)

    const summary = { out, pages: 0, names: [], examples: examples.length, warnings: 0, errors: 0 }
    addStagesAndExamples(td, app, examples, summary)
    const project = await app.convert()
    if (project === undefined) throw new Error('typedoc could not convert the project (see the errors above)')
    // Types that signatures name but the package does not export, and links that resolve nowhere.
    app.validate(project)
    await app.generateDocs(project, out)
    summary.pages = countPages(out)
    summary.warnings = app.logger.warningCount
    summary.errors = app.logger.errorCount
    return summary
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function countPages(folder) {
  let count = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.isDirectory()) count += countPages(join(folder, entry.name))
    else if (entry.name.endsWith('.html')) count += 1
  }
  return count
}

/** The reflection whose page shows a name (a re-export under a second name shows the first's). */
const pageOf = (reflection) => (reflection.isReference() ? reflection.getTargetReflectionDeep() : reflection)

/** Module names and comments, stages, example links and the front page, added as typedoc builds the project. */
function addStagesAndExamples(td, app, examples, summary) {
  const { Comment, CommentTag, Converter, ReflectionKind } = td
  const entryOf = new Map(ENTRIES.map((e) => [join(root, e.file), e]))

  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.SomeModule)) return
    const file = context
      .getSymbolFromReflection(reflection)
      ?.declarations?.find((d) => d.kind === ts.SyntaxKind.SourceFile)
      ?.getSourceFile()
    if (file === undefined) return
    const entry = reflection.parent?.isProject() ? entryOf.get(resolve(file.fileName)) : undefined
    if (entry !== undefined) reflection.name = entry.module
    // typedoc takes a file's header for the comment of its module (or of a namespace
    // `export * as nn from ...`) only with a @module tag.
    const header = headerMarkdown(file.text)
    if (reflection.comment === undefined && header !== '') reflection.comment = new Comment([text(header)])
  })

  // Priority 0: before the category plugin (-200) reads the @category tags.
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      const { project, logger } = context
      const [main, laws] = ENTRIES.map((e) => project.children?.find((m) => m.name === e.module))
      if (main === undefined || laws === undefined) {
        logger.error(`the modules ${ENTRIES.map((e) => e.module).join(' and ')} were not found`)
        return
      }

      // Names → reflections, named as docs-usage.mjs names them (`jit`, `nn.dense`, `energy.dbn.generate`).
      const byPath = new Map()
      const walk = (reflection, prefix, depth) => {
        for (const child of reflection.children ?? []) {
          const path = prefix + child.name
          byPath.set(path, child)
          if (depth < 3 && child.kindOf(ReflectionKind.Namespace)) walk(child, `${path}.`, depth + 1)
        }
      }
      walk(main, '', 1)
      walk(laws, 'laws/', 1)
      summary.names = [...byPath.keys()]

      const stageOf = assignStages(main, logger, { Comment, CommentTag })
      const stageOfPath = (path) => (path.startsWith('laws/') ? LAW_KIT.title : stageOf.get(path.split('.')[0]))

      // Which names each example uses, read off typedoc's own program (the entries and examples are its roots).
      const entries = Object.fromEntries(ENTRIES.map((e) => [e.prefix, join(root, e.file)]))
      const usage = exampleUsage(ts, context.programs[0], entries, examples, root)
      const pages = new Map()
      for (const list of project.documents ?? []) {
        for (const page of list.children ?? []) pages.set(`examples/${page.name}.ts`, page)
      }

      // On each name's page: the examples that use it.
      const usedBy = new Map()
      for (const [path, uses] of usage) {
        const reflection = byPath.get(path)
        if (reflection === undefined) continue
        const target = pageOf(reflection)
        for (const { example } of uses) {
          if (!usedBy.has(example)) usedBy.set(example, new Map())
          const names = usedBy.get(example)
          // The shortest name a page is reached by (`tensor` rather than `ops.tensor`).
          if (!names.has(target) || path.length < names.get(target).length) names.set(target, path)
        }
        if (reflection !== target) continue
        const parts = []
        for (const { example, via } of uses) {
          const page = pages.get(example)
          if (page === undefined) continue
          if (parts.length > 0) parts.push(text(', '))
          parts.push(link(exampleTitle(example), page))
          if (via.length > 0) parts.push(text(` (through ${via.map((v) => v.replace(/^examples\//, '')).join(', ')})`))
        }
        if (parts.length > 0) attachTag(reflection, new CommentTag('@usedIn', parts), Comment)
      }

      // On each example's page: the names it uses, by stage.
      for (const [example, page] of pages) {
        const names = [...(usedBy.get(example) ?? new Map())].map(([target, path]) => ({ target, path }))
        const lines = []
        for (const group of [...STAGES.map((s) => s.title), LAW_KIT.title]) {
          const inGroup = names
            .filter((n) => stageOfPath(n.path) === group)
            .sort((a, b) => a.path.localeCompare(b.path))
          if (inGroup.length === 0) continue
          lines.push(text(`- ${group}: `))
          inGroup.forEach((n, i) => {
            if (i > 0) lines.push(text(', '))
            lines.push(link(n.path.replace(/^laws\//, ''), n.target))
          })
          lines.push(text('\n'))
        }
        replaceMarker(page, USES_MARKER, lines.length > 0 ? lines : [text('No name of the package.')])
      }

      const list = project.documents?.find((d) => d.name === 'Examples')
      if (list !== undefined) {
        const items = []
        for (const [example, page] of pages) {
          const sentence = summarySentence(headerMarkdown(readFileSync(join(root, example), 'utf8')))
          items.push(text('- '), link(exampleTitle(example), page), text(`: ${sentence}\n`))
        }
        replaceMarker(list, LIST_MARKER, items)
      }

      project.readme = frontPage(byPath, usage, laws, list, ReflectionKind)
    },
    0,
  )
}

/**
 * What is wrong with STAGES for the names `adjoint` exports: a name in no
 * stage, a name in two, a stage naming what is not exported. Empty when all
 * is well.
 */
export function stageProblems(exported, stages = STAGES) {
  const problems = []
  const stageOf = new Map()
  for (const stage of stages) {
    for (const name of stage.names) {
      if (stageOf.has(name)) problems.push(`${name} is in two stages: "${stageOf.get(name)}" and "${stage.title}"`)
      stageOf.set(name, stage.title)
      if (!exported.includes(name))
        problems.push(`the stage "${stage.title}" lists ${name}, which adjoint does not export`)
    }
  }
  for (const name of exported) {
    if (!stageOf.has(name))
      problems.push(`adjoint exports ${name}, which no stage lists: add it to STAGES in scripts/docs.mjs`)
  }
  return problems
}

/**
 * Puts each top-level name of `adjoint` in its stage (a `@category` tag) and
 * describes the stages (`@categoryDescription` on the module); returns the
 * stage of each name.
 */
function assignStages(main, logger, { Comment, CommentTag }) {
  for (const problem of stageProblems((main.children ?? []).map((c) => c.name))) logger.error(problem)
  const stageOf = new Map(STAGES.flatMap((stage) => stage.names.map((name) => [name, stage.title])))
  for (const child of main.children ?? []) {
    const title = stageOf.get(child.name)
    if (title === undefined) continue
    child.comment ??= new Comment()
    child.comment.blockTags.push(new CommentTag('@category', [text(title)]))
  }
  main.comment ??= new Comment()
  for (const stage of STAGES) {
    main.comment.blockTags.push(new CommentTag('@categoryDescription', [text(`${stage.title}\n${stage.about}`)]))
  }
  return stageOf
}

/** Adds a block tag where a page shows it last: a function's last signature, or the declaration. */
function attachTag(reflection, tag, Comment) {
  const signatures = reflection.signatures ?? []
  const holder = signatures.length > 0 ? signatures.at(-1) : reflection
  holder.comment ??= new Comment()
  holder.comment.blockTags.push(tag)
}

/** Replaces `marker` in a document's text with `parts`. */
function replaceMarker(doc, marker, parts) {
  doc.content = doc.content.flatMap((part) => {
    const at = part.kind === 'text' ? part.text.indexOf(marker) : -1
    if (at < 0) return [part]
    return [text(part.text.slice(0, at)), ...parts, text(part.text.slice(at + marker.length))]
  })
}

/**
 * The front page: the stages in order, each with its names; for a namespace,
 * the members the examples use most.
 */
function frontPage(byPath, usage, laws, examplesPage, ReflectionKind) {
  const parts = [
    text(
      'Neural networks as pure functions over immutable, shape-typed tensors; derivatives as program transforms. ' +
        "The reference follows the pipeline: a user's function on tensors is traced to a program, the program " +
        'is transformed (differentiated, vectorised), compiled, and run on a backend. Each name links to its page, ' +
        'which ends with the examples that use it',
    ),
  ]
  if (examplesPage !== undefined) parts.push(text('; '), link('the examples', examplesPage), text(' show their source'))
  parts.push(text('. The search box (top right) finds any name, `nn.dense` included.\n\n'))
  const topLevelPages = new Set([...byPath].filter(([path]) => !/[.]|^laws\//.test(path)).map(([, r]) => pageOf(r)))
  for (const stage of STAGES) {
    parts.push(text(`## ${stage.title}\n\n${stage.about}\n\n`))
    const names = stage.names.filter((name) => byPath.has(name))
    names.forEach((name, i) => {
      if (i > 0) parts.push(text(' · '))
      parts.push(link(name, pageOf(byPath.get(name))))
    })
    parts.push(text('\n\n'))
    for (const name of names) {
      if (!byPath.get(name).kindOf(ReflectionKind.Namespace)) continue
      // A member also exported at the top level (`ops.tensor` is `tensor`) is listed in its own stage.
      const members = [...usage]
        .filter(([path]) => path.startsWith(`${name}.`) && !path.slice(name.length + 1).includes('.'))
        .filter(([path]) => byPath.has(path) && !topLevelPages.has(pageOf(byPath.get(path))))
        .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
        .slice(0, 8)
      if (members.length === 0) continue
      parts.push(text(`In \`${name}\`, the examples use most: `))
      members.forEach(([path], i) => {
        if (i > 0) parts.push(text(' · '))
        parts.push(link(path, pageOf(byPath.get(path))))
      })
      parts.push(text('\n\n'))
    }
  }
  parts.push(text(`## ${LAW_KIT.title}\n\n${LAW_KIT.about} `), link(laws.name, laws), text('\n'))
  return parts
}

async function cli() {
  const args = process.argv.slice(2)
  const at = args.indexOf('--out')
  const out = at >= 0 ? resolve(args[at + 1]) : join(root, 'out/docs/api')
  const summary = await buildDocs({ out })
  const topLevel = summary.names.filter((n) => !n.includes('.')).length
  console.log(
    `API reference in ${relative(process.cwd(), out) || '.'}/ (open ${relative(process.cwd(), join(out, 'index.html'))}): ` +
      `${summary.pages} pages; ${topLevel} names exported by ${ENTRIES.map((e) => e.module).join(' and ')} ` +
      `(${summary.names.length} with the members of namespaces); ${summary.examples} examples`,
  )
  if (summary.warnings > 0 || summary.errors > 0) {
    console.error(
      `${summary.errors} errors and ${summary.warnings} warnings (above): the reference must build without any`,
    )
    process.exit(1)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await cli()
