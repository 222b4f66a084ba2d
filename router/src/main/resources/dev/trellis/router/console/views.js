// The pages. Each one reads through the JSON API and returns the DOM to show; console.js calls it
// again on every refresh. Actions go through ctx.act, which asks for confirmation first.
import { call, maybe } from './api.js';
import { bar, calibrationPlot, h, intervalPlot, progress, timeline } from './charts.js';
import { int, lineDiff, num, pct, pp, prettyJson, pvalue, signedPct, time } from './format.js';

const GUARDRAIL_DEFAULTS = { maxErrorRateIncrease: 0.01, maxP99LatencyRatio: 1.5, maxScorePsi: 0.2 };

const badge = (text, kind = '') => h('span', { class: `badge ${kind}` }, text);
const facts = (pairs) => h('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const table = (head, rows, attrs = {}) => h('table', attrs,
  h('thead', {}, h('tr', {}, head.map((c) => (typeof c === 'string' ? h('th', {}, c) : c)))),
  h('tbody', {}, rows));
const numTh = (text) => h('th', { class: 'num' }, text);
const numTd = (text, attrs = {}) => h('td', { class: 'num', ...attrs }, text);
const link = (href, text) => h('a', { href }, text);

function statusBadge(status) {
  const kinds = { RUNNING: 'good', DRAFT: 'info', STOPPED: '', PROGRESSING: 'good', PAUSED: 'warn', ABORTED: 'bad', PROMOTED: 'info' };
  return badge(status || 'UNSPECIFIED', kinds[status] || '');
}

// ------------------------------------------------------------------------------------------ models

export async function models(params, ctx) {
  const { models: list = [] } = await call('ListModels');
  if (list.length === 0) return h('div', {}, h('h1', {}, 'Models'), h('p', { class: 'muted' }, 'No replica reports a model yet.'));
  return h('div', {}, h('h1', {}, 'Models'), list.map((m) => modelCard(m, ctx)));
}

function modelCard(model, ctx) {
  const rows = model.versions.map((v) => {
    const isDefault = v.version === model.defaultVersion;
    return h('tr', { 'data-model': model.name, 'data-version': v.version },
      h('td', {}, h('strong', {}, v.version), isDefault ? [' ', badge('default', 'info')] : null),
      h('td', {}, (v.targetKind || '').replace('TARGET_KIND_', '').toLowerCase()),
      h('td', {}, v.desired ? v.holders.map((x) => badge(holderText(x), 'info')) : h('span', { class: 'muted' }, 'not held')),
      h('td', {}, v.replicas.map((r) => h('div', { class: 'replica', 'data-replica': r.replica, 'data-state': r.state },
        badge(r.state, r.ready ? 'good' : r.state === 'ABSENT' ? '' : 'bad'), ' ', r.replica,
        r.reason ? h('span', { class: 'muted' }, ` — ${r.reason}`) : null))),
      h('td', {}, v.problem ? h('span', { class: 'badge bad' }, v.problem) : ''),
      numTd(int(v.features.length)),
      h('td', { class: 'metrics' }, metricsText(v.bundleTestMetrics)),
      h('td', {}, isDefault ? '' : h('button', {
        class: 'set-default',
        onclick: () => ctx.act({
          title: `Make version ${v.version} the default of ${model.name}?`,
          text: `Requests that no experiment or rollout routes will be served by version ${v.version} instead of ${model.defaultVersion || 'none'}.`,
          run: () => call('SetDefaultVersion', { model: model.name, version: v.version }, { admin: true }),
          done: (r) => `${r.model}: the default version is now ${r.version}.`,
        }),
      }, 'Make default')));
  });
  return h('section', { class: 'card model', 'data-model': model.name },
    h('h2', {}, model.name),
    facts([
      ['default version', model.defaultVersion || '—'],
      model.fallbackVersion ? ['falling back to', h('span', { class: 'badge bad' }, `version ${model.fallbackVersion} (the default is READY on no replica)`)] : null,
    ]),
    table(['version', 'target', 'desired because', 'replicas', 'problem', numTh('features'), 'bundle test metrics', ''], rows));
}

// the headline figures of a bundle's held-out test set; every figure in the tooltip
const HEADLINE = [['auc_roc', 'AUC'], ['pr_auc', 'PR-AUC'], ['brier', 'Brier'], ['rmse', 'RMSE'], ['mae', 'MAE'], ['r2', 'R²']];

