/**
 * Every log line of Gatehouse names its `event` (docs/operations.md, "Logs"): each logger call
 * in `src/` passes an object literal whose own keys include `event`, and a line that carries
 * a `reason` carries one of the closed refusal reasons (or a field the schema documents).
 * Read from the source, so a new call without one fails here.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { REFUSAL_REASONS } from '../src/http/refusal.ts'

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

/** `logger.info(`, `config.logger.warn(`, `rt.options.logger.error(`, `logger[level](`. */
const CALL = /\blogger(?:\.(?:debug|info|warn|error)|\[\w+\])\(/g

/** The argument text of the call starting at `open` (the index of its `(`), balanced. */
function argumentsAt(text: string, open: number): string {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    const c = text[i]
    if (c === '(' || c === '{' || c === '[') depth++
    else if (c === ')' || c === '}' || c === ']') {
      depth--
      if (depth === 0) return text.slice(open + 1, i)
    }
  }
  return text.slice(open + 1)
}

/** The top-level keys of the object literal that opens `args`, or null if it is not one. */
function topLevelKeys(args: string): string[] | null {
  const s = args.trimStart()
  if (!s.startsWith('{')) return null
  const keys: string[] = []
  let depth = 0
  let token = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '{' || c === '(' || c === '[') {
      depth++
      if (depth === 1) token = ''
      continue
    }
    if (c === '}' || c === ')' || c === ']') {
      depth--
      if (depth === 0) {
        const key = token.trim().match(/^(?:\.\.\.)?([A-Za-z_$][\w$]*)/)
        if (key) keys.push(key[1] as string)
        break
      }
      continue
    }
    if (depth !== 1) continue
    if (c === ',') {
      const key = token.trim().match(/^(?:\.\.\.)?([A-Za-z_$][\w$]*)/)
      if (key) keys.push(key[1] as string)
      token = ''
    } else {
      token += c
    }
  }
  return keys
}

interface Call {
  readonly where: string
  readonly args: string
}

function loggerCalls(): Call[] {
  const calls: Call[] = []
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(CALL)) {
      const open = (m.index ?? 0) + m[0].length - 1
      // Skip the TSDoc examples: a line starting with ` * `.
      const lineStart = text.lastIndexOf('\n', m.index) + 1
      if (/^\s*\*/.test(text.slice(lineStart, m.index))) continue
      const line = text.slice(0, m.index).split('\n').length
      calls.push({ where: `${relative(SRC, file)}:${line}`, args: argumentsAt(text, open) })
    }
  }
  return calls
}

describe('log lines', () => {
  const calls = loggerCalls()

  it('finds the logger calls of src/ (the scan itself works)', () => {
    assert.ok(calls.length >= 50, `only ${calls.length} logger calls found`)
    assert.ok(calls.some((c) => c.where.startsWith('gateway/upgrade.ts')))
    assert.ok(calls.some((c) => c.where.startsWith('tokens/')))
  })

  it('every logger call passes an object literal with an `event` key', () => {
    const missing = calls
      .filter((c) => !(topLevelKeys(c.args) ?? []).includes('event'))
      .map((c) => c.where)
    assert.deepEqual(missing, [], `logger calls without an event field:\n${missing.join('\n')}`)
  })

  it('a literal `reason` is one of the closed refusal reasons', () => {
    const reasons = new Set<string>(REFUSAL_REASONS)
    const bad: string[] = []
    for (const c of calls) {
      for (const m of c.args.matchAll(/\breason: '([^']*)'/g)) {
        if (!reasons.has(m[1] as string)) bad.push(`${c.where}: ${m[1]}`)
      }
    }
    assert.deepEqual(bad, [])
  })

  it('docs/operations.md lists every event of src/ in its log schema table, and no other', () => {
    const docs = readFileSync(resolve(SRC, '../docs/operations.md'), 'utf8')
    const logs = docs.slice(docs.indexOf('## Logs'), docs.indexOf('## Alerts'))
    const documented = new Set(
      [...logs.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1] as string),
    )
    const events = new Set<string>()
    for (const c of calls) {
      const m = c.args.match(/\bevent: ([^,}]+)/)
      for (const lit of (m?.[1] ?? '').matchAll(/'([a-z_]+)'/g)) events.add(lit[1] as string)
    }
    assert.ok(events.size >= 30, `only ${events.size} events found`)
    assert.deepEqual(
      [...events].filter((e) => !documented.has(e)).sort(),
      [],
      'undocumented events',
    )
    assert.deepEqual(
      [...documented].filter((e) => !events.has(e)).sort(),
      [],
      'documented, never logged',
    )
  })

  it('the scan catches a call without an event (it can fail)', () => {
    const keys = topLevelKeys(
      argumentsAt("logger.info({ connectionId: id, nested: { event: 1 } }, 'x')", 11),
    )
    assert.deepEqual(keys, ['connectionId', 'nested'])
    assert.deepEqual(topLevelKeys("{ event: 'a', ...fields }"), ['event', 'fields'])
    assert.equal(topLevelKeys('fields'), null)
  })
})
