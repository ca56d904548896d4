/**
 * `docs/errors.md` against the code, both ways: every `ERR_*` code, refusal reason, status
 * text, close code and error-frame text the code has is documented, and everything the page
 * documents is produced somewhere in `src/`. The page is parsed, not grepped: a reason counts
 * only where it stands in a `reasons` column, a close code only in the close-code table.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { CLOSE } from '../../src/gateway/close-codes.ts'
import { ERROR_MESSAGES } from '../../src/gateway/message.ts'
import {
  FORBIDDEN_REPLY,
  INTERNAL_ERROR_REPLY,
  REFUSAL_REASONS,
  refusalBody,
  STATUS_TEXT,
  UNAVAILABLE_REPLY,
  validationReply,
} from '../../src/http/refusal.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const DOC = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')

interface Table {
  readonly section: string
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

/** Split a table row on `|`, but not on a `|` inside backticks. */
function cells(line: string): string[] {
  const out: string[] = []
  let cell = ''
  let code = false
  for (const ch of line.trim().replace(/^\||\|$/g, '')) {
    if (ch === '`') code = !code
    if (ch === '|' && !code) {
      out.push(cell.trim())
      cell = ''
    } else cell += ch
  }
  out.push(cell.trim())
  return out
}

/** Every Markdown table of a page, with the `##` section it is in. */
function tables(markdown: string): Table[] {
  const out: Table[] = []
  let section = ''
  let block: string[] = []
  const flush = (): void => {
    if (block.length >= 2) {
      const [head, , ...body] = block
      out.push({ section, header: cells(head ?? ''), rows: body.map(cells) })
    }
    block = []
  }
  for (const line of markdown.split('\n')) {
    if (line.startsWith('|')) {
      block.push(line)
      continue
    }
    flush()
    if (line.startsWith('## ')) section = line.slice(3).trim()
  }
  flush()
  return out
}

function column(table: Table, name: string): string[] {
  const i = table.header.indexOf(name)
  assert.notEqual(i, -1, `table in "${table.section}" has a "${name}" column`)
  return table.rows.map((r) => r[i] ?? '')
}

function backticked(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '')
}

/**
 * The reasons of a `reasons` cell: its backticked names, leaving out what explains them
 * (in parentheses) and what follows a `;` (headers sent along, such as `Retry-After`).
 */
function reasonsOf(cell: string): string[] {
  return backticked(cell.replace(/\([^()]*\)/g, '').split(';')[0] ?? '')
}

const TABLES = tables(DOC)

function tableIn(section: string, firstColumn: string): Table {
  const t = TABLES.find((x) => x.section === section && x.header[0] === firstColumn)
  assert.ok(t, `docs/errors.md has a table "${firstColumn}" under "## ${section}"`)
  return t
}

/** The code of `src/`, comments stripped, one entry per file. */
function sources(): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.name.endsWith('.ts')) {
        const code = readFileSync(path, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
        out.set(relative(ROOT, path), code)
      }
    }
  }
  walk(join(ROOT, 'src'))
  return out
}

const SOURCES = sources()