function metricsText(metrics = {}) {
  const keys = Object.keys(metrics);
  if (!keys.length) return h('span', { class: 'muted' }, 'no replica serves it');
  const shown = HEADLINE.filter(([k]) => k in metrics).map(([k, label]) => `${label} ${num(metrics[k], 3)}`);
  return h('span', { title: keys.sort().map((k) => `${k} ${num(metrics[k], 4)}`).join('\n'), 'data-auc': metrics.auc_roc },
    shown.length ? shown.join(' · ') : keys.sort().slice(0, 3).map((k) => `${k} ${num(metrics[k], 3)}`).join(' · '));
}

function holderText(holder) {
  const kind = (holder.kind || '').replace('HOLDER_', '').toLowerCase();
  return holder.name ? `${kind}: ${holder.name}` : kind;
}

// ------------------------------------------------------------------------------------- experiments

export async function experiments() {
  const { experiments: list = [] } = await call('ListExperiments');
  const rows = list.map((e) => h('tr', { 'data-experiment': e.key },
    h('td', {}, link(`#/experiments/${encodeURIComponent(e.key)}`, e.key)),
    h('td', {}, e.model),
    h('td', {}, statusBadge(e.status)),
    h('td', {}, e.variants.map((v) => `${v.key} → v${v.version} (${pct(v.weight, 0)})`).join(', ')),
    h('td', {}, e.metric),
    numTd(e.revision),
    h('td', { class: 'muted' }, e.description)));
  return h('div', {}, h('h1', {}, 'Experiments'),
    list.length === 0 ? h('p', { class: 'muted' }, 'No experiments yet.')
      : table(['key', 'model', 'status', 'variants', 'metric', numTh('revision'), 'description'], rows));
}

export async function experiment({ id }, ctx) {
  const [detail, results] = await Promise.all([
    call('GetExperiment', { key: id, includeHistory: true }),
    call('GetResults', { experiment: id }).catch((e) => ({ error: e })),
  ]);
  const e = detail.experiment;
  const actions = h('div', { class: 'actions' },
    e.status === 'RUNNING' ? h('button', {
      id: 'stop-experiment',
      class: 'danger',
      onclick: () => ctx.act({
        title: `Stop experiment ${e.key}?`,
        text: 'Stopping ends the experiment: its units go back to the rollout or default version. Name the winner if there is one.',
        fields: [{ name: 'winner', label: 'winner', options: [['', 'no winner'], ...e.variants.map((v) => [v.key, `${v.key} (version ${v.version})`])] }],
        run: (f) => call('StopExperiment', { key: e.key, winner: f.winner, expectedRevision: e.revision }, { admin: true }),
        done: (r) => `Experiment ${r.experiment.key} is ${r.experiment.status} at revision ${r.experiment.revision}${r.experiment.winner ? `, winner ${r.experiment.winner}` : ''}.`,
      }),
    }, 'Stop experiment…') : null);
  return h('div', { 'data-experiment': e.key },
    h('h1', {}, `Experiment ${e.key} `, statusBadge(e.status)),
    actions,
    h('div', { class: 'grid wide-right' },
      h('section', { class: 'card' }, h('h2', {}, 'Definition'),
        facts([
          ['model', link(`#/models`, e.model)],
          ['metric', `${e.metric} (${(e.metricType || '').toLowerCase()})`],
          ['variants', e.variants.map((v) => `${v.key} → version ${v.version} (${pct(v.weight, 0)})`).join(', ')],
          ['coverage', e.coverage === undefined ? '100%' : pct(e.coverage, 0)],
          ['min. detectable effect', pp(e.minimumDetectableEffect)],
          ['seed / phase', `${e.seed || e.key} / ${e.phase}`],
          ['revision', `${e.revision}, ${time(e.updated)} by ${e.updatedBy || '—'}`],
          e.winner ? ['winner', e.winner] : null,
          e.description ? ['description', e.description] : null,
        ]),
        detail.versionIssues.length ? h('p', {}, detail.versionIssues.map((i) => h('div', { class: 'badge bad' }, `version ${i.version}: ${i.reason}`))) : null),
      h('section', { class: 'card', id: 'results' }, h('h2', {}, 'Results'), resultsView(results))),
    h('section', { class: 'card', id: 'history' }, h('h2', {}, 'Revision history'), historyView(detail.history)));
}

