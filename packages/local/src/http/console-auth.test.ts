import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConsoleAuth, SESSION_COOKIE } from './console-auth';
import { withoutLogText } from './console-routes';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('ConsoleAuth', () => {
  it('on this machine: every request is the local session; a post needs its CSRF token and this origin', () => {
    const auth = new ConsoleAuth('key', false);
    const session = auth.sessionOf(request({}));
    expect(session).toBe('local');
    const csrf = auth.csrfFor(session);
    expect(auth.acceptsPost(request({ host: '127.0.0.1:8989', origin: 'http://127.0.0.1:8989', 'sec-fetch-site': 'same-origin' }), session, csrf)).toBe(true);
    expect(auth.acceptsPost(request({ host: '127.0.0.1:8989' }), session, 'forged')).toBe(false);
    expect(auth.acceptsPost(request({ host: '127.0.0.1:8989', origin: 'http://evil.example' }), session, csrf)).toBe(false);
    expect(auth.acceptsPost(request({ host: '127.0.0.1:8989', 'sec-fetch-site': 'cross-site' }), session, csrf)).toBe(false);
  });

  it('beyond this machine: no session until the printed token is exchanged for the cookie; tokens outlive a restart', () => {
    const auth = new ConsoleAuth('key', true);
    expect(auth.sessionOf(request({}))).toBeUndefined();
    expect(auth.login('wrong')).toBeUndefined();
    const cookie = auth.login(auth.loginToken) ?? '';
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[^;]+; HttpOnly; SameSite=Strict; Path=/`));
    const session = auth.sessionOf(request({ cookie: cookie.split(';')[0] ?? '' }));
    expect(session).toBe('console');
    const again = new ConsoleAuth('key', true);
    expect(again.loginToken).toBe(auth.loginToken);
    expect(again.csrfFor(session)).toBe(auth.csrfFor(session));
    expect(new ConsoleAuth('other key', true).loginToken).not.toBe(auth.loginToken);
  });
});

describe('withoutLogText', () => {
  it('compares a section without its logs, which stream on their own', () => {
    const a = '<div><pre class="log" data-log="B.U" data-offset="10" tabindex="0">one\n</pre></div>';
    const b = '<div><pre class="log" data-log="B.U" data-offset="20" tabindex="0">one\ntwo\n</pre></div>';
    expect(withoutLogText(a)).toBe(withoutLogText(b));
    expect(withoutLogText(a)).toBe('<div><pre class="log" data-log="B.U" tabindex="0"></pre></div>');
  });
});
