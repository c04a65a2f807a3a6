// e2e.mjs: the dashboard in Debian's chromium against a real hub, driven by playwright-core.
// Started by the Go test TestBrowser (browser_test.go), which runs the hub, the API, the
// dashboard and a simulated agent, and passes NESS_E2E (JSON: url, control, artifacts, chromium,
// providerKeyFile, providerSeed, numDE, numGB, agent). Prints "E2E OK" and the figures at the end;
// any failed check exits 1 with the reason and a screenshot.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = JSON.parse(process.env.NESS_E2E || '{}');
const shots = [];
const figures = {};
let page;

function check(ok, msg) { if (!ok) throw new Error(`check failed: ${msg}`); }
async function shot(name) {
  const p = join(cfg.artifacts, `${name}.png`);
  await page.screenshot({ path: p, fullPage: true });
  shots.push(p);
}
async function control(what, params = {}) {
  const r = await fetch(`${cfg.control}/${what}?${new URLSearchParams(params)}`);
  const j = await r.json();
  check(!j.error, `control ${what}: ${j.error}`);
  return j;
}
const T = 15000;

// ---- network log: every request (URL, headers, body) and every WebSocket frame sent ----
const sent = [];
function logNetwork(ctx) {
  ctx.on('request', (req) => {
    sent.push({ kind: 'request', method: req.method(), url: req.url(), headers: JSON.stringify(req.headers()), body: req.postDataBuffer()?.toString('latin1') ?? '' });
  });
  const watch = (p) => p.on('websocket', (ws) => {
    sent.push({ kind: 'websocket', url: ws.url(), body: '' });
    ws.on('framesent', (f) => sent.push({ kind: 'frame', url: ws.url(), body: typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1') }));
  });
  ctx.pages().forEach(watch);
  ctx.on('page', watch);
}

/** forms of a 32-byte seed as text: base64 std/url, padded or not, hex, and the 64-byte libsodium form. */
function secretForms(seedB64, verifyB64) {
  const seed = Buffer.from(seedB64, 'base64');
  const forms = new Set();
  for (const b of [seed, Buffer.concat([seed, Buffer.from(verifyB64 ?? '', 'base64')])]) {
    const std = b.toString('base64');
    forms.add(std); forms.add(std.replace(/=+$/, ''));
    const url = b.toString('base64url'); forms.add(url);
    forms.add(b.toString('hex'));
    forms.add(b.toString('latin1'));
  }
  // The first 24 characters of a form already identify it: catch partial copies too.
  return [...forms].filter((f) => f.length >= 24).map((f) => f.slice(0, 24));
}
function leaks(entries, forms) {
  const found = [];
  for (const e of entries) {
    const hay = `${e.url}\n${e.headers ?? ''}\n${e.body}`;
    if (forms.some((f) => hay.includes(f))) found.push(`${e.kind} ${e.method ?? ''} ${e.url}`);
  }
  return found;
}

async function main() {
  const userDir = mkdtempSync(join(tmpdir(), 'ness-chromium-'));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: cfg.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  try {
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cfg.url });
    page = ctx.pages()[0] ?? await ctx.newPage();
    logNetwork(ctx);
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await run(ctx);
    const unexpected = consoleErrors.filter((e) => !/status of 40[14]/.test(e));
    check(unexpected.length === 0, `errors in the page: ${unexpected.join(' | ')}`);
  } catch (e) {
    if (page) await shot('failure').catch(() => {});
    throw e;
  } finally {
    writeFileSync(join(cfg.artifacts, 'network.json'), JSON.stringify(sent, null, 1));
    await ctx.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

async function run(ctx) {
  const origin = new URL(cfg.url).origin;
  await page.goto(cfg.url);
  await page.waitForSelector('html[data-ready="1"]', { timeout: T });

  // Accessibility: every control has an accessible name; landmarks and headings exist.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, button, textarea')]
    .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())))
    .map((e) => e.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, `controls without a label: ${unnamed.join(', ')}`);
  check(await page.locator('main').count() === 1 && await page.locator('nav[aria-label]').count() === 1, 'main and labelled nav landmarks');

  // Keyboard only: Tab from the top reaches the skip link, the five sections, then the key name;
  // Enter submits the form and creates a key.
  const order = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim());
    order.push(id);
    if (id === 'key-name') break;
  }
  check(order[0] === 'Skip to content', `first Tab stop is the skip link, got ${order[0]}`);
  check(order.join(',') === 'Skip to content,Keys,Numbers,Rentals,Messages,Provider,key-name', `focus order ${order.join(' → ')}`);
  await page.keyboard.type('renter');
  await page.keyboard.press('Enter');
  const renterRow = page.locator('#key-table tbody tr', { hasText: 'renter' });
  await renterRow.waitFor({ timeout: T });
  const renterVerify = (await renterRow.locator('code').first().textContent()).trim();

  // Export: the file is a ness-key with the private seed; it is the only place the seed shows.
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.getByRole('button', { name: 'Export renter' }).click()]);
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
  check(exported.format === 'ness-key' && exported.version === 1 && exported.verify === renterVerify && exported.private?.length === 44, `exported key file ${JSON.stringify({ ...exported, private: '…' })}`);
  writeFileSync(join(cfg.artifacts, 'exported-public.json'), JSON.stringify({ ...exported, private: undefined }, null, 2));

  // Sign in by challenge.
  await page.getByRole('button', { name: 'Sign in with renter' }).click();
  await page.locator('#who', { hasText: 'Signed in as renter' }).waitFor({ timeout: T });
  await shot('01-keys-signed-in');

  // Numbers: filters by country, feature and price reach the API and change the list.
  await page.getByRole('link', { name: 'Numbers' }).click();
  const rows = page.locator('#number-table tbody tr');
  await rows.first().waitFor({ timeout: T });
  await page.waitForFunction(() => document.querySelectorAll('#number-table tbody tr').length === 2, null, { timeout: T });
  await page.getByLabel('Country (2 letters)').fill('GB');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction((n) => { const r = document.querySelectorAll('#number-table tbody tr'); return r.length === 1 && r[0].textContent.includes(n); }, cfg.numGB, { timeout: T });
  await page.getByLabel('Country (2 letters)').fill('');
  await page.getByLabel('Feature').fill('long-sms');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction((n) => { const r = document.querySelectorAll('#number-table tbody tr'); return r.length === 1 && r[0].textContent.includes(n); }, cfg.numDE, { timeout: T });
  await page.getByLabel('Feature').fill('');
  await page.getByLabel('Highest price per day (EMC)').fill('0.5');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#number-table tbody tr', { hasText: 'No numbers match' }).waitFor({ timeout: T });
  await page.getByLabel('Highest price per day (EMC)').fill('1.5');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction((n) => { const r = document.querySelectorAll('#number-table tbody tr'); return r.length === 1 && r[0].textContent.includes(n); }, cfg.numDE, { timeout: T });
  await shot('02-numbers-filtered');

  // Rent for a day, then extend by a week.
  await page.getByLabel(`Rental period for ${cfg.numDE}`).selectOption('daily');
  await page.getByRole('button', { name: `Rent ${cfg.numDE}` }).click();
  const rental = page.locator('#rental-table tbody tr', { hasText: cfg.numDE });
  await rental.waitFor({ timeout: T });
  const rtext = await rental.textContent();
  check(rtext.includes('active') && rtext.includes('seals to your key'), `rental row: ${rtext}`);
  const until1 = await rental.locator('td').nth(1).textContent();
  await page.getByLabel(`Extend ${cfg.numDE} by`).selectOption('weekly');
  await page.getByRole('button', { name: `Extend ${cfg.numDE}` }).click();
  await page.locator('#notice', { hasText: 'Extended' }).waitFor({ timeout: T });
  await page.waitForFunction(([n, u]) => { const r = [...document.querySelectorAll('#rental-table tbody tr')].find((x) => x.textContent.includes(n)); return r && r.children[2].textContent !== u; }, [cfg.numDE, until1], { timeout: T });
  await shot('03-rentals-extended');

  // Messages: live over the WebSocket, verified and opened in the browser.
  await page.getByRole('link', { name: 'Messages' }).click();
  await page.locator('#stream-state', { hasText: 'Live' }).waitFor({ timeout: T });
  const latencies = [];
  for (let i = 0; i < 3; i++) {
    const code = String(482913 + i * 1111);
    const text = `Your verification code is ${code}. Do not share it. #${i}`;
    // A MutationObserver notes the moment the decrypted text is in the document.
    await page.evaluate((t) => {
      window.__seen = undefined;
      const mo = new MutationObserver(() => {
        if ([...document.querySelectorAll('#message-list li.msg.good')].some((li) => li.textContent.includes(t))) { window.__seen = Date.now(); mo.disconnect(); }
      });
      mo.observe(document.querySelector('#message-list'), { childList: true, subtree: true, characterData: true });
    }, text);
    const { injected_ms } = await control('inject', { text });
    await page.waitForFunction(() => window.__seen !== undefined, null, { timeout: T, polling: 20 });
    latencies.push(await page.evaluate(() => window.__seen) - injected_ms);
  }
  figures.sms_injection_to_screen_ms = latencies;
  check(Math.max(...latencies) < 2000, `SMS on screen within 2 s of injection, took ${latencies.join(', ')} ms`);
  const first = page.locator('#message-list li.msg.good').first();
  const ftext = await first.textContent();
  check(ftext.includes('+4917099990000') && ftext.includes('Verified in your browser') && ftext.includes(cfg.agent), `message card: ${ftext}`);
  check(await page.locator('#message-list li.msg.bad').count() === 0, 'no rejected messages');
  // Copy the one-time code with the keyboard.
  await first.getByRole('button', { name: /^Copy code / }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#notice', { hasText: 'copied' }).waitFor({ timeout: T });
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  check(clip === String(482913 + 2 * 1111), `clipboard holds ${clip}`);
  await shot('04-messages-decrypted');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('05-messages-phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A reload keeps the key and the session (IndexedDB) and the stream replays the messages.
  await page.reload();
  await page.waitForSelector('html[data-ready="1"]', { timeout: T });
  await page.locator('#who', { hasText: 'Signed in as renter' }).waitFor({ timeout: T });
  await page.waitForFunction(() => document.querySelectorAll('#message-list li.msg.good').length === 3, null, { timeout: T });

  // PWA: the manifest is linked and served.
  const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
  check(manifest.display === 'standalone' && manifest.icons.length >= 1 && manifest.start_url, 'installable manifest');

  // Provider: import the PrivatenessTools key file, sign in, see agents, slots, numbers, earnings.
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByLabel(/Import a key file/).setInputFiles(cfg.providerKeyFile);
  await page.locator('#notice', { hasText: 'privateness-user' }).waitFor({ timeout: T });
  await page.getByRole('button', { name: 'Sign in with provider' }).click();
  await page.locator('#who', { hasText: 'Signed in as provider' }).waitFor({ timeout: T });
  await page.goto(`${cfg.url}/?refresh=1#provider`);
  await page.waitForSelector('html[data-ready="1"]', { timeout: T });
  const slot0 = page.locator(`table.agent[data-agent="${cfg.agent}"] tr[data-slot="0"]`);
  await slot0.waitFor({ timeout: T });
  let s0 = await slot0.textContent();
  check(s0.includes('✓ Healthy') && s0.includes('-67 dBm') && s0.includes('✓ signed by the agent'), `healthy slot 0: ${s0}`);
  await page.locator('#pnumber-table tbody tr', { hasText: cfg.numDE }).filter({ hasText: 'rented' }).waitFor({ timeout: T });
  const earned = await page.locator('#earnings-total').textContent();
  check(/Total earned: 6\.0+ EMC from 2 payment/.test(earned), `earnings (1 EMC day + 5 EMC week): ${earned}`);
  await control('healthy');
  // The modem hangs: the agent reports the slot as recovering; the page shows it unhealthy.
  const { at_ms } = await control('hang');
  await page.waitForFunction(() => document.querySelector('tr[data-slot="0"]')?.classList.contains('unhealthy'), null, { timeout: T, polling: 20 });
  figures.hang_to_unhealthy_ms = (await page.evaluate(() => Date.now())) - at_ms;
  s0 = await slot0.textContent();
  check(s0.includes('Unhealthy: recovering') && s0.includes('✓ signed by the agent'), `unhealthy slot 0: ${s0}`);
  check((await slot0.locator('td').nth(4).textContent()).trim() === '2', `outbox depth from the signed status: ${s0}`);
  const s1 = await page.locator(`table.agent[data-agent="${cfg.agent}"] tr[data-slot="1"]`).textContent();
  check(s1.includes('✓ Healthy'), `slot 1 stays healthy: ${s1}`);
  await page.waitForFunction(() => document.querySelectorAll('#charts svg.chart').length === 2 && document.querySelectorAll('#charts polyline').length >= 2, null, { timeout: T });
  // Change a price.
  await page.getByLabel(`Price per day for ${cfg.numGB} (EMC)`).fill('2.5');
  await page.getByRole('button', { name: `Save price for ${cfg.numGB}` }).click();
  await page.locator('#pnumber-table tbody tr', { hasText: cfg.numGB }).filter({ hasText: '2.500000 /' }).waitFor({ timeout: T });
  await shot('06-provider-unhealthy');

  // Nothing went anywhere but the hub, and no private key left the page.
  const foreign = sent.filter((e) => !e.url.startsWith(origin) && !e.url.startsWith(origin.replace('http', 'ws')) && !e.url.startsWith('blob:') && !e.url.startsWith('data:'));
  check(foreign.length === 0, `requests to other origins: ${foreign.map((e) => e.url).join(', ')}`);
  check(sent.filter((e) => e.kind === 'websocket').length >= 2, 'the WebSockets (before and after the reload) were seen by the network log');
  check(sent.filter((e) => e.method === 'POST').length >= 6, 'the network log saw the POST bodies');
  const forms = [...secretForms(exported.private, exported.verify), ...secretForms(cfg.providerSeed)];
  // The detector must find a key where one is: plant one and look.
  check(leaks([{ kind: 'planted', url: '', body: `{"x":"${exported.private.replace(/=+$/, '')}"}` }], forms).length === 1, 'leak detector finds a planted key');
  const found = leaks(sent, forms);
  check(found.length === 0, `private key found in: ${found.join(', ')}`);
  figures.requests_checked = sent.length;
  figures.screenshots = shots.length;
}

main().then(() => {
  console.log(`FIGURES ${JSON.stringify(figures)}`);
  console.log('E2E OK');
}, (e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