function resultsView(results) {
  if (results.error) return h('p', { class: 'muted' }, `No results: ${results.error.message}`);
  const required = Number(results.requiredSampleSizePerArm || 0);
  const rows = results.variants.map((v) => h('tr', { 'data-variant': v.variant },
    h('td', {}, v.variant), h('td', {}, v.version), numTd(pct(v.weight, 0)),
    numTd(int(v.units), { 'data-field': 'units', 'data-value': v.units }),
    numTd(int(v.conversions), { 'data-field': 'conversions', 'data-value': v.conversions }),
    numTd(pct(v.mean), { 'data-field': 'mean', 'data-value': v.mean }),
    h('td', { 'data-field': 'progress' }, progress(Number(v.units), required), ' ',
      required > 0 ? `${int(v.units)} of ${int(required)}` : '')));
  const comparisons = results.comparisons.map((c) => h('div', { class: 'comparison', 'data-variant': c.variant },
    h('h3', {}, `${c.variant} vs ${c.control}`),
    intervalPlot({ lower: c.absoluteLiftLower * 100, upper: c.absoluteLiftUpper * 100, point: c.absoluteLift * 100,
      label: `${c.variant} minus ${c.control}`, unit: ' pp', id: `interval-${c.variant}` }),
    facts([
      ['absolute lift', h('span', { 'data-field': 'absoluteLift', 'data-value': c.absoluteLift },
        `${pp(c.absoluteLift)}  [${pp(c.absoluteLiftLower)}, ${pp(c.absoluteLiftUpper)}]`)],
      ['relative lift', h('span', { 'data-field': 'relativeLift', 'data-value': c.relativeLift },
        `${signedPct(c.relativeLift)}  [${signedPct(c.relativeLiftLower)}, ${signedPct(c.relativeLiftUpper)}]`)],
      ['p-value', h('span', { 'data-field': 'pValue', 'data-value': c.pValue }, pvalue(c.pValue), ' ',
        c.significant ? badge('significant', 'good') : badge('not significant'))],
    ])));
  const srm = results.srm || {};
  return h('div', {},
    h('p', { class: 'recommendation', id: 'recommendation', 'data-value': results.recommendation },
      badge(results.recommendation.replace(/_/g, ' ').toLowerCase(),
        { SHIP_TREATMENT: 'good', ROLL_BACK: 'bad', INVESTIGATE_SRM: 'bad', KEEP_RUNNING: 'warn' }[results.recommendation] || ''),
      ' ', results.explanation),
    table(['variant', 'version', numTh('weight'), numTh('units'), numTh('conversions'), numTh('rate'), 'sample size per arm'], rows, { id: 'results-table' }),
    comparisons,
    facts([
      ['sample ratio', h('span', { id: 'srm', 'data-value': srm.pValue },
        `chi² ${num(srm.chiSquare, 2)}, p ${pvalue(srm.pValue)} `, srm.mismatch ? badge('MISMATCH', 'bad') : badge('no mismatch', 'good'))],
      ['required per arm', h('span', { id: 'required', 'data-value': required }, required > 0 ? int(required) : 'n/a (no minimum detectable effect)')],
    ]));
}

function historyView(history) {
  if (!history.length) return h('p', { class: 'muted' }, 'No history.');
  const items = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i];
    const before = i > 0 ? prettyJson(history[i - 1].definitionJson) : '';
    const diff = lineDiff(before, prettyJson(r.definitionJson));
    const changed = diff.filter((d) => d.op !== ' ');
    const shown = i === 0 ? diff : diff.filter((d, k) => d.op !== ' ' || nearChange(diff, k));
    items.push(h('div', { class: 'revision', 'data-revision': r.revision },
      h('h3', {}, `revision ${r.revision} · ${r.action} · ${r.actor} · ${time(r.time)}`),
      i > 0 && changed.length === 0 ? h('p', { class: 'muted' }, 'no change to the definition') :
        h('pre', { class: 'diff' }, shown.map((d) => h('span', { class: d.op === '+' ? 'add' : d.op === '-' ? 'del' : 'same' }, `${d.op} ${d.line}`)))));
  }
  return h('div', {}, items);
}

