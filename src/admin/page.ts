/**
 * @module admin/page
 * The admin page's HTML: one server-rendered document, inline CSS under a nonce, no script,
 * forms that post back with the CSRF token. Every dynamic value goes through `esc`.
 */
import type { SessionRecord } from '../store/store.ts'
import { esc } from './html.ts'
import type { RecentActivity } from './recent.ts'

/** What one rendering shows. */
/**
 * One gateway node as the page lists it (what `gateway.cluster.nodes()` returns).
 *
 * @example
 * ```ts
 * const node: AdminNode = { nodeId: 'gw-a', slot: 0, lastHeartbeatAt: Date.now() }
 * ```
 */
export interface AdminNode {
  readonly nodeId: string
  readonly slot: number
  readonly lastHeartbeatAt: number
}

export interface AdminView {
  readonly title: string
  readonly basePath: string
  readonly now: number
  readonly sessions: readonly SessionRecord[]
  /** Live sessions in the store (may be more than `sessions` holds). */
  readonly totalSessions: number
  /** `null` when the store could not count them. */
  readonly outstandingTokens: number | null
  readonly recent: RecentActivity
  readonly allowActions: boolean
  readonly csrfToken: string
  readonly styleNonce: string
  readonly notice?: string | undefined
  /** The cluster's nodes; `undefined` for one node; `'unreachable'` when Redis is down. */
  readonly nodes?: readonly AdminNode[] | 'unreachable' | undefined
}

