// The console: hash routes (#/models, #/experiments[/KEY], #/rollouts[/MODEL], #/monitoring[/MODEL]),
// a refresh of the current page every few seconds without reloading, the admin token form and the
// confirmation dialog every action goes through.
import { ApiError, actor, setToken, token } from './api.js';
import { h } from './charts.js';
import { clock } from './format.js';
import * as views from './views.js';

const REFRESH_MS = 3000;
const ROUTES = {
  models: [views.models, null],
  experiments: [views.experiments, views.experiment],
  rollouts: [views.rollouts, views.rollout],
  monitoring: [views.monitoring, views.monitoring],
};

let generation = 0;
let timer = null;

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const [section = 'models', ...rest] = path.split('/');
  const id = rest.length ? decodeURIComponent(rest.join('/')) : '';
  return { section: ROUTES[section] ? section : 'models', id, query: new URLSearchParams(search) };
}

async function render() {
  const mine = ++generation;
  clearTimeout(timer);
  const route = parseRoute();
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === route.section));
  const [list, detail] = ROUTES[route.section];
  const view = route.id && detail ? detail : list;
  try {
    const node = await view({ id: route.id, query: route.query }, { act });
    if (mine !== generation) return; // a newer render started meanwhile
    document.getElementById('view').replaceChildren(node);
    document.getElementById('banner').replaceChildren();
    document.getElementById('updated').textContent = `updated ${clock(new Date())} UTC, every ${REFRESH_MS / 1000} s`;
  } catch (e) {
    if (mine !== generation) return;
    const text = e instanceof ApiError ? `${e.code}: ${e.message}` : `cannot reach the router: ${e.message}`;
    document.getElementById('banner').textContent = text;
    if (e instanceof ApiError && e.code === 'NOT_FOUND') {
      document.getElementById('view').replaceChildren(h('p', { class: 'muted' }, e.message));
    }
  }
  if (mine === generation) timer = setTimeout(render, REFRESH_MS);
}

/**
 * Asks for confirmation (with optional fields), runs the action with the admin token and shows
 * what came back (the resulting revision) or the refusal, with the server's message.
 */
function act({ title, text, fields = [], run, done }) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = token() ? text : `${text} No admin token is set for this tab: the router will refuse.`;
  const inputs = {};
  document.getElementById('confirm-fields').replaceChildren(...fields.map((f) => {
    const input = f.options
      ? h('select', { name: f.name }, f.options.map(([value, label]) => h('option', { value }, label)))
      : h('input', { name: f.name, type: 'text', value: f.value || '' });
    inputs[f.name] = input;
    return h('label', {}, f.label, input);
  }));
  dialog.returnValue = '';
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'ok') return;
    const values = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.value]));
    const result = document.getElementById('result');
    try {
      const response = await run(values);
      result.className = 'ok';
      result.textContent = done(response);
    } catch (e) {
      result.className = 'error';
      result.textContent = e instanceof ApiError ? `Refused (HTTP ${e.status} ${e.code}): ${e.message}` : `Failed: ${e.message}`;
    }
    render();
  }, { once: true });
  dialog.showModal();
}

function showToken() {
  const set = token() !== '';
  document.getElementById('token-state').textContent = set ? `admin token set for this tab${actor() ? ` (as ${actor()})` : ''}` : 'read-only';
  document.getElementById('token-input').hidden = set;
  document.getElementById('actor-input').hidden = set;
  document.getElementById('token-use').hidden = set;
  document.getElementById('token-forget').hidden = !set;
}

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('token-input');
  setToken(input.value.trim(), document.getElementById('actor-input').value.trim());
  input.value = '';
  showToken();
});
document.getElementById('token-forget').addEventListener('click', () => {
  setToken('', '');
  showToken();
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) render();
});
window.addEventListener('hashchange', () => {
  document.getElementById('result').replaceChildren();
  document.getElementById('result').className = '';
  render();
});
showToken();
render();