function nearChange(diff, k) {
  for (let j = Math.max(0, k - 2); j <= Math.min(diff.length - 1, k + 2); j++) if (diff[j].op !== ' ') return true;
  return false;
}

// ---------------------------------------------------------------------------------------- rollouts

export async function rollouts() {
  const { models: list = [] } = await call('ListModels');
  const found = await Promise.all(list.map((m) => maybe('GetRollout', { model: m.name }).then((r) => [m, r])));
  const rows = found.map(([m, r]) => h('tr', { 'data-model': m.name },
    h('td', {}, r ? link(`#/rollouts/${encodeURIComponent(m.name)}`, m.name) : m.name),
    r ? [
      h('td', {}, `${r.rollout.stableVersion} → ${r.rollout.candidateVersion}`),
      h('td', {}, statusBadge(r.rollout.state)),
      numTd(`${num(r.rollout.currentWeight, 0)}%`),
      numTd(`${r.rollout.currentStep + 1} of ${r.rollout.steps.length}`),
      h('td', { class: 'muted' }, r.rollout.reason),
    ] : h('td', { colspan: 5, class: 'muted' }, 'no rollout')));
  return h('div', {}, h('h1', {}, 'Rollouts'),
    table(['model', 'stable → candidate', 'state', numTh('weight'), numTh('step'), 'reason'], rows));
}

export async function rollout({ id }, ctx) {
  const response = await call('GetRollout', { model: id });
  const r = response.rollout;
  const active = r.state === 'PROGRESSING' || r.state === 'PAUSED';
  const action = (method, label, verb, danger) => h('button', {
    id: `${verb}-rollout`,
    class: danger ? 'danger' : '',
    onclick: () => ctx.act({
      title: `${label} the rollout of ${r.model}?`,
      text: `${label}: version ${r.candidateVersion} is at ${num(r.currentWeight, 0)}% of ${r.model}'s traffic now.`,
      fields: [{ name: 'reason', label: 'reason (recorded in the history)', value: '' }],
      run: (f) => call(method, { model: r.model, reason: f.reason }, { admin: true }),
      done: (x) => `Rollout of ${x.rollout.model} is ${x.rollout.state} at ${num(x.rollout.currentWeight, 0)}%, revision ${x.rollout.revision}.`,
    }),
  }, label);
  const actions = h('div', { class: 'actions' },
    r.state === 'PROGRESSING' ? action('PauseRollout', 'Pause', 'pause') : null,
    r.state === 'PAUSED' ? action('ResumeRollout', 'Resume', 'resume') : null,
    active ? action('PromoteRollout', 'Promote', 'promote') : null,
    active ? action('AbortRollout', 'Abort', 'abort', true) : null);
  return h('div', { 'data-model': r.model },
    h('h1', {}, `Rollout of ${r.model}: version ${r.stableVersion} → ${r.candidateVersion} `, statusBadge(r.state)),
    actions,
    h('section', { class: 'card' },
      facts([
        ['candidate weight', `${num(r.currentWeight, 0)}% (step ${r.currentStep + 1} of ${r.steps.length}: ${r.steps.map((x) => `${x}%`).join(' → ')})`],
        ['step started', time(r.stepStarted)],
        ['each step', `holds ${r.stepInterval || '—'} and needs ${int(r.minCandidateRequests)} candidate requests`],
        r.reason ? ['reason', r.reason] : null,
        ['revision', r.revision],
      ]),
      response.versionIssues.map((i) => h('div', { class: 'badge bad' }, `version ${i.version}: ${i.reason}`)),
      h('h2', {}, 'Weight over time'),
      r.history.length ? timeline({ events: r.history, steps: r.steps, active }) : h('p', { class: 'muted' }, 'No events yet.')),
    h('div', { class: 'grid' },
      h('section', { class: 'card', id: 'guardrails' }, h('h2', {}, 'Last guardrail check'), guardrailView(r)),
      h('section', { class: 'card', id: 'events' }, h('h2', {}, 'Events'),
        table(['time', 'event', numTh('weight'), 'detail'], r.history.slice().reverse().map((e) => h('tr', { class: `event-${e.type}`, 'data-event-type': e.type },
          h('td', {}, time(e.time)), h('td', {}, statusBadge(e.type)), numTd(`${num(e.weight, 0)}%`), h('td', {}, e.detail)))))));
}

