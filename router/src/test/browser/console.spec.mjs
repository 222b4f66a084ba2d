// The web console in a real browser, BROWSER=chromium (Debian's Chromium through playwright-core)
// or BROWSER=firefox (Debian's Firefox ESR through puppeteer-core), started from
// BROWSER_EXECUTABLE; the checks are written once against drivers.mjs. ConsoleBrowserTest starts
// the router and its replicas, creates this browser's own experiment and rollout and passes what
// the pages must show (figures read from gRPC GetResults) in EXPECTED_FILE. Exits 1 with the
// first failed check; screenshots go to SCREENSHOT_DIR.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './drivers.mjs';

const url = process.env.CONSOLE_URL;
const adminToken = process.env.ADMIN_TOKEN;
const expected = JSON.parse(readFileSync(process.env.EXPECTED_FILE, 'utf8'));
const shots = process.env.SCREENSHOT_DIR;
const TIMEOUT = 30_000;
rmSync(join(shots, 'failure.png'), { force: true }); // an earlier failed run's

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function close(actual, wanted, what) {
  const a = Number(actual);
  const w = Number(wanted);
  check(Math.abs(a - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${what}: page shows ${actual}, GetResults has ${wanted}`);
}

const page = await launch(process.env.BROWSER, process.env.BROWSER_EXECUTABLE, TIMEOUT);
console.log(`${process.env.BROWSER}: ${page.version}`);
const problems = [];
try {
  page.onPageError((message) => problems.push(`page error: ${message}`));
  page.onConsoleError((text) => {
    // refused actions answer 401/403 on purpose; Chromium logs each failed fetch
    if (!text.startsWith('Failed to load resource')) problems.push(`console error: ${text}`);
  });

  // ---- experiment results: the same figures as GetResults, the interval plot, the history
  await page.goto(`${url}/#/experiments/${encodeURIComponent(expected.experiment)}`);
  await page.waitFor('#results-table tbody tr');
  for (const v of expected.variants) {
    const row = `#results-table tr[data-variant="${v.variant}"]`;
    check(await page.text(`${row} [data-field="units"]`) === v.unitsText, `units of ${v.variant} are ${v.unitsText}`);
    check(await page.text(`${row} [data-field="conversions"]`) === v.conversionsText, `conversions of ${v.variant} are ${v.conversionsText}`);
    close(await page.attr(`${row} [data-field="mean"]`, 'data-value'), v.mean, `rate of ${v.variant}`);
    check((await page.text(`${row} [data-field="mean"]`)).endsWith('%'), 'the rate is shown in percent');
    check(await page.count(`${row} .progress`) === 1, `a sample-size progress bar for ${v.variant}`);
  }
  for (const c of expected.comparisons) {
    const box = `.comparison[data-variant="${c.variant}"]`;
    close(await page.attr(`${box} [data-field="absoluteLift"]`, 'data-value'), c.absoluteLift, 'absolute lift');
    close(await page.attr(`${box} [data-field="relativeLift"]`, 'data-value'), c.relativeLift, 'relative lift');
    close(await page.attr(`${box} [data-field="pValue"]`, 'data-value'), c.pValue, 'p-value');
    const plot = `svg#interval-${c.variant}.interval-plot`;
    check(await page.count(plot) === 1, `an interval plot for ${c.variant}`);
    close(await page.attr(plot, 'data-lower'), c.absoluteLiftLower * 100, 'interval lower end (pp)');
    close(await page.attr(plot, 'data-upper'), c.absoluteLiftUpper * 100, 'interval upper end (pp)');
    check(await page.count(`${plot} line.zero`) === 1 && await page.count(`${plot} line.interval`) === 1, 'the plot draws zero and the interval');
  }
  check(await page.attr('#recommendation', 'data-value') === expected.recommendation, `recommendation ${expected.recommendation}`);
  check((await page.text('#recommendation')).includes(expected.explanation), 'the recommendation in words');
  close(await page.attr('#srm', 'data-value'), expected.srmPValue, 'SRM p-value');
  check(await page.attr('#required', 'data-value') === String(expected.required), 'required sample size');
  check((await page.firstText('#history .revision h3')).includes(expected.actor), 'the history names who changed it');
  check(await page.count('#history pre.diff .add') > 0, 'the history shows the definition as a diff');
  await page.screenshot(join(shots, 'experiment.png'), { fullPage: true });
  await page.screenshot(join(shots, 'experiment-top.png'), { clip: { x: 0, y: 0, width: 1280, height: 640 } });

  // ---- models: readiness per replica
  const model = `section.model[data-model="${expected.experimentModel}"]`;
  await page.goto(`${url}/#/models`);
  await page.waitFor(model);
  for (const replica of expected.replicas) {
    check(await page.attr(`${model} tr[data-version="1"] .replica[data-replica="${replica}"]`, 'data-state') === 'READY', `version 1 READY on ${replica}`);
  }
  close(await page.attr(`${model} tr[data-version="1"] .metrics span`, 'data-auc'), expected.bundleAuc, 'the bundle test AUC of version 1');
  await page.screenshot(join(shots, 'models.png'), { fullPage: true });

  // ---- rollout: the page follows a change made elsewhere without a reload (here: a pause through
  // the JSON API with curl's equivalent); an action without a token is refused, with it it works
  await page.goto(`${url}/#/rollouts/${encodeURIComponent(expected.rolloutModel)}`);
  await page.waitFor('#rollout-timeline g.event[data-event-type="ADVANCED"]');
  const loads = [];
  page.onLoad(() => loads.push(Date.now()));
  const paused = await fetch(`${url}/api/v1/PauseRollout`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: expected.rolloutModel, reason: 'paused through the JSON API' }),
  });
  check(paused.status === 200, `PauseRollout over the JSON API answers 200, not ${paused.status}`);
  await page.waitFor('#rollout-timeline g.event[data-event-type="PAUSED"]');
  check(loads.length === 0, 'the page refreshed without reloading');
  await page.click('#resume-rollout');
  await page.click('#confirm-ok');
  await page.waitFor('#result.error');
  const refused = await page.text('#result');
  check(refused.includes('401') && refused.includes('UNAUTHENTICATED'), `the refusal names 401 UNAUTHENTICATED: ${refused}`);
  check(await page.count('#rollout-timeline g.event[data-event-type="RESUMED"]') === 0, 'nothing happened without a token');

  await page.fill('#token-input', adminToken);
  await page.fill('#actor-input', expected.browserActor);
  await page.click('#token-use');
  await page.waitFor('#token-forget:not([hidden])');
  check(!page.url().includes(adminToken), 'the token is not in the URL');
  check((await page.cookies()).length === 0, 'the console sets no cookie');
  await page.click('#abort-rollout');
  await page.fill('#confirm-fields input[name="reason"]', expected.abortReason);
  await page.click('#confirm-ok');
  await page.waitFor('#result.ok');
  const aborted = await page.text('#result');
  check(aborted.includes('ABORTED') && aborted.includes('revision'), `the result shows the new state and revision: ${aborted}`);
  await page.waitFor('#rollout-timeline g.event[data-event-type="ABORTED"]');
  check((await page.text('#events tr.event-ABORTED')).includes(expected.abortReason), 'the abort event carries the reason');
  await page.screenshot(join(shots, 'rollout.png'), { fullPage: true });

  // ---- monitoring: drift per feature and live performance per version
  await page.goto(`${url}/#/monitoring/${encodeURIComponent(expected.experimentModel)}?metric=${encodeURIComponent(expected.metric)}`);
  await page.waitFor('#drift .version-drift');
  await page.waitFor('#performance .version-performance');
  check(await page.count('#drift .version-drift[data-version="1"]') === 1, 'drift of version 1');
  await page.screenshot(join(shots, 'monitoring.png'), { fullPage: true });
  // a model without payload samples: the page says what is missing and how to get it
  await page.goto(`${url}/#/monitoring/${encodeURIComponent(expected.rolloutModel)}?metric=${encodeURIComponent(expected.metric)}`);
  await page.waitFor(`div[data-model="${expected.rolloutModel}"] #performance .missing`);
  check((await page.text('#performance .missing')).includes(`--payload-sample-rate ${expected.rolloutModel}=`),
    'the missing payload samples are named with the flag that turns them on');

  // ---- stop the experiment with a winner, with the token set earlier in this tab
  await page.goto(`${url}/#/experiments/${encodeURIComponent(expected.experiment)}`);
  await page.click('#stop-experiment');
  await page.select('#confirm-fields select[name="winner"]', expected.winner);
  await page.click('#confirm-ok');
  await page.waitFor('#result.ok');
  const stopped = await page.text('#result');
  check(stopped.includes('STOPPED') && stopped.includes(`winner ${expected.winner}`), `the stop shows its revision: ${stopped}`);
  check(problems.length === 0, problems.join('; '));
  console.log(`console browser test in ${process.env.BROWSER}: every check passed`);
} catch (e) {
  // what the page showed when a check or an action failed, next to the other screenshots
  await page.screenshot(join(shots, 'failure.png'), { fullPage: true }).catch(() => {});
  throw e;
} finally {
  await page.close();
}