/** Files of `src/` (besides `except`) whose code holds the string literal `value`. */
function producers(value: string, except: readonly string[]): string[] {
  const literal = new RegExp(`['"\`]${value}['"\`]`)
  return [...SOURCES]
    .filter(([file, code]) => !except.includes(file) && literal.test(code))
    .map(([file]) => file)
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort()

describe('docs/errors.md', () => {
  it('the table parser reads cells, sections and backticked values', () => {
    const parsed = tables(
      '## A\n\n| x | reasons |\n|---|---|\n| 1 | `a_b`, `c|d` (why) |\n\n## B\n\n| y |\n|---|\n| 2 |\n',
    )
    assert.deepEqual(parsed, [
      { section: 'A', header: ['x', 'reasons'], rows: [['1', '`a_b`, `c|d` (why)']] },
      { section: 'B', header: ['y'], rows: [['2']] },
    ])
    assert.deepEqual(backticked(parsed[0]?.rows[0]?.[1] ?? ''), ['a_b', 'c|d'])
    assert.deepEqual(reasonsOf('`a`, `b` (not `c`), `d`; `Retry-After`'), ['a', 'b', 'd'])
  })

  it('lists every ERR_* code of GatehouseErrorCode, each one thrown somewhere', () => {
    const errors = SOURCES.get('src/errors.ts') ?? ''
    const union = errors.slice(errors.indexOf('export type GatehouseErrorCode'))
    const inCode = sorted(
      [...union.slice(0, union.indexOf('\n\n')).matchAll(/'(ERR_[A-Z_]+)'/g)].map(
        (m) => m[1] ?? '',
      ),
    )
    assert.ok(inCode.length >= 10, 'the union was read')
    const documented = sorted(column(tableIn('Error codes', 'code'), 'code').flatMap(backticked))
    assert.deepEqual(documented, inCode)
    for (const code of inCode) {
      assert.notDeepEqual(producers(code, ['src/errors.ts']), [], `${code} is produced`)
    }
  })

  it('lists every refusal reason in a reasons column, and each one is produced', () => {
    const documented = TABLES.filter(
      (t) => t.header.includes('reasons') || t.header.includes('reason'),
    )
      .flatMap((t) => column(t, t.header.includes('reasons') ? 'reasons' : 'reason'))
      .flatMap(reasonsOf)
    assert.deepEqual(sorted(documented), sorted(REFUSAL_REASONS))
    for (const reason of REFUSAL_REASONS) {
      assert.notDeepEqual(
        producers(reason, ['src/http/refusal.ts']),
        [],
        `reason ${reason} is produced somewhere in src/ (not only declared)`,
      )
    }
  })

  it('shows, for every refusal status, the body the code sends', () => {
    for (const section of [
      'Statuses on `$connect`',
      'Statuses of the token endpoint',
      "Statuses of the bundled gateway's upgrades",
    ]) {
      const table = tableIn(section, 'status')
      const bodies = column(table, 'client body')
      table.rows.forEach((row, i) => {
        const status = Number(row[0])
        if (!Number.isInteger(status)) return // "any other": the body of that status
        assert.equal(bodies[i], `\`${refusalBody(status)}\``, `${section}: ${status}`)
      })
    }
  })

  it('has the one status-text table, equal to STATUS_TEXT', () => {
    const table = tableIn('One refusal body', 'status')
    const documented = Object.fromEntries(
      table.rows.map((r) => [r[0] ?? '', backticked(r[1] ?? '')[0] ?? '']),
    )
    const inCode = Object.fromEntries(Object.entries(STATUS_TEXT))
    assert.deepEqual(documented, inCode)
  })

  it('lists exactly the close codes of the close-code table', () => {
    const documented = sorted(
      column(tableIn('Message replies and close codes', 'close code'), 'close code'),
    )
    const inCode = sorted(Object.values(CLOSE).map((c) => String(c.code)))
    assert.deepEqual(documented, inCode)
  })

  it('no gateway module closes with a code that is not in the close-code table', () => {
    const literal = /\b10(?:0\d|1[0-5])\b/
    for (const [file, code] of SOURCES) {
      if (!file.startsWith('src/gateway/') || file === 'src/gateway/close-codes.ts') continue
      for (const line of code.split('\n')) {
        assert.doesNotMatch(line, literal, `${file}: a close code outside CLOSE: ${line.trim()}`)
      }
    }
  })

  it('shows every error-frame text, and no other', () => {
    const table = tableIn('Message replies and close codes', 'what')
    const seen = column(table, 'client sees').join(' ')
    const documented = sorted([...seen.matchAll(/"message":"([^"]+)"/g)].map((m) => m[1] ?? ''))
    const replies = [FORBIDDEN_REPLY, INTERNAL_ERROR_REPLY, UNAVAILABLE_REPLY]
    const validation = validationReply([])
    const inCode = sorted([
      (JSON.parse(validation) as { message: string }).message,
      ...Object.values(ERROR_MESSAGES),
      ...replies.map((r) => (JSON.parse(r) as { message: string }).message),
    ])
    assert.deepEqual(documented, inCode)
    for (const reply of replies) assert.ok(seen.includes(`\`${reply}\``), reply)
    // The validation reply, with its paths shown as `…`.
    assert.ok(seen.includes(`\`${validation.replace('[]', '[…]')}\``), validation)
    for (const text of Object.values(ERROR_MESSAGES)) {
      assert.ok(seen.includes(`\`{"message":"${text}","connectionId":…,"requestId":…}\``), text)
    }
  })
})