function guardrailView(r) {
  const c = r.lastCheck;
  if (!c) return h('p', { class: 'muted' }, 'No check yet: the first one runs when the step has held its interval with enough candidate requests.');
  const g = { ...GUARDRAIL_DEFAULTS, ...(r.guardrails || {}) };
  const increase = c.candidateErrorRate - c.stableErrorRate;
  const ratio = c.stableP99Ms > 0 ? c.candidateP99Ms / c.stableP99Ms : 0;
  const row = (name, figures, value, limit, unitText) => {
    const held = value <= limit;
    return h('tr', { 'data-guardrail': name },
      h('td', {}, name), h('td', {}, figures), numTd(unitText(value)), numTd(`≤ ${unitText(limit)}`),
      h('td', {}, bar(value, limit * 1.5, held ? '' : 'bad'), ' ', held ? badge('held', 'good') : badge('breached', 'bad')));
  };
  return h('div', {},
    h('p', {}, `${time(c.time)}: `, c.passed ? badge('passed', 'good') : badge('failed', 'bad'), c.detail ? ` ${c.detail}` : '',
      h('span', { class: 'muted' }, ` — ${int(c.candidateRequests)} candidate and ${int(c.stableRequests)} stable requests`)),
    table(['guardrail', 'figures', numTh('value'), numTh('threshold'), ''], [
      row('error rate increase', `candidate ${pct(c.candidateErrorRate)} vs stable ${pct(c.stableErrorRate)}`, increase, g.maxErrorRateIncrease, (v) => pp(v)),
      row('p99 latency ratio', `candidate ${num(c.candidateP99Ms, 1)} ms vs stable ${num(c.stableP99Ms, 1)} ms`, ratio, g.maxP99LatencyRatio, (v) => `${num(v, 2)}×`),
      row('score PSI', 'candidate scores against stable scores', c.scorePsi, g.maxScorePsi, (v) => num(v, 3)),
    ]));
}

// -------------------------------------------------------------------------------------- monitoring

export async function monitoring({ id, query }) {
  const { models: list = [] } = await call('ListModels');
  const model = id || (list[0] && list[0].name);
  if (!model) return h('div', {}, h('h1', {}, 'Monitoring'), h('p', { class: 'muted' }, 'No replica reports a model yet.'));
  let metric = query.get('metric') || '';
  if (!metric) {
    const { experiments: ex = [] } = await call('ListExperiments', { model });
    metric = (ex.find((e) => e.metric) || {}).metric || '';
  }
  const [drift, performance] = await Promise.all([
    call('GetDrift', { model }).catch((e) => ({ error: e })),
    metric ? call('GetPerformance', { model, metric }).catch((e) => ({ error: e })) : Promise.resolve(null),
  ]);
  const picker = h('p', {}, 'Model: ', list.map((m) => [m.name === model ? h('strong', {}, m.name) : link(`#/monitoring/${encodeURIComponent(m.name)}${metric ? `?metric=${encodeURIComponent(metric)}` : ''}`, m.name), ' ']),
    h('span', { class: 'muted' }, metric ? ` · outcome metric "${metric}" (add ?metric=NAME to the address to change it)` : ''));
  return h('div', { 'data-model': model },
    h('h1', {}, `Monitoring: ${model}`), picker,
    h('section', { class: 'card', id: 'drift' }, h('h2', {}, 'Drift against the training baseline'), driftView(drift)),
    h('section', { class: 'card', id: 'performance' }, h('h2', {}, 'Live performance'), performanceView(performance, model, metric)));
}

