/**
 * A stand-in for the host's own login sessions, shared by the adapter examples: session id
 * (the `sessionid` cookie) → user id. The adapter tests log users in by filling it.
 */
import { parseCookies } from 'gatehouse'

export const sessions = new Map<string, string>()

/** Who is behind a token request: the user of its session cookie, or `null`. */
export async function authenticate(
  request: Request,
): Promise<{ userId: string; sessionId: string } | null> {
  const sessionId = parseCookies(request.headers.get('cookie')).get('sessionid')
  const userId = sessionId === undefined ? undefined : sessions.get(sessionId)
  return sessionId !== undefined && userId !== undefined ? { userId, sessionId } : null
}
