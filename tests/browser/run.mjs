// signalbox's web pages in real headless Chromium (Debian's /usr/bin/chromium), driven by
// Playwright (playwright-core: no browser download). No network: the server is the offline demo
// (`signalbox demo`), which builds a whole world (sources, 5 briefs, flags route.chat and
// cap.image-generation, a playbook decision made and reverted) and then keeps serving.
//
//   cargo build && node tests/browser/run.mjs
//
// Environment: SIGNALBOX_BIN (default: $CARGO_TARGET_DIR/debug/signalbox, else target/debug/signalbox),
// CHROMIUM (default /usr/bin/chromium). Screenshots go to target/screenshots/<page>-<width>.png.
//
// Three parts, each reported on its own; any failure makes the exit status 1:
//   flow        sign in, inbox, open a brief, acknowledge, propose as alice, approve as bob and as
//               carol, the decision active, the routing map and OFREP serving the new variant;
//               a flags:read viewer sees no triage buttons; form posts without the CSRF token or
//               from another site are refused (403) and change nothing.
//   screenshots every page at desktop and phone widths, each with an <h1>, no sideways scrolling
//               on a phone. A page that answers 404 is skipped ("not built") here only.

import { spawn, execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const BIN = process.env.SIGNALBOX_BIN
  || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'debug', 'signalbox');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(repo, 'target', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const VERBOSE = process.env.VERBOSE === '1';

const failures = [];
let passed = 0;
let skipped = 0;
const log = (line) => console.log(line);
const debug = (line) => { if (VERBOSE) console.log(`  · ${line}`); };

class StepError extends Error {}
const fail = (msg) => { throw new StepError(msg); };

// ── the server ──────────────────────────────────────────────────────────────────────────────────

/** Starts `signalbox demo` on a free port and waits for its script to finish ("done:"). */
async function startDemo() {
  if (!existsSync(BIN)) fail(`no signalbox binary at ${BIN}: run \`cargo build\` first (or set SIGNALBOX_BIN)`);
  const child = spawn(BIN, ['demo', '--listen', '127.0.0.1:0', '--pause', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  const out = [];
  const demo = { child, out, base: null, dataDir: null, adminToken: null, appToken: null };
  let buffer = '';
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StepError(
      `the demo did not print "done:" within 180 s; its output:\n${out.slice(-30).join('\n')}`)), 180_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        out.push(line);
        debug(`demo: ${line}`);
        let m;
        if ((m = line.match(/signalbox is serving at (http:\/\/\S+)\s+\(data in (.+)\)/))) {
          demo.base = m[1];
          demo.dataDir = m[2];
        } else if (line.includes('/api/v1/briefs') && (m = line.match(/Bearer (\S+?)'/))) {
          demo.adminToken = m[1];
        } else if (line.includes('/ofrep/v1/evaluate') && (m = line.match(/Bearer (\S+?)'/))) {
          demo.appToken = m[1];
        } else if (/\] done: /.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.stderr.on('data', (chunk) => { for (const l of String(chunk).split('\n')) if (l) out.push(`stderr: ${l}`); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new StepError(`the demo exited (${signal || code}) before it was done; its output:\n${out.slice(-30).join('\n')}`));
    });
  });
  try {
    await done;
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  if (!demo.base || !demo.dataDir || !demo.adminToken || !demo.appToken) {
    child.kill('SIGTERM');
    fail(`could not read the address, data directory and tokens from the demo's output:\n${out.slice(0, 8).join('\n')}`);
  }
  return demo;
}

function stopDemo(demo) {
  if (demo && demo.child.exitCode === null) demo.child.kill('SIGTERM');
}

/** A token made with the CLI against the demo's database (the server picks it up within 2 s). */
async function createToken(demo, name, scopes) {
  const { stdout } = await promisify(execFile)(
    BIN,
    ['token', 'create', '--name', name, '--scope', scopes.join(','), '--env', 'production', '--format', 'json'],
    { env: { ...process.env, DATABASE_URL: `sqlite://${path.join(demo.dataDir, 'signalbox.db')}`, RUST_LOG: 'warn' } },
  ).catch((e) => fail(`\`signalbox token create --name ${name}\` failed: ${e.stderr || e.message}`));
  const token = JSON.parse(stdout).token;
  if (!token) fail(`\`signalbox token create --name ${name}\` printed no token: ${stdout}`);
  return token;
}

async function api(demo, method, url, token, body) {
  const r = await fetch(demo.base + url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

/** Waits until the server accepts `token` (tokens made by the CLI are picked up within 2 s). */
async function waitForToken(demo, name, token) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await api(demo, 'GET', '/api/v1/decisions', token);
    if (r.status === 200) return;
    if (Date.now() > deadline) fail(`the server still refuses ${name}'s token after 10 s (HTTP ${r.status}: ${r.text.slice(0, 200)})`);
    await sleep(200);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function briefStatus(demo, id) {
  const r = await api(demo, 'GET', `/api/v1/briefs/${id}`, demo.adminToken);
  if (r.status !== 200) fail(`GET /api/v1/briefs/${id} answered ${r.status}: ${r.text.slice(0, 200)}`);
  return r.json.status;
}

// ── the browser ─────────────────────────────────────────────────────────────────────────────────

async function launch() {
  if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a container: no sandbox. The machine has no network: nothing in the background.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

async function newContext(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  context.setDefaultTimeout(15_000);
  // Pages have no script (the CSP allows none inline), but a confirm() would otherwise hang a click.
  context.on('page', (p) => p.on('dialog', (d) => d.accept()));
  return context;
}

/** The page's <h1>, for messages. */
async function h1(page) {
  return (await page.locator('h1').first().textContent({ timeout: 1000 }).catch(() => null))?.trim() || null;
}

/** Opens `url` and requires a 2xx answer; says which page was missing otherwise. */
async function open(page, base, url) {
  const r = await page.goto(base + url);
  const status = r ? r.status() : 0;
  if (status >= 400) {
    const heading = await h1(page);
    fail(`GET ${url} answered ${status}${heading ? ` ("${heading}")` : ''}${status === 404 ? ' — page not built?' : ''}`);
  }
  return r;
}

/** Requires at least one element for `selector` on the current page. */
async function need(page, selector, what) {
  const l = page.locator(selector);
  const n = await l.count();
  if (n === 0) {
    fail(`${what}: no element matches ${selector} on ${new URL(page.url()).pathname} (h1: ${JSON.stringify(await h1(page))})`);
  }
  return l.first();
}

/** Clicks a submit button and waits for the page it leads to; requires a 2xx answer at the end. */
async function submit(page, button, what) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    button.click(),
  ]);
  const status = response ? response.status() : 0;
  if (status >= 400) {
    fail(`${what}: the form post ended on ${new URL(page.url()).pathname} with HTTP ${status} ("${await h1(page)}")`);
  }
  return response;
}

async function signIn(browser, base, token, who, viewport = DESKTOP) {
  const context = await newContext(browser, viewport);
  const page = await context.newPage();
  await open(page, base, '/signin');
  await (await need(page, 'input[name="token"]', 'the sign-in form')).fill(token);
  await submit(page, page.locator('form[action="/signin"] button[type="submit"]'), `signing in as ${who}`);
  const cookies = await context.cookies();
  if (!cookies.some((c) => c.name === 'sbx_session')) fail(`signing in as ${who} set no sbx_session cookie (now on ${page.url()})`);
  if (new URL(page.url()).pathname === '/signin') fail(`signing in as ${who} stayed on /signin: ${await h1(page)}`);
  return { context, page };
}

/** Sets a form field whatever it is (text, select, radio, textarea); hidden fields are only checked. */
async function setField(form, name, value) {
  const fields = form.locator(`[name="${name}"]`);
  if ((await fields.count()) === 0) fail(`the proposal form has no field "${name}"`);
  const field = fields.first();
  const tag = await field.evaluate((e) => e.tagName.toLowerCase());
  const type = await field.evaluate((e) => (e.getAttribute('type') || '').toLowerCase());
  if (type === 'hidden') {
    const v = await field.inputValue();
    if (v !== value) fail(`the proposal form's hidden "${name}" is ${JSON.stringify(v)}, expected ${JSON.stringify(value)}`);
  } else if (type === 'radio' || type === 'checkbox') {
    const choice = form.locator(`[name="${name}"][value="${value}"]`);
    if ((await choice.count()) === 0) fail(`the proposal form offers no ${JSON.stringify(value)} for "${name}"`);
    await choice.first().check();
  } else if (tag === 'select') {
    const options = await field.evaluate((e) => [...e.options].map((o) => o.value || o.textContent.trim()));
    if (!options.includes(value)) fail(`the proposal form's "${name}" offers ${JSON.stringify(options)}, not ${JSON.stringify(value)}`);
    await field.selectOption(value);
  } else {
    await field.fill(value);
  }
}

async function shot(page, file) {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, file), fullPage: true });
}

// ── the parts ───────────────────────────────────────────────────────────────────────────────────

/** Runs `fn` as one named step; a failure names the step, is recorded, and stops the part. */
function stepper(part, keepGoing = false) {
  return async (name, fn) => {
    try {
      const v = await fn();
      passed += 1;
      log(`  ok   ${name}`);
      return v;
    } catch (e) {
      const msg = e instanceof StepError ? e.message : (e.stack || String(e));
      log(`  FAIL ${name}\n       ${msg.split('\n').join('\n       ')}`);
      failures.push(`${part}: ${name}: ${msg.split('\n')[0]}`);
      if (keepGoing) return undefined;
      throw new PartStopped();
    }
  };
}
class PartStopped extends Error {}

async function flow(browser, demo, people, state) {
  log('flow: brief → proposal → two approvals → routing → OFREP; viewer; CSRF');
  const step = stepper('flow');
  const base = demo.base;

  const alice = await step('alice signs in at 1280×800 and lands on the inbox', async () => {
    const s = await signIn(browser, base, people.alice, 'alice');
    if (new URL(s.page.url()).pathname !== '/') fail(`after sign-in alice is on ${s.page.url()}, not the inbox`);
    return s;
  });

  const briefId = await step('the inbox lists the demo\'s briefs; alice opens one that affects route.chat', async () => {
    const links = alice.page.locator('a[href^="/briefs/"]');
    const n = await links.count();
    if (n === 0) fail(`the inbox shows no brief links (a[href^="/briefs/"]); h1: ${await h1(alice.page)}`);
    // A new brief (so that it can be acknowledged), preferring one whose row names route.chat.
    const rows = [];
    for (let i = 0; i < n; i++) {
      const href = await links.nth(i).getAttribute('href');
      const id = Number(href.split('/')[2]);
      const row = await links.nth(i).evaluate((a) => (a.closest('tr, li, article, .card') || a).textContent);
      rows.push({ id, href, routeChat: row.includes('route.chat'), status: await briefStatus(demo, id) });
    }
    debug(`inbox rows: ${JSON.stringify(rows)}`);
    const fresh = rows.filter((r) => r.status === 'new');
    if (fresh.length < 2) fail(`need 2 new briefs in the inbox (one to act on, one for the CSRF checks); rows: ${JSON.stringify(rows)}`);
    const pick = fresh.find((r) => r.routeChat) || fresh[0];
    state.briefId = pick.id;
    state.otherBriefId = fresh.find((r) => r.id !== pick.id).id;
    await submitLink(alice.page, pick.href);
    return pick.id;
  });

  await step(`the brief page /briefs/${briefId} shows the brief with acknowledge and propose`, async () => {
    if (new URL(alice.page.url()).pathname !== `/briefs/${briefId}`) fail(`clicking the row led to ${alice.page.url()}`);
    await need(alice.page, 'h1', 'the brief\'s heading');
    await need(alice.page, '[data-test="acknowledge"]', 'the acknowledge button');
    await need(alice.page, '[data-test="propose"]', 'the "Propose a decision" button');
    await need(alice.page, 'form input[type="hidden"][name="csrf"]', 'the forms\' CSRF field');
  });

  await step('alice acknowledges the brief (status new → acknowledged)', async () => {
    await submit(alice.page, alice.page.locator('[data-test="acknowledge"]').first(), 'acknowledge');
    const s = await briefStatus(demo, briefId);
    if (s !== 'acknowledged') fail(`after acknowledging, the API says brief ${briefId} is ${s}`);
  });

  state.decisionId = await step('alice proposes serve failover on route.chat in production from the pre-filled form', async () => {
    if (new URL(alice.page.url()).pathname !== `/briefs/${briefId}`) await open(alice.page, base, `/briefs/${briefId}`);
    const button = await need(alice.page, '[data-test="propose"]', 'the propose button');
    const form = button.locator('xpath=ancestor::form[1]');
    if ((await form.count()) === 0) fail('the propose button is not inside a form');
    // A form folded into <details> is opened the way a person would.
    const summary = form.locator('xpath=ancestor::details[not(@open)][1]/summary');
    if ((await summary.count()) > 0) await summary.first().click();
    const action = await form.getAttribute('action');
    if (action !== '/decisions') fail(`the proposal form posts to ${action}, not /decisions`);
    const prefilled = await form.evaluate((f) => Object.fromEntries(new FormData(f)));
    debug(`pre-filled: ${JSON.stringify(prefilled)}`);
    if (String(prefilled.brief_id) !== String(briefId)) fail(`the form's brief_id is ${JSON.stringify(prefilled.brief_id)}, not ${briefId}`);
    if (!prefilled.csrf) fail('the proposal form carries no csrf field');
    for (const f of ['flag', 'env', 'action', 'variant', 'reason', 'starts_at', 'expires_at']) {
      if (!(f in prefilled)) fail(`the proposal form has no field "${f}" (has: ${Object.keys(prefilled).join(', ')})`);
    }
    await setField(form, 'flag', 'route.chat');
    await setField(form, 'env', 'production');
    await setField(form, 'action', 'serve');
    await setField(form, 'variant', 'failover');
    if (!prefilled.reason) await setField(form, 'reason', 'Acme API outage: route chat to Globex (browser test)');
    const before = await api(demo, 'GET', '/api/v1/decisions', demo.adminToken);
    const known = new Set((before.json || []).map((d) => d.id));
    await submit(alice.page, button, 'propose');
    const after = await api(demo, 'GET', '/api/v1/decisions', demo.adminToken);
    const made = (after.json || []).filter((d) => !known.has(d.id));
    if (made.length !== 1) fail(`expected one new decision after proposing, found ${made.length}: ${JSON.stringify(made)}`);
    const d = made[0];
    const want = {
      flag: 'route.chat', env: 'production', action: 'serve', variant: 'failover', status: 'proposed', brief_id: briefId, proposed_by: 'alice',
    };
    for (const [k, v] of Object.entries(want)) {
      if (d[k] !== v) fail(`the new decision's ${k} is ${JSON.stringify(d[k])}, expected ${JSON.stringify(v)} (${JSON.stringify(d)})`);
    }
    return d.id;
  });
  const id = state.decisionId;

  for (const who of ['bob', 'carol']) {
    await step(`${who} signs in (own browser context) and approves decision #${id} on /decisions`, async () => {
      const s = await signIn(browser, base, people[who], who);
      try {
        await open(s.page, base, '/decisions');
        const card = await need(s.page, `[data-test="decision-${id}"]`, `the card of decision #${id}`);
        const text = (await card.textContent()).toLowerCase();
        if (!/\bproposed\b/.test(text)) fail(`decision #${id}'s card does not say proposed: ${text.trim().slice(0, 200)}`);
        const approve = await need(s.page, `[data-test="approve-${id}"]`, `the approve button of decision #${id}`);
        await submit(s.page, approve, `${who} approving`);
        await need(s.page, '[data-test="flash"]', `a message after ${who} approved`);
        debug(`flash: ${await s.page.locator('[data-test="flash"]').first().textContent()}`);
        const r = await api(demo, 'GET', `/api/v1/decisions/${id}`, demo.adminToken);
        const votes = r.json?.votes || [];
        if (!votes.some((v) => v.voter === who && v.verdict === 'approve')) {
          fail(`the API does not show ${who}'s approval of decision #${id}: votes ${JSON.stringify(votes)}`);
        }
      } finally {
        await s.context.close();
      }
    });
  }

  await step(`decision #${id} is active on /decisions`, async () => {
    const deadline = Date.now() + 10_000;
    let text = '';
    for (;;) {
      await open(alice.page, base, '/decisions');
      const card = await need(alice.page, `[data-test="decision-${id}"]`, `the card of decision #${id}`);
      text = (await card.textContent()).toLowerCase();
      if (/\bactive\b/.test(text)) break;
      if (Date.now() > deadline) fail(`decision #${id}'s card never said active within 10 s: ${text.trim().slice(0, 200)}`);
      await sleep(300);
    }
  });

  await step('/routing shows route.chat in production serving failover', async () => {
    await open(alice.page, base, '/routing');
    const cell = await need(alice.page, '[data-test="route-production-route.chat"]', 'the routing cell for route.chat in production');
    const v = cell.locator('[data-test="variant"]');
    if ((await v.count()) === 0) fail('the routing cell has no [data-test="variant"]');
    const variant = (await v.first().textContent()).trim();
    if (variant !== 'failover') fail(`the routing map shows ${JSON.stringify(variant)} for route.chat in production, not "failover"`);
  });

  await step(`OFREP answers route.chat = failover with decisionId ${id}`, async () => {
    const r = await fetch(`${base}/ofrep/v1/evaluate/flags/route.chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${demo.appToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
    });
    const body = await r.json().catch(() => null);
    if (r.status !== 200) fail(`OFREP answered ${r.status}: ${JSON.stringify(body)}`);
    if (body.variant !== 'failover') fail(`OFREP serves ${JSON.stringify(body.variant)}, not "failover": ${JSON.stringify(body)}`);
    if (body.metadata?.decisionId !== id) fail(`OFREP's metadata.decisionId is ${JSON.stringify(body.metadata?.decisionId)}, not ${id}`);
  });

  return alice;
}

/** Follows an inbox link the way a person does (a click), waiting for the page. */
async function submitLink(page, href) {
  const link = page.locator(`a[href="${href}"]`).first();
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), link.click()]);
  const status = response ? response.status() : 0;
  if (status >= 400) {
    const heading = await h1(page);
    fail(`GET ${href} answered ${status}${heading ? ` ("${heading}")` : ''}${status === 404 ? ' — page not built?' : ''}`);
  }
}