function driftView(drift) {
  if (drift.error) return h('p', { class: 'muted' }, `No drift figures: ${drift.error.message}`);
  if (!drift.versions.length) return h('p', { class: 'muted' }, 'No version of this model is ready on any replica, so there is no live window.');
  return drift.versions.map((v) => {
    const kind = { NO_DRIFT: 'good', DRIFT: 'bad', INSUFFICIENT_DATA: 'warn', NO_BASELINE: 'warn' }[v.verdict] || '';
    let body;
    if (v.verdict === 'NO_BASELINE') {
      body = h('p', { class: 'missing' }, `Version ${v.version} has no baseline profile: its bundle was trained before baselines existed. Retrain it (trellis train) to see drift.`);
    } else if (v.verdict === 'INSUFFICIENT_DATA') {
      body = h('p', { class: 'missing' }, `Only ${int(v.liveRows)} live rows so far; a verdict needs ${int((v.thresholds || {}).minRows)} (--drift-thresholds min-rows).`);
    } else {
      const psiLimit = Number((v.thresholds || {}).psi || 0.25);
      body = table(['feature', 'kind', 'severity', numTh('PSI'), '', numTh('KS / χ² p'), numTh('missing (train → live)'), 'reasons'],
        v.features.map((f) => h('tr', { 'data-feature': f.feature },
          h('td', {}, f.feature), h('td', {}, f.kind),
          h('td', {}, badge(f.severity, { OK: 'good', WARN: 'warn', DRIFTED: 'bad' }[f.severity] || '')),
          numTd(num(f.psi, 3)),
          h('td', {}, bar(f.psi, psiLimit * 2, f.severity === 'DRIFTED' ? 'bad' : f.severity === 'WARN' ? 'warn' : '')),
          numTd(f.kind === 'categorical' ? pvalue(f.chiSquarePValue) : `${num(f.ksStatistic, 3)} / ${pvalue(f.ksPValue)}`),
          numTd(`${pct(f.baselineMissingRate, 1)} → ${pct(f.liveMissingRate, 1)}`),
          h('td', { class: 'muted' }, f.reasons.join('; ')))));
    }
    return h('div', { class: 'version-drift', 'data-version': v.version, 'data-verdict': v.verdict },
      h('h3', {}, `version ${v.version} `, badge(v.verdict.replace(/_/g, ' ').toLowerCase(), kind)),
      h('p', { class: 'muted' }, `${v.summary} — ${int(v.liveRows)} live rows on ${v.replicas.join(', ') || 'no replica'}, baseline of ${int(v.baselineRows)} training rows`),
      body);
  });
}

function performanceView(performance, model, metric) {
  if (!metric) return h('p', { class: 'missing' }, 'No outcome metric: add ?metric=NAME (as recorded with RecordOutcome) to the address, or create an experiment on this model with a metric.');
  if (performance.error) return h('p', { class: 'muted' }, `No live performance: ${performance.error.message}`);
  if (!performance.versions.length) {
    return h('p', { class: 'missing' }, `No payload samples of ${model} are logged, so there is nothing to join with outcomes: start the router with --payload-sample-rate ${model}=0.1 (or another share).`);
  }
  return performance.versions.map((v) => {
    const counts = `${int(v.samples)} samples, ${int(v.withOutcome)} with an outcome of "${metric}", ${int(v.positives)} positive`;
    const bundleAuc = v.bundleTestMetrics.auc_roc;
    return h('div', { class: 'version-performance', 'data-version': v.version, 'data-sufficient': String(v.sufficient) },
      h('h3', {}, `version ${v.version}`),
      h('p', { class: 'muted' }, counts),
      !v.sufficient ? h('p', { class: 'missing' }, `Not enough outcomes for figures: live AUC needs at least 2 samples with an outcome, of both classes.`) : [
        facts([
          ['live AUC', h('span', { 'data-field': 'auc', 'data-value': v.auc }, num(v.auc, 4))],
          ['bundle test AUC', bundleAuc === undefined ? 'unknown (no replica serves the version)' : `${num(bundleAuc, 4)} (change ${v.aucChange >= 0 ? '+' : ''}${num(v.aucChange, 4)})`],
          ['live Brier', `${num(v.brier, 4)}${v.bundleTestMetrics.brier === undefined ? '' : ` (bundle test ${num(v.bundleTestMetrics.brier, 4)})`}`],
        ]),
        h('div', { class: 'grid' },
          h('div', {}, h('h3', {}, 'Calibration by score decile'), calibrationPlot(v.calibration)),
          h('div', {}, h('h3', {}, 'By label'), table(['label', numTh('rows'), numTh('positives'), numTh('observed rate')],
            v.labels.map((l) => h('tr', {}, h('td', {}, l.label), numTd(int(l.rows)), numTd(int(l.positives)), numTd(pct(l.observedRate))))))),
      ]);
  });
}
