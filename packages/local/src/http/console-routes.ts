/**
 * The console's HTTP side, for any `ConsoleSource` (this machine's history, or an AWS installation's):
 * the pages, their assets, the server-sent events that keep a page live, the forms' POSTs, and the
 * login for servers bound beyond this machine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CONSOLE_CSS,
  CONSOLE_JS,
  ConsoleActionError,
  type ConsoleSource,
  type ExecutionData,
  executionPage,
  href,
  loginPage,
  messagePage,
  type Page,
  pipelinePage,
  pipelinesPage,
  type RenderContext,
  renderPage,
} from '@stepline/web';
import { decodeSegment, HttpError, readBody, requestUrl } from './body';
import { type ConsoleAuth, cookies, FLASH_COOKIE } from './console-auth';

const MAX_FORM = 64 * 1024;
/** How often a live page looks for changes; a change shows within a second. */
const TICK_MS = 250;
/** A page is rendered again at least this often while it is open (durations and running bars grow). */
const REFRESH_MS = 3000;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export interface ConsoleRoutesOptions {
  source: ConsoleSource;
  auth: ConsoleAuth;
  now?: () => number;
}

interface Rendered {
  page: Page;
  execution?: ExecutionData;
}

export class ConsoleRoutes {
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly options: ConsoleRoutesOptions) {}

  private get source() {
    return this.options.source;
  }

  private now() {
    return this.options.now?.() ?? Date.now();
  }

  /** Ends every live page's stream (the server is closing). */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  /** Handles the request when it is a console route; returns false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = requestUrl(req);
    const path = url.pathname;
    if (path === '/assets/console.css' || path === '/assets/console.js') {
      const css = path.endsWith('.css');
      res.writeHead(200, {
        'content-type': css ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=86400',
        'x-content-type-options': 'nosniff',
      });
      res.end(css ? CONSOLE_CSS : CONSOLE_JS);
      return true;
    }
    if (path === '/login') {
      await this.login(req, res);
      return true;
    }
    const isPage = path === '/' || path.startsWith('/pipelines/') || path.startsWith('/executions/');
    if (!isPage && path !== '/live' && !path.startsWith('/actions/')) return false;
    const session = this.options.auth.sessionOf(req);
    if (session === undefined) {
      if (req.method === 'GET' && isPage) {
        res.writeHead(303, { location: '/login', 'cache-control': 'no-store' }).end();
      } else res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('sign in first: /login\n');
      return true;
    }
    if (path.startsWith('/actions/')) {
      if (req.method !== 'POST') res.writeHead(405, { allow: 'POST' }).end();
      else await this.action(req, res, path.slice('/actions/'.length), session);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return true;
    }
    if (path === '/live') {
      await this.live(req, res, url, session);
      return true;
    }
    const rendered = await this.render(path, session);
    const ctx = this.context(session, path);
    const flash = cookies(req).get(FLASH_COOKIE);
    if (flash) {
      try {
        const notice = JSON.parse(Buffer.from(flash, 'base64url').toString('utf8')) as RenderContext['notice'];
        if (notice) ctx.notice = notice;
      } catch {
        // A cookie we did not write: ignore it.
      }
    }
    const headers: Record<string, string | string[]> = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS };
    if (flash) headers['set-cookie'] = `${FLASH_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict`;
    if (!rendered) {
      res.writeHead(404, headers).end(renderPage(messagePage('Not found', `Nothing here: ${path}`), { where: this.source.where, now: this.now() }));
      return true;
    }
    res.writeHead(200, headers).end(renderPage(rendered.page, ctx));
    return true;
  }

  private context(session: string | undefined, path: string): RenderContext {
    return {
      where: this.source.where,
      now: this.now(),
      ...(this.source.actions && { csrf: this.options.auth.csrfFor(session) }),
      ...(this.source.defaultApprover !== undefined && { approver: this.source.defaultApprover }),
      stream: `/live?path=${encodeURIComponent(path)}`,
    };
  }

  private async render(path: string, session: string | undefined): Promise<Rendered | undefined> {
    const ctx = this.context(session, path);
    if (path === '/') return { page: pipelinesPage(await this.source.pipelines(), ctx) };
    const pipeline = /^\/pipelines\/([^/]+)$/.exec(path);
    if (pipeline) {
      const name = decodeSegment(pipeline[1] ?? '');
      const data = name === undefined ? undefined : await this.source.pipeline(name);
      return data && { page: pipelinePage(data, ctx) };
    }
    const execution = /^\/executions\/([^/]+)$/.exec(path);
    if (execution) {
      const id = decodeSegment(execution[1] ?? '');
      const data = id === undefined ? undefined : await this.source.execution(id);
      return data && { page: executionPage(data, ctx), execution: data };
    }
    return undefined;
  }

  /**
   * Server-sent events for one page: its sections again whenever they change, and each build log's
   * new bytes. The browser reconnects by itself (a server restart), saying which log bytes it has.
   */
  private async live(req: IncomingMessage, res: ServerResponse, url: URL, session: string | undefined): Promise<void> {
    const path = url.searchParams.get('path') ?? '/';
    const offsets = new Map<string, number>();
    for (const part of (url.searchParams.get('logs') ?? '').split(',')) {
      const i = part.lastIndexOf(':');
      if (i <= 0) continue;
      const key = decodeSegment(part.slice(0, i));
      const n = Number(part.slice(i + 1));
      if (key !== undefined && Number.isSafeInteger(n) && n >= 0) offsets.set(key, n);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    this.streams.add(res);
    let closed = false;
    req.on('close', () => {
      closed = true;
      this.streams.delete(res);
    });
    const send = (event: string, data: unknown) => {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // What the page has: the sections it was rendered with are unknown, so the first round sends all.
    const sent = new Map<string, string>();
    let title: string | undefined;
    let token: string | undefined;
    let lastRender = 0;
    let execution: ExecutionData | undefined;
    let beat = Date.now();
    while (!closed) {
      try {
        const next = this.source.changeToken ? await this.source.changeToken() : undefined;
        const due = Date.now() - lastRender >= (this.source.changeToken ? REFRESH_MS : 1000);
        if (lastRender === 0 || next !== token || due) {
          token = next;
          lastRender = Date.now();
          const rendered = await this.render(path, session);
          if (rendered) {
            execution = rendered.execution;
            const changed: Record<string, string> = {};
            for (const s of rendered.page.sections) {
              const shape = withoutLogText(s.html);
              if (sent.get(s.id) === shape) continue;
              sent.set(s.id, shape);
              changed[s.id] = s.html;
              // The logs in a section sent again start from what it holds.
              for (const b of execution?.builds ?? []) if (b.log && s.html.includes('data-log=')) offsets.set(`${b.stage}.${b.action}`, b.log.size);
            }
            if (Object.keys(changed).length > 0) send('sections', changed);
            const pageTitle = `${rendered.page.title} · stepline`;
            if (pageTitle !== title) send('title', pageTitle);
            title = pageTitle;
          }
        }
        for (const b of execution?.builds ?? []) {
          const key = `${b.stage}.${b.action}`;
          const from = offsets.get(key);
          if (from === undefined || !b.log) continue;
          const chunk = await this.source.log(execution?.detail.executionId ?? '', b.stage, b.action, from);
          if (chunk && chunk.size > from && chunk.text) {
            offsets.set(key, chunk.size);
            send('log', { key, text: chunk.text, size: chunk.size });
          }
        }
        if (Date.now() - beat > 15_000) {
          beat = Date.now();
          if (!closed) res.write(': keep-alive\n\n');
        }
      } catch (error) {
        send('problem', (error as Error).message);
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
  }

  private async readForm(req: IncomingMessage): Promise<URLSearchParams> {
    return new URLSearchParams(await readBody(req, MAX_FORM));
  }

  private redirect(res: ServerResponse, to: string, notice?: RenderContext['notice']): void {
    const headers: Record<string, string> = { location: to, 'cache-control': 'no-store' };
    if (notice) headers['set-cookie'] = `${FLASH_COOKIE}=${Buffer.from(JSON.stringify(notice)).toString('base64url')}; Path=/; SameSite=Strict; HttpOnly`;
    res.writeHead(303, headers).end();
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = this.options.auth;
    const ctx = { where: this.source.where, now: this.now() };
    if (req.method === 'GET') {
      if (auth.sessionOf(req) !== undefined) return this.redirect(res, '/');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
      res.end(renderPage(loginPage(auth.csrfFor(undefined), false), ctx));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    const form = await this.readForm(req);
    const cookie = auth.acceptsPost(req, undefined, form.get('csrf') ?? undefined) ? auth.login(form.get('token') ?? undefined) : undefined;
    if (!cookie) {
      res.writeHead(403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
      res.end(renderPage(loginPage(auth.csrfFor(undefined), true), ctx));
      return;
    }
    res.writeHead(303, { location: '/', 'set-cookie': cookie, 'cache-control': 'no-store' }).end();
  }

  private async action(req: IncomingMessage, res: ServerResponse, verb: string, session: string): Promise<void> {
    const form = await this.readForm(req);
    if (!this.options.auth.acceptsPost(req, session, form.get('csrf') ?? undefined)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('this form is not from this console (reload the page and try again)\n');
      return;
    }
    const actions = this.source.actions;
    if (!actions) {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8' }).end('this console only reads\n');
      return;
    }
    const field = (name: string) => (form.get(name) ?? '').trim();
    const who = field('who') || this.source.defaultApprover || 'console user';
    const execution = field('execution');
    const pipeline = field('pipeline');
    const back = execution ? href.execution(execution) : pipeline ? href.pipeline(pipeline) : '/';
    try {
      switch (verb) {
        case 'start': {
          const variables: Record<string, string> = {};
          for (const [k, v] of form) if (k.startsWith('var:')) variables[k.slice(4)] = v;
          const started = await actions.start(pipeline, variables, who);
          return this.redirect(res, href.execution(started.executionId), { kind: 'ok', text: `Started ${started.executionId}` });
        }
        case 'stop':
          await actions.stop(execution, form.get('abandon') === '1', who);
          return this.redirect(res, back, {
            kind: 'ok',
            text: form.get('abandon') === '1' ? 'Stopping: running actions are abandoned' : 'Stopping once running actions finish',
          });
        case 'retry':
          await actions.retry(execution, who);
          return this.redirect(res, back, { kind: 'ok', text: 'Retrying the failed stage' });
        case 'decide': {
          const approve = field('decision') === 'approve';
          await actions.decide(execution, field('stage'), approve, field('comment').slice(0, 1000), who);
          return this.redirect(res, back, { kind: 'ok', text: `${approve ? 'Approved' : 'Rejected'} by ${who}` });
        }
        case 'disable-transition':
        case 'enable-transition': {
          const enabled = verb === 'enable-transition';
          const reason = field('reason').slice(0, 300);
          if (!enabled && !reason) throw new ConsoleActionError('say why the transition is disabled', 400);
          await actions.setTransition(pipeline, field('stage'), enabled, reason, who);
          return this.redirect(res, back, { kind: 'ok', text: `Transition into ${field('stage')} ${enabled ? 'enabled' : 'disabled'}` });
        }
        default:
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`no action ${verb}\n`);
      }
    } catch (error) {
      if (error instanceof ConsoleActionError || error instanceof HttpError) return this.redirect(res, back, { kind: 'bad', text: error.message });
      throw error;
    }
  }
}

/** A section's HTML without its logs' text: logs stream on their own, so their growth alone sends nothing again. */
export const withoutLogText = (html: string) => html.replace(/(<pre class="log"[^>]*?) data-offset="\d+"([^>]*>)[\s\S]*?<\/pre>/g, '$1$2</pre>');
