// The search page: HTML plus a browser ES module that embeds the query with onnxruntime-web and asks the server.

/** The HTML shell (no inline script, so a strict CSP applies). */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sail image search</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; }
  form { display: flex; gap: .5rem; margin-bottom: 1rem; }
  input[type=text] { flex: 1; font-size: 1.1rem; padding: .4rem; }
  #status { color: #555; font-size: .9rem; margin-bottom: 1rem; }
  #results { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: .8rem; list-style: none; padding: 0; }
  #where { font-size: .85rem; margin-bottom: .5rem; }
  #results li { font-size: .8rem; }
  /* uniform thumbnails: every image in the same square box, scaled to fit (a 1 px icon and a 300 px photo alike) */
  #results img { display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: contain; background: #f3f3f3; border-radius: 4px; image-rendering: auto; }
  #results .caption { margin-top: .3rem; font-size: .9rem; color: #111; }
  #results .name { color: #666; word-break: break-all; }
</style>
</head>
<body>
<h1>sail image search</h1>
<form id="search"><input id="q" type="text" placeholder="describe an image…" autocomplete="off" disabled><button id="go" disabled>Search</button></form>
<div id="where"></div>
<div id="status">loading…</div>
<ol id="results"></ol>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/**
 * Browser module. Text is embedded in the browser when the export has text_model.onnx and a word-vocab
 * tokenizer (WebGPU if an adapter exists, else WASM); otherwise the server's /api/embed-text is used.
 * The query vector is sent to /api/search, which searches the image index (IVF or exact).
 */
export const APP_JS = String.raw`let ort = null;
const $ = (id) => document.getElementById(id);
const status = (s) => { $('status').textContent = s; };
const state = { mode: 'server', session: null, tokenizer: null, vocab: null, manifest: null, backend: '' };

// Access token (servers reachable from other machines): taken from ?token= once, kept for this tab, sent
// with every API call; images and onnxruntime files use the cookie the server set with the page.
const token = (() => {
  const given = new URLSearchParams(location.search).get('token');
  if (given) {
    sessionStorage.setItem('sail-token', given);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('sail-token');
})();
const api = (url, init = {}) => fetch(url, token ? { ...init, headers: { ...(init.headers || {}), authorization: 'Bearer ' + token } } : init);

function tokenize(text) {
  const t = state.tokenizer;
  const words = (t.lowercase ? text.toLowerCase() : text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
  const ids = new BigInt64Array(t.maxLength).fill(BigInt(t.padId));
  const mask = new BigInt64Array(t.maxLength);
  words.slice(0, t.maxLength).forEach((w, i) => {
    const id = Object.prototype.hasOwnProperty.call(state.vocab, w) ? state.vocab[w] : t.unkId;
    ids[i] = BigInt(id);
    mask[i] = 1n;
  });
  return { ids, mask };
}

// The WebGPU build is only loaded when an adapter exists: its wasm is twice the size of the plain one.
async function createSession(url) {
  let adapter = null;
  try { adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null; } catch { adapter = null; }
  if (adapter) {
    try {
      ort = await import('/ort/ort.webgpu.min.mjs');
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = 1;
      const s = await ort.InferenceSession.create(url, { executionProviders: ['webgpu', 'wasm'] });
      state.backend = 'webgpu';
      return s;
    } catch (e) { console.warn('webgpu unavailable, using wasm', e); }
  }
  ort = await import('/ort/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = 1;
  const s = await ort.InferenceSession.create(url, { executionProviders: ['wasm'] });
  state.backend = 'wasm';
  return s;
}

async function embedInBrowser(text) {
  const m = state.manifest.text.model;
  const { ids, mask } = tokenize(text);
  const feeds = { [state.tokenizer.inputName]: new ort.Tensor('int64', ids, [1, ids.length]) };
  if (state.tokenizer.maskName) feeds[state.tokenizer.maskName] = new ort.Tensor('int64', mask, [1, mask.length]);
  const out = await state.session.run(feeds);
  return Array.from(out[m.outputs.normalized].data);
}

async function embedOnServer(text) {
  const r = await api('/api/embed-text?q=' + encodeURIComponent(text));
  if (!r.ok) throw new Error((await r.json()).error || r.statusText);
  return (await r.json()).vector;
}

async function search(ev) {
  ev.preventDefault();
  const q = $('q').value.trim();
  if (!q) return;
  const t0 = performance.now();
  try {
    const vector = state.mode === 'browser' ? await embedInBrowser(q) : await embedOnServer(q);
    const t1 = performance.now();
    const r = await api('/api/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector, k: 24 }) });
    const res = await r.json();
    if (!r.ok) throw new Error(res.error || r.statusText);
    const list = $('results');
    list.replaceChildren(...res.hits.map((h) => {
      const li = document.createElement('li');
      li.dataset.name = h.name;
      li.dataset.score = String(h.score);
      const img = document.createElement('img');
      img.src = '/images/' + h.id;
      img.alt = h.name;
      const name = document.createElement('div');
      name.className = 'name';
      name.textContent = h.name + ' (' + h.score.toFixed(3) + ')';
      if (h.caption) {
        const cap = document.createElement('div');
        cap.className = 'caption';
        cap.textContent = h.caption;
        li.dataset.caption = h.caption;
        li.append(img, cap, name);
      } else li.append(img, name);
      return li;
    }));
    status('query embedded ' + (state.mode === 'browser' ? 'in the browser (' + state.backend + ')' : 'on the server') + ' in ' + (t1 - t0).toFixed(0) + ' ms; ' + res.hits.length + ' results (' + res.method + ')');
    document.body.dataset.searched = String(Number(document.body.dataset.searched || '0') + 1);
  } catch (e) {
    status('error: ' + e.message);
    document.body.dataset.error = e.message;
  }
}

async function init() {
  try {
    state.manifest = await (await api('/model/sail_model.json')).json();
    const m = state.manifest.text.model;
    if (m && m.tokenizer && m.tokenizer.type === 'word-vocab') {
      state.tokenizer = m.tokenizer;
      state.vocab = await (await api('/model/' + m.tokenizer.vocabFile)).json();
      state.session = await createSession('/model/' + m.file);
      state.mode = 'browser';
    }
    let info = await (await api('/api/info')).json();
    while (!info.ready) {
      status('indexing images: ' + info.done + ' / ' + info.total);
      await new Promise((r) => setTimeout(r, 500));
      info = await (await api('/api/info')).json();
    }
    if (state.mode === 'server' && !info.serverText) throw new Error('this export has no browser-runnable text model and the server has no text encoder');
    $('where').textContent = state.mode === 'browser'
      ? 'Queries are embedded in this browser (onnxruntime-web, ' + state.backend + '); only the query vector is sent to the server.'
      : 'Queries are embedded on the server (' + (info.serverTextModel || 'text backbone') + '): this export has no text model the browser can run.';
    document.body.dataset.queries = state.mode;
    status(info.count + ' images indexed (' + info.method + '); text encoder: ' + (state.mode === 'browser' ? 'browser, ' + state.backend : 'server'));
    $('q').disabled = false;
    $('go').disabled = false;
    document.body.dataset.ready = state.mode;
  } catch (e) {
    status('error: ' + e.message);
    document.body.dataset.error = e.message;
  }
}

$('search').addEventListener('submit', search);
init();
`;
