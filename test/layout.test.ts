/**
 * The folder-level import graph of `src/` has no cycle: each folder of `src/` is one node (a
 * file directly in `src/`, such as `errors.ts` or the `index.ts` barrel, is a node of its own),
 * and an import from a file in one folder to a file in another is an edge. A cycle between
 * folders means neither can be understood, tested or moved without the other.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, it } from 'node:test'

const SRC = resolve(import.meta.dirname, '../src')

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Relative specifiers of static imports, re-exports and dynamic imports (`import type` too). */
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function specifiers(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3]
    if (spec !== undefined) out.push(spec)
  }
  return out
}

/** The node a file belongs to: its top folder under `src/`, or the file itself at the top. */
function nodeOf(file: string): string {
  const parts = relative(SRC, file).split(sep)
  return parts.length === 1 ? (parts[0] ?? file) : `${parts[0]}/`
}

/** Folder → folder → the file imports behind that edge. */
type Graph = Map<string, Map<string, string[]>>

function folderGraph(): Graph {
  const graph: Graph = new Map()
  for (const file of sourceFiles(SRC)) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec)
      const from = nodeOf(file)
      const to = nodeOf(target)
      if (from === to) continue
      const edges = graph.get(from) ?? new Map<string, string[]>()
      graph.set(from, edges)
      const why = edges.get(to) ?? []
      why.push(`${relative(SRC, file)} → ${relative(SRC, target)}`)
      edges.set(to, why)
    }
  }
  return graph
}

/** Every elementary cycle found by a depth-first search, each as its list of nodes. */
function findCycles(graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string): void => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of graph.get(node)?.keys() ?? []) {
      const s = state.get(next)
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (s === undefined) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node)
  return cycles
}

function explain(graph: Graph, cycle: readonly string[]): string {
  const steps: string[] = []
  for (let i = 0; i + 1 < cycle.length; i++) {
    const from = cycle[i] ?? ''
    const to = cycle[i + 1] ?? ''
    steps.push(`  ${from} → ${to}: ${(graph.get(from)?.get(to) ?? []).join(', ')}`)
  }
  return `${cycle.join(' → ')}\n${steps.join('\n')}`
}

describe('src/ folder-level import graph', () => {
  it('reads every kind of relative import, type-only and dynamic ones included', () => {
    const text = [
      "import { a } from '../app/a.ts'",
      "import type { B } from './b.ts'",
      "export { c } from '../c/c.ts'",
      "export type { D } from '../d/d.ts'",
      "import '../side/effect.ts'",
      "const e = await import('../e/e.ts')",
      "import {\n  f,\n  g,\n} from '../fg/fg.ts'",
      "import { readFileSync } from 'node:fs'",
    ].join('\n')
    assert.deepEqual(specifiers(text).sort(), [
      '../app/a.ts',
      '../c/c.ts',
      '../d/d.ts',
      '../e/e.ts',
      '../fg/fg.ts',
      '../side/effect.ts',
      './b.ts',
    ])
  })

  it('finds a cycle, direct or through a third folder', () => {
    const direct = new Map([
      ['a/', new Map([['b/', 1]])],
      ['b/', new Map([['a/', 1]])],
    ])
    assert.deepEqual(findCycles(direct), [['a/', 'b/', 'a/']])
    const around = new Map([
      ['a/', new Map([['b/', 1]])],
      ['b/', new Map([['c/', 1]])],
      ['c/', new Map([['a/', 1]])],
    ])
    assert.deepEqual(findCycles(around), [['a/', 'b/', 'c/', 'a/']])
    const chain = new Map([
      ['a/', new Map([['b/', 1]])],
      ['b/', new Map([['c/', 1]])],
    ])
    assert.deepEqual(findCycles(chain), [])
  })

  it('sees the folders of src/ (the graph is not empty)', () => {
    const graph = folderGraph()
    assert.ok(graph.get('app/')?.has('tokens/'), 'app/ imports tokens/')
    assert.ok(graph.get('gateway/')?.has('events/'), 'gateway/ imports events/')
    assert.ok(graph.get('index.ts')?.has('app/'), 'the barrel imports app/')
  })

  it('has no cycle between folders', () => {
    const graph = folderGraph()
    const cycles = findCycles(graph)
    assert.deepEqual(
      cycles.map((c) => c.join(' → ')),
      [],
      `folder cycles:\n${cycles.map((c) => explain(graph, c)).join('\n')}`,
    )
  })
})