async function viewer(browser, demo, _people, state) {
  log('viewer: a flags:read token sees no triage buttons');
  const step = stepper('viewer');
  await step('the demo-app token (flags:read) sees a brief without acknowledge or propose', async () => {
    const s = await signIn(browser, demo.base, demo.appToken, 'demo-app (flags:read)');
    try {
      const id = state.briefId ?? (await anyBrief(demo));
      await open(s.page, demo.base, `/briefs/${id}`);
      await need(s.page, 'h1', 'the brief\'s heading');
      for (const b of ['acknowledge', 'propose']) {
        const n = await s.page.locator(`[data-test="${b}"]`).count();
        if (n > 0) fail(`a flags:read viewer sees ${n} [data-test="${b}"] on /briefs/${id}`);
      }
    } finally {
      await s.context.close();
    }
  });
}

async function csrf(browser, demo, people, state) {
  log('csrf: form posts without the token, or from another site, are refused');
  const step = stepper('csrf');
  const check = stepper('csrf', true);
  const base = demo.base;
  const s = await step('alice signs in for the CSRF checks', () => signIn(browser, base, people.alice, 'alice'));
  try {
    const id = state.otherBriefId ?? (await anyBrief(demo, 'new'));
    const token = await step('alice\'s session has a CSRF token in the page\'s forms', async () => {
      const v = await s.page.locator('input[type="hidden"][name="csrf"]').first().inputValue().catch(() => '');
      if (!v) fail('no input[name="csrf"] on the inbox (the sign-out form carries one)');
      return v;
    });
    const before = await briefStatus(demo, id);
    const post = (form, origin) => s.context.request.post(`${base}/briefs/${id}/acknowledge`, {
      form, maxRedirects: 0, failOnStatusCode: false, headers: origin ? { origin } : {},
    });
    const refused = async (what, form, origin) => {
      const r = await post(form, origin);
      if (r.status() !== 403) {
        const hint = { 404: ' — route not built?', 405: ' — route not built?', 422: ' (the form extractor refused the missing field before the CSRF check)' }[r.status()] || '';
        fail(`${what}: POST /briefs/${id}/acknowledge answered ${r.status()}, not 403${hint}`);
      }
      const after = await briefStatus(demo, id);
      if (after !== before) fail(`${what}: brief ${id} went from ${before} to ${after} although the post was refused`);
    };
    await check('sign-out without csrf is refused (403) and the session survives', async () => {
      const r = await s.context.request.post(`${base}/signout`, { form: {}, maxRedirects: 0, failOnStatusCode: false, headers: { origin: base } });
      if (r.status() !== 403) {
        fail(`POST /signout without csrf answered ${r.status()}, not 403${r.status() === 422
          ? ' (the form extractor refused the missing field before the CSRF check: make `csrf` optional and let check_csrf answer 403)' : ''}`);
      }
      await open(s.page, base, '/');
      if (new URL(s.page.url()).pathname !== '/') fail(`after the refused sign-out, / led to ${s.page.url()}`);
    });
    await check(`no csrf field, Origin https://evil.example: 403, brief ${id} unchanged`, () =>
      refused('no csrf, other origin', {}, 'https://evil.example'));
    await check('no csrf field, same origin: 403, unchanged', () => refused('no csrf, same origin', {}, base));
    await check('a wrong csrf value, same origin: 403, unchanged', () => refused('wrong csrf', { csrf: 'x'.repeat(token.length) }, base));
    await check('the right csrf value but Origin https://evil.example: 403, unchanged', () =>
      refused('right csrf, other origin', { csrf: token }, 'https://evil.example'));
    await check('in the browser itself: a same-origin form without csrf is refused (403)', async () => {
      const [response] = await Promise.all([
        s.page.waitForNavigation({ waitUntil: 'load' }),
        s.page.evaluate((target) => {
          const f = document.createElement('form');
          f.method = 'post';
          f.action = target;
          document.body.append(f);
          f.submit();
        }, `/briefs/${id}/acknowledge`),
      ]);
      if (response.status() !== 403) fail(`answered ${response.status()}, not 403`);
      const after = await briefStatus(demo, id);
      if (after !== before) fail(`brief ${id} went from ${before} to ${after}`);
    });
  } finally {
    await s.context.close();
  }
}

