/**
 * Who may use the console's forms. Every POST carries a CSRF token bound to the session and comes
 * from this origin. On a server bound beyond this machine the console also needs a login: the token
 * `stepline serve` prints, exchanged once for an HttpOnly, SameSite=Strict cookie. Both derive from
 * the machine's signing key, so they outlive a server restart. (An approval link needs neither: its
 * own signature decides that one approval.)
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'stepline_console';
export const FLASH_COOKIE = 'stepline_flash';

const mac = (key: string, purpose: string) => createHmac('sha256', key).update(purpose).digest('base64url');

export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

export class ConsoleAuth {
  /** What a person pastes on the login page. */
  readonly loginToken: string;
  private readonly session: string;

  constructor(
    private readonly key: string,
    readonly requireLogin: boolean,
  ) {
    this.loginToken = mac(key, 'console-login').slice(0, 32);
    this.session = mac(key, 'console-session');
  }

  /** The session a request belongs to: `local` when no login is needed, else the cookie's, else none. */
  sessionOf(req: IncomingMessage): string | undefined {
    if (!this.requireLogin) return 'local';
    const cookie = cookies(req).get(SESSION_COOKIE);
    return sameSecret(cookie, this.session) ? 'console' : undefined;
  }

  csrfFor(session: string | undefined): string {
    return mac(this.key, `csrf:${session ?? 'anonymous'}`);
  }

  /** Whether a login token is this server's; the cookie to set when it is. */
  login(token: string | undefined): string | undefined {
    if (!sameSecret(token?.trim(), this.loginToken)) return undefined;
    return `${SESSION_COOKIE}=${this.session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${30 * 24 * 3600}`;
  }

  /**
   * A form post is accepted when its CSRF token is the session's, and the browser says it comes from
   * this origin (when it says anything: a script without Origin still needs the token).
   */
  acceptsPost(req: IncomingMessage, session: string | undefined, csrf: string | undefined): boolean {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) return false;
    return sameSecret(csrf, this.csrfFor(session));
  }
}

export const isLoopback = (host: string) => host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
