/**
 * @module examples/chat/page
 * The chat page's HTML and the security headers every page and asset carries. The page has
 * no inline script or style: the Content-Security-Policy allows only this origin's files
 * and WebSocket connections to the gateway.
 */

/**
 * The security headers of pages and static files.
 * `connect-src` lists the gateway under both host names the page may be opened with.
 *
 * @example
 * ```ts
 * securityHeaders(3001)['content-security-policy'] // "default-src 'none'; ... connect-src 'self' ws://127.0.0.1:3001 ..."
 * ```
 */
export function securityHeaders(wsPort: number): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${wsPort} ws://localhost:${wsPort}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  return {
    'content-security-policy': csp,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  }
}

/**
 * The chat page. The only server value in it is the gateway port (a number), in a `<meta>`
 * the script reads; nothing user-supplied is ever written into HTML.
 *
 * @example
 * ```ts
 * const html = chatPage(3001)
 * ```
 */
export function chatPage(wsPort: number): string {
  if (!Number.isInteger(wsPort)) throw new TypeError('wsPort must be an integer')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="gatehouse-ws-port" content="${wsPort}">
<title>Gatehouse chat</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
<script type="module" src="/static/app.js"></script>
</head>
<body>
<header class="topbar">
  <div class="brand"><img src="/static/icon.svg" alt="" width="28" height="28"><span>Gatehouse chat</span></div>
  <div class="topbar-right">
    <span id="status" class="status" data-state="idle">offline</span>
    <span id="me" class="me" hidden><span id="me-name" class="me-name"></span><span id="me-role" class="role"></span></span>
    <button id="logout" class="ghost" type="button" hidden>Log out</button>
  </div>
</header>
<main>
  <section id="login-view" class="login" hidden>
    <form id="login-form" class="card">
      <h1>Sign in</h1>
      <p class="muted">A multi-room chat on authenticated WebSockets.</p>
      <label>User name <input name="username" autocomplete="username" required maxlength="128"></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="128"></label>
      <button type="submit" class="primary">Sign in</button>
      <p id="login-error" class="form-error" role="alert"></p>
      <p class="hint">Demo users: <b>alice</b>, <b>bob</b>, <b>mod</b> (moderator), <b>eve</b> (no chat access). The password is the name.</p>
    </form>
  </section>
  <section id="chat-view" class="chat" hidden>
    <aside class="sidebar">
      <h2>Rooms</h2>
      <ul id="rooms" class="rooms"></ul>
      <form id="room-form" class="room-form">
        <input name="room" placeholder="another room" maxlength="128" pattern="[A-Za-z0-9_\\-]{1,128}" aria-label="Room name">
        <button type="submit">Join</button>
      </form>
      <h2>In this room <span id="people-count" class="count"></span></h2>
      <ul id="people" class="people"></ul>
    </aside>
    <section class="room">
      <div class="room-head"><h1 id="room-name"></h1><span class="muted" id="room-note"></span></div>
      <div id="banner" class="banner" role="status" hidden><span id="banner-text"></span><button id="banner-action" type="button" hidden></button></div>
      <ol id="messages" class="messages" aria-live="polite"></ol>
      <form id="composer" class="composer">
        <input id="text" name="text" maxlength="2000" autocomplete="off" aria-label="Message">
        <button type="submit" class="primary">Send</button>
      </form>
    </section>
  </section>
</main>
</body>
</html>
`
}