async function anyBrief(demo, status) {
  const r = await api(demo, 'GET', `/api/v1/briefs${status ? `?status=${status}` : ''}`, demo.adminToken);
  const b = (r.json || [])[0];
  if (!b) fail(`the API lists no ${status || ''} brief`);
  return b.id;
}

/** Every page at both widths: a screenshot, an <h1>, and no sideways scrolling on a phone. */
async function screenshots(browser, demo, people, state) {
  log(`screenshots: every page at ${DESKTOP.width} and ${PHONE.width} px → ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
  const briefId = state.briefId ?? (await anyBrief(demo).catch(() => 1));
  // Only this run's pictures: a page that is skipped leaves none.
  await mkdir(SHOTS, { recursive: true });
  for (const f of await readdir(SHOTS)) if (f.endsWith('.png')) await rm(path.join(SHOTS, f));
  const pages = [
    ['signin', '/signin', false],
    ['inbox', '/', true],
    ['brief', `/briefs/${briefId}`, true],
    ['decisions', '/decisions', true],
    ['routing', '/routing', true],
    ['sources', '/sources', true],
    ['summary', '/summary', true],
  ];
  for (const viewport of [DESKTOP, PHONE]) {
    const signedOut = await newContext(browser, viewport);
    let signedIn = null;
    try {
      // Alice (briefs:write, decisions:propose) sees the pages with their buttons.
      signedIn = (await signIn(browser, demo.base, people.alice, 'alice', viewport)).context;
    } catch (e) {
      failures.push(`screenshots: signing in at ${viewport.width} px: ${e.message}`);
      log(`  FAIL signing in at ${viewport.width} px: ${e.message}`);
    }
    for (const [name, url, needsSession] of pages) {
      const label = `${name} at ${viewport.width} px`;
      const context = needsSession ? signedIn : signedOut;
      if (!context) continue;
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(`script error: ${e.message}`));
      page.on('console', (m) => {
        // A missing favicon is not the page's problem; anything else (a CSP refusal, say) is.
        const where = m.location().url || '';
        if (m.type() === 'error' && !where.endsWith('/favicon.ico')) errors.push(`console: ${m.text()}${where ? ` (${where.replace(demo.base, '')})` : ''}`);
      });
      try {
        const r = await page.goto(demo.base + url);
        const status = r ? r.status() : 0;
        if (status === 404) {
          skipped += 1;
          log(`  skip ${label}: not built (GET ${url} answered 404)`);
          continue;
        }
        if (status >= 400) fail(`GET ${url} answered ${status} ("${await h1(page)}")`);
        if (needsSession && new URL(page.url()).pathname === '/signin') fail(`GET ${url} sent a signed-in person to /signin`);
        const file = `${name}-${viewport.width}.png`;
        await shot(page, file);
        const problems = [];
        if ((await page.locator('h1').count()) === 0) problems.push('no <h1>');
        if (errors.length) problems.push(errors.slice(0, 3).join('; '));
        if (viewport === PHONE) {
          const { scroll, inner, wide } = await page.evaluate(() => ({
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
            // The widest elements, to say what overflows.
            wide: [...document.querySelectorAll('body *')]
              .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
              .slice(0, 3)
              .map((e) => `${e.tagName.toLowerCase()}${e.className ? `.${String(e.className).split(' ')[0]}` : ''} (right edge ${Math.round(e.getBoundingClientRect().right)} px)`),
          }));
          if (scroll > inner + 1) problems.push(`scrolls sideways: ${scroll} px wide in a ${inner} px window; ${wide.join(', ')}`);
        }
        if (problems.length) fail(problems.join('; '));
        passed += 1;
        log(`  ok   ${label} → ${file}`);
      } catch (e) {
        const msg = e instanceof StepError ? e.message : (e.stack || String(e));
        log(`  FAIL ${label}: ${msg}`);
        failures.push(`screenshots: ${label}: ${msg.split('\n')[0]}`);
      } finally {
        await page.close();
      }
    }
    await signedOut.close();
    if (signedIn) await signedIn.close();
  }
}

/** The impact summary, printed (A4, print CSS): one or two pages, without navigation or forms. */
async function printedSummary(browser, demo, people) {
  log('print: the impact summary on paper');
  const { context } = await signIn(browser, demo.base, people.alice, 'alice', DESKTOP);
  try {
    const page = await context.newPage();
    await open(page, demo.base, '/summary');
    await page.emulateMedia({ media: 'print' });
    const hidden = await page.evaluate(() =>
      [...document.querySelectorAll('header.top, form')].every((e) => getComputedStyle(e).display === 'none'));
    if (!hidden) fail('navigation or forms still show in print');
    const pdf = await page.pdf({ format: 'A4', printBackground: false });
    await writeFile(path.join(SHOTS, 'summary-print.pdf'), pdf);
    // Each page object in the PDF is one `/Type /Page` (not `/Pages`).
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s])/g) || []).length;
    if (pages < 1 || pages > 2) fail(`the printed summary has ${pages} pages (one or two expected)`);
    passed += 1;
    log(`  ok   the printed summary is ${pages} page(s), no navigation or forms → summary-print.pdf`);
  } finally {
    await context.close();
  }
}

// ── main ────────────────────────────────────────────────────────────────────────────────────────

async function main() {
  let demo = null;
  let browser = null;
  const stop = () => { stopDemo(demo); };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  process.on('SIGTERM', () => { stop(); process.exit(143); });
  const watchdog = setTimeout(() => {
    console.error('browser tests: gave up after 10 minutes');
    stop();
    process.exit(1);
  }, 600_000);
  watchdog.unref();
  try {
    log(`starting the demo (${path.relative(process.cwd(), BIN) || BIN}) …`);
    demo = await startDemo();
    log(`demo ready at ${demo.base}`);
    const people = {
      alice: await createToken(demo, 'alice', ['decisions:propose', 'briefs:write']),
      bob: await createToken(demo, 'bob', ['decisions:approve']),
      carol: await createToken(demo, 'carol', ['decisions:approve']),
    };
    for (const [name, token] of Object.entries(people)) await waitForToken(demo, name, token);
    browser = await launch();
    log(`browser: ${CHROMIUM} ${browser.version()}`);
    const state = {};
    for (const part of [flow, viewer, csrf]) {
      try {
        await part(browser, demo, people, state);
      } catch (e) {
        if (!(e instanceof PartStopped)) {
          const msg = e instanceof StepError ? e.message : (e.stack || String(e));
          log(`  FAIL ${part.name}: ${msg}`);
          failures.push(`${part.name}: ${msg.split('\n')[0]}`);
        }
      }
    }
    await screenshots(browser, demo, people, state);
    try {
      await printedSummary(browser, demo, people);
    } catch (e) {
      const msg = e instanceof StepError ? e.message : (e.stack || String(e));
      log(`  FAIL print: ${msg}`);
      failures.push(`print: ${msg.split('\n')[0]}`);
    }
  } catch (e) {
    const msg = e instanceof StepError ? e.message : (e.stack || String(e));
    failures.push(`setup: ${msg.split('\n')[0]}`);
    log(`FAIL setup: ${msg}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    stop();
  }
  log(`browser tests: ${passed} passed, ${failures.length} failed${skipped ? `, ${skipped} screenshots skipped (pages not built)` : ''}`);
  if (failures.length) {
    console.error(`browser tests failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(1);
  }
}

await main();
