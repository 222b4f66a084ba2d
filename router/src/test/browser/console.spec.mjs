// The web console in a real browser: Debian's Chromium driven by playwright-core (no browser
// download). ConsoleBrowserTest starts the router and its replicas, creates the data and passes
// what the pages must show (figures read from gRPC GetResults) in EXPECTED_FILE. Exits 1 with the
// first failed check; screenshots go to SCREENSHOT_DIR.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.CONSOLE_URL;
const adminToken = process.env.ADMIN_TOKEN;
const expected = JSON.parse(readFileSync(process.env.EXPECTED_FILE, 'utf8'));
const shots = process.env.SCREENSHOT_DIR;
const TIMEOUT = 30_000;

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function close(actual, wanted, what) {
  const a = Number(actual);
  const w = Number(wanted);
  check(Math.abs(a - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${what}: page shows ${actual}, GetResults has ${wanted}`);
}

const profile = mkdtempSync(join(tmpdir(), 'trellis-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const problems = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // refused actions answer 401/403 on purpose; the browser logs each failed fetch
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });

  // ---- experiment results: the same figures as GetResults, the interval plot, the history
  await page.goto(`${url}/#/experiments/${encodeURIComponent(expected.experiment)}`);
  await page.waitForSelector('#results-table tbody tr');
  for (const v of expected.variants) {
    const row = page.locator(`#results-table tr[data-variant="${v.variant}"]`);
    check(await row.locator('[data-field="units"]').innerText() === v.unitsText, `units of ${v.variant} are ${v.unitsText}`);
    check(await row.locator('[data-field="conversions"]').innerText() === v.conversionsText, `conversions of ${v.variant} are ${v.conversionsText}`);
    close(await row.locator('[data-field="mean"]').getAttribute('data-value'), v.mean, `rate of ${v.variant}`);
    check((await row.locator('[data-field="mean"]').innerText()).endsWith('%'), 'the rate is shown in percent');
    check(await row.locator('.progress').count() === 1, `a sample-size progress bar for ${v.variant}`);
  }
  for (const c of expected.comparisons) {
    const box = page.locator(`.comparison[data-variant="${c.variant}"]`);
    close(await box.locator('[data-field="absoluteLift"]').getAttribute('data-value'), c.absoluteLift, 'absolute lift');
    close(await box.locator('[data-field="relativeLift"]').getAttribute('data-value'), c.relativeLift, 'relative lift');
    close(await box.locator('[data-field="pValue"]').getAttribute('data-value'), c.pValue, 'p-value');
    const plot = page.locator(`svg#interval-${c.variant}.interval-plot`);
    check(await plot.count() === 1, `an interval plot for ${c.variant}`);
    close(await plot.getAttribute('data-lower'), c.absoluteLiftLower * 100, 'interval lower end (pp)');
    close(await plot.getAttribute('data-upper'), c.absoluteLiftUpper * 100, 'interval upper end (pp)');
    check(await plot.locator('line.zero').count() === 1 && await plot.locator('line.interval').count() === 1, 'the plot draws zero and the interval');
  }
  check(await page.locator('#recommendation').getAttribute('data-value') === expected.recommendation, `recommendation ${expected.recommendation}`);
  check((await page.locator('#recommendation').innerText()).includes(expected.explanation), 'the recommendation in words');
  close(await page.locator('#srm').getAttribute('data-value'), expected.srmPValue, 'SRM p-value');
  check(await page.locator('#required').getAttribute('data-value') === String(expected.required), 'required sample size');
  check((await page.locator('#history .revision h3').first().innerText()).includes(expected.actor), 'the history names who changed it');
  check(await page.locator('#history pre.diff .add').count() > 0, 'the history shows the definition as a diff');
  await page.screenshot({ path: join(shots, 'experiment.png'), fullPage: true });
  await page.screenshot({ path: join(shots, 'experiment-top.png'), clip: { x: 0, y: 0, width: 1280, height: 640 } });

  // ---- models: readiness per replica
  await page.goto(`${url}/#/models`);
  await page.waitForSelector(`section.model[data-model="${expected.experimentModel}"]`);
  for (const replica of expected.replicas) {
    const cell = page.locator(`section.model[data-model="${expected.experimentModel}"] tr[data-version="1"] .replica[data-replica="${replica}"]`);
    check(await cell.getAttribute('data-state') === 'READY', `version 1 READY on ${replica}`);
  }
  const auc = await page.locator(`section.model[data-model="${expected.experimentModel}"] tr[data-version="1"] .metrics span`).getAttribute('data-auc');
  close(auc, expected.bundleAuc, 'the bundle test AUC of version 1');
  await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });

  // ---- rollout: the page follows a change made elsewhere without a reload (here: a pause through
  // the JSON API with curl's equivalent); an action without a token is refused, with it it works
  await page.goto(`${url}/#/rollouts/${encodeURIComponent(expected.rolloutModel)}`);
  await page.waitForSelector('#rollout-timeline g.event[data-event-type="ADVANCED"]');
  const loads = [];
  page.on('load', () => loads.push(Date.now()));
  const paused = await fetch(`${url}/api/v1/PauseRollout`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: expected.rolloutModel, reason: 'paused through the JSON API' }),
  });
  check(paused.status === 200, `PauseRollout over the JSON API answers 200, not ${paused.status}`);
  await page.waitForSelector('#rollout-timeline g.event[data-event-type="PAUSED"]');
  check(loads.length === 0, 'the page refreshed without reloading');
  await page.click('#resume-rollout');
  await page.click('#confirm-ok');
  await page.waitForSelector('#result.error');
  const refused = await page.locator('#result').innerText();
  check(refused.includes('401') && refused.includes('UNAUTHENTICATED'), `the refusal names 401 UNAUTHENTICATED: ${refused}`);
  check(await page.locator('#rollout-timeline g.event[data-event-type="RESUMED"]').count() === 0, 'nothing happened without a token');

  await page.fill('#token-input', adminToken);
  await page.fill('#actor-input', expected.browserActor);
  await page.click('#token-use');
  await page.waitForSelector('#token-forget:not([hidden])');
  check(!page.url().includes(adminToken), 'the token is not in the URL');
  check((await context.cookies()).length === 0, 'the console sets no cookie');
  await page.click('#abort-rollout');
  await page.fill('#confirm-fields input[name="reason"]', expected.abortReason);
  await page.click('#confirm-ok');
  await page.waitForSelector('#result.ok');
  const aborted = await page.locator('#result').innerText();
  check(aborted.includes('ABORTED') && aborted.includes('revision'), `the result shows the new state and revision: ${aborted}`);
  await page.waitForSelector('#rollout-timeline g.event[data-event-type="ABORTED"]');
  check((await page.locator('#events tr.event-ABORTED').innerText()).includes(expected.abortReason), 'the abort event carries the reason');
  await page.screenshot({ path: join(shots, 'rollout.png'), fullPage: true });

  // ---- monitoring: drift per feature and live performance per version
  await page.goto(`${url}/#/monitoring/${encodeURIComponent(expected.experimentModel)}?metric=${encodeURIComponent(expected.metric)}`);
  await page.waitForSelector('#drift .version-drift');
  await page.waitForSelector('#performance .version-performance');
  check(await page.locator('#drift .version-drift[data-version="1"]').count() === 1, 'drift of version 1');
  await page.screenshot({ path: join(shots, 'monitoring.png'), fullPage: true });
  // a model without payload samples: the page says what is missing and how to get it
  await page.goto(`${url}/#/monitoring/${encodeURIComponent(expected.rolloutModel)}?metric=${encodeURIComponent(expected.metric)}`);
  await page.waitForSelector(`div[data-model="${expected.rolloutModel}"] #performance .missing`);
  check((await page.locator('#performance .missing').innerText()).includes(`--payload-sample-rate ${expected.rolloutModel}=`),
    'the missing payload samples are named with the flag that turns them on');

  // ---- stop the experiment with a winner, with the token set earlier in this tab
  await page.goto(`${url}/#/experiments/${encodeURIComponent(expected.experiment)}`);
  await page.click('#stop-experiment');
  await page.selectOption('#confirm-fields select[name="winner"]', expected.winner);
  await page.click('#confirm-ok');
  await page.waitForSelector('#result.ok');
  const stopped = await page.locator('#result').innerText();
  check(stopped.includes('STOPPED') && stopped.includes(`winner ${expected.winner}`), `the stop shows its revision: ${stopped}`);
  check(problems.length === 0, problems.join('; '));
  console.log('console browser test: every check passed');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