const CSS = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2330;--muted:#6b7280;--line:#e5e7eb;--accent:#3b5bdb;--warn:#c92a2a;--chip:#eef2ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0;font-weight:600}header span{color:#aab1c4;font-size:12px}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(340px,1fr))}
.stats{grid-column:1/-1;display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(160px,1fr))}
.stat,.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.stat b{display:block;font-size:26px;font-weight:650}.stat span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card h2{font-size:14px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.wide{grid-column:1/-1}.sub{margin-top:14px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 8px;border-top:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
th{font-weight:600;color:var(--muted);font-size:12px;border-top:0;white-space:nowrap}tr:nth-child(even) td{background:#fafbfc}
code{overflow-wrap:anywhere;font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--chip);padding:1px 5px;border-radius:4px}
.chip{display:inline-block;white-space:nowrap;background:var(--chip);color:var(--accent);border-radius:999px;padding:1px 8px;font-size:12px;margin:1px 2px}
.reason{background:#fff0f0;color:var(--warn)}
.muted{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
form{display:inline;margin:0}button{font:inherit;font-size:12px;border:1px solid var(--warn);color:var(--warn);background:#fff;border-radius:6px;padding:2px 10px;cursor:pointer;white-space:nowrap}
button:hover{background:var(--warn);color:#fff}
.notice{grid-column:1/-1;background:#ebfbee;border:1px solid #b2f2bb;color:#2b8a3e;border-radius:10px;padding:10px 16px}
`

function ago(now: number, then: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`
}

function action(
  view: AdminView,
  path: string,
  field: string,
  value: string,
  label: string,
): string {
  if (!view.allowActions) return ''
  return `<form method="post" action="${esc(`${view.basePath}/${path}`)}"><input type="hidden" name="csrf" value="${esc(view.csrfToken)}"><input type="hidden" name="${field}" value="${esc(value)}"><button type="submit">${esc(label)}</button></form>`
}

function group<K>(
  items: readonly SessionRecord[],
  key: (s: SessionRecord) => K,
): Map<K, SessionRecord[]> {
  const out = new Map<K, SessionRecord[]>()
  for (const s of items) {
    const k = key(s)
    const list = out.get(k)
    if (list) list.push(s)
    else out.set(k, [s])
  }
  return out
}

const none = (text: string, cols: number): string =>
  `<tr><td colspan="${cols}" class="empty">${esc(text)}</td></tr>`

function byChannel(view: AdminView): string {
  const groups = [...group(view.sessions, (s) => s.channel)].sort(
    (a, b) => b[1].length - a[1].length,
  )
  const rows = groups.flatMap(([channel, list]) =>
    list.map(
      (s, i) =>
        `<tr>${i === 0 ? `<td rowspan="${list.length}">${channel === null ? '<span class="muted">(none)</span>' : `<b>${esc(channel)}</b>`} <span class="chip">${list.length}</span></td>` : ''}<td>${s.userId === null ? '<span class="muted">anonymous</span>' : esc(s.userId)}</td><td><code>${esc(s.connectionId)}</code></td><td class="muted">${esc(ago(view.now, s.connectedAt))}</td><td>${action(view, 'kick', 'connectionId', s.connectionId, 'Kick')}</td></tr>`,
    ),
  )
  return `<section class="card wide" id="by-channel"><h2>Live sessions by channel</h2><table><thead><tr><th>Channel</th><th>User</th><th>Connection</th><th>Connected</th><th></th></tr></thead><tbody>${rows.join('') || none('No live sessions.', 5)}</tbody></table></section>`
}

function byUser(view: AdminView): string {
  const groups = [...group(view.sessions, (s) => s.userId)].sort(
    (a, b) => b[1].length - a[1].length,
  )
  const rows = groups.map(([user, list]) => {
    const channels = [...new Set(list.map((s) => s.channel))]
      .map((c) => `<span class="chip">${c === null ? '(none)' : esc(c)}</span>`)
      .join('')
    const revoke = user === null ? '' : action(view, 'revoke', 'userId', user, 'Revoke')
    return `<tr><td>${user === null ? '<span class="muted">anonymous</span>' : `<b>${esc(user)}</b>`}</td><td>${list.length}</td><td>${channels}</td><td>${revoke}</td></tr>`
  })
  return `<section class="card" id="by-user"><h2>Live sessions by user</h2><table><thead><tr><th>User</th><th>Sockets</th><th>Channels</th><th></th></tr></thead><tbody>${rows.join('') || none('No live sessions.', 4)}</tbody></table></section>`
}

function refusals(view: AdminView): string {
  const totals = view.recent
    .totals()
    .map(
      (t) =>
        `<tr><td>${esc(t.source)}</td><td><span class="chip reason">${esc(t.reason)}</span></td><td>${t.count}</td></tr>`,
    )
  const latest = view.recent
    .refusals()
    .slice(0, 8)
    .map(
      (r) =>
        `<tr><td class="muted">${esc(ago(view.now, r.at))}</td><td>${esc(r.source)}</td><td><span class="chip reason">${esc(r.reason)}</span></td><td>${r.status ?? ''}</td></tr>`,
    )
  return `<section class="card" id="refusals"><h2>Refusals by reason</h2><table><thead><tr><th>Where</th><th>Reason</th><th>Count</th></tr></thead><tbody>${totals.join('') || none('No refusals since start.', 3)}</tbody></table><h2 class="sub">Latest</h2><table><thead><tr><th>When</th><th>Where</th><th>Reason</th><th>Status</th></tr></thead><tbody>${latest.join('') || none('None yet.', 4)}</tbody></table></section>`
}

function hotKeys(view: AdminView): string {
  const rows = view.recent
    .hotKeys(10)
    .map(
      (k) =>
        `<tr><td><span class="chip">${esc(k.kind)}</span></td><td><code>${esc(k.key)}</code></td><td>${k.count}</td></tr>`,
    )
  return `<section class="card" id="hot-keys"><h2>Rate-limit hot keys</h2><table><thead><tr><th>Limit</th><th>Key</th><th>Refused</th></tr></thead><tbody>${rows.join('') || none('No rate-limit refusals since start.', 3)}</tbody></table></section>`
}

function nodes(view: AdminView): string {
  const head = '<section class="card" id="nodes"><h2>Gateway nodes</h2>'
  if (view.nodes === undefined) {
    return `${head}<p class="empty">One gateway node (no cluster registry configured).</p></section>`
  }
  if (view.nodes === 'unreachable') {
    return `${head}<p class="empty">The cluster registry (Redis) is unreachable.</p></section>`
  }
  const rows = [...view.nodes]
    .sort((a, b) => a.slot - b.slot)
    .map(
      (n) =>
        `<tr><td><code>${esc(n.nodeId)}</code></td><td>${n.slot}</td><td class="muted">${esc(ago(view.now, n.lastHeartbeatAt))}</td></tr>`,
    )
  return `${head}<table><thead><tr><th>Node</th><th>Slot</th><th>Last heartbeat</th></tr></thead><tbody>${rows.join('') || none('No node registered.', 3)}</tbody></table></section>`
}

/**
 * Render the page.
 *
 * @example
 * ```ts
 * const html = renderAdminPage(view)
 * ```
 */
export function renderAdminPage(view: AdminView): string {
  const shown =
    view.sessions.length < view.totalSessions
      ? `<span>showing ${view.sessions.length} of ${view.totalSessions}</span>`
      : ''
  const stats = [
    [view.totalSessions, 'live sessions'],
    [new Set(view.sessions.map((s) => s.userId)).size, 'users online'],
    [new Set(view.sessions.map((s) => s.channel)).size, 'channels'],
    [view.outstandingTokens ?? '–', 'outstanding tokens'],
    [view.recent.totals().reduce((n, t) => n + t.count, 0), 'refusals since start'],
  ]
    .map(([n, label]) => `<div class="stat"><b>${esc(n)}</b><span>${esc(label)}</span></div>`)
    .join('')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(view.title)}</title><style nonce="${esc(view.styleNonce)}">${CSS}</style></head><body><header><h1>${esc(view.title)}</h1><span>${esc(new Date(view.now).toISOString())}</span>${view.allowActions ? '' : '<span>read-only</span>'}${shown}</header><main>${view.notice ? `<div class="notice" role="status">${esc(view.notice)}</div>` : ''}<div class="stats">${stats}</div>${byChannel(view)}${byUser(view)}${refusals(view)}${hotKeys(view)}${nodes(view)}</main></body></html>`
}
