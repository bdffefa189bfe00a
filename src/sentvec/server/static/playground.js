// The sentvec playground: the similarity matrix of the sentences typed, as a coloured table.
// Plain script, no libraries, no network but this server: each row is one POST /similarity
// (source sentence against all of them), so the numbers are the server's own.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "sentvec-api-key";

// viridis at five stops; cells interpolate between them
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function colour(t) {
  t = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const rgb = STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
  return { background: `rgb(${rgb.join(",")})`, text: t > 2.4 ? "#000" : "#fff" };
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function say(message, error = false) {
  $("status").textContent = message;
  $("status").className = error ? "error" : "";
}

async function call(method, path, body) {
  const response = await fetch(path, { method, headers: headers(), body: body && JSON.stringify(body) });
  if (response.status === 401) {
    $("key-row").hidden = false;
    $("api-key").focus();
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return data;
}

function short(text, width = 40) {
  return text.length <= width ? text : text.slice(0, width - 1) + "\u2026";
}

function draw(sentences, rows) {
  const table = $("matrix");
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  head.appendChild(document.createElement("th"));
  sentences.forEach((s, j) => {
    const th = document.createElement("th");
    th.textContent = String(j + 1);
    th.title = s;
    head.appendChild(th);
  });
  const flat = rows.flat();
  const low = Math.min(0, ...flat);
  const high = Math.max(...flat);
  const body = table.createTBody();
  rows.forEach((row, i) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.textContent = `${i + 1}. ${short(sentences[i])}`;
    th.title = sentences[i];
    tr.appendChild(th);
    row.forEach((score, j) => {
      const td = tr.insertCell();
      const c = colour((score - low) / (high - low || 1));
      td.className = "cell";
      td.dataset.i = i;
      td.dataset.j = j;
      td.dataset.score = score;
      td.textContent = score.toFixed(3);
      td.title = `${sentences[i]}\n${sentences[j]}\n${score}`;
      td.style.background = c.background;
      td.style.color = c.text;
    });
  });
  $("pair").hidden = sentences.length < 2;
  if (sentences.length >= 2) {
    $("score").textContent = rows[0][1].toFixed(4);
    $("score").dataset.score = rows[0][1];
  }
}

async function compare() {
  const sentences = $("sentences").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (sentences.length === 0) {
    say("Type at least one sentence, one per line.", true);
    return;
  }
  sessionStorage.setItem(KEY, $("api-key").value.trim());
  $("compare").disabled = true;
  say("Scoring\u2026");
  try {
    const rows = await Promise.all(sentences.map((s) => call("POST", "similarity", {
      inputs: { source_sentence: s, sentences },
    })));
    draw(sentences, rows);
    say(`${sentences.length} sentence${sentences.length === 1 ? "" : "s"} compared.`);
    document.body.dataset.done = String(Date.now());
  } catch (err) {
    say(err.message, true);
  } finally {
    $("compare").disabled = false;
  }
}

async function search() {
  const query = $("query").value.trim();
  if (!query) {
    say("Type something to search for.", true);
    return;
  }
  say("Searching\u2026");
  try {
    const { hits } = await call("POST", "search", { query, k: 10 });
    const list = $("hits");
    list.replaceChildren();
    for (const hit of hits) {
      const item = document.createElement("li");
      item.dataset.score = hit.score;
      item.dataset.id = hit.id;
      item.textContent = `${hit.score.toFixed(3)}  ${hit.text}`;
      list.appendChild(item);
    }
    say(`${hits.length} hit${hits.length === 1 ? "" : "s"}.`);
    document.body.dataset.searched = String(Date.now());
  } catch (err) {
    say(err.message, true);
  }
}

async function start() {
  $("api-key").value = sessionStorage.getItem(KEY) || "";
  $("compare").addEventListener("click", compare);
  $("search").addEventListener("click", search);
  $("query").addEventListener("keydown", (e) => {
    if (e.key === "Enter") search();
  });
  $("sentences").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) compare();
  });
  try {
    const info = await call("GET", "info");
    $("model").textContent = `${info.model_id}: ${info.embedding_dimension} dimensions, ` +
      `${info.similarity_fn_name} similarity, up to ${info.max_input_length} tokens`;
    if (info.index) {  // the server was started with --index: show the search box
      $("index-name").textContent = `(${info.index.path}, ${info.index.documents} documents)`;
      $("search-box").hidden = false;
    }
  } catch (err) {
    $("model").textContent = err.message.startsWith("401")
      ? "This server needs an API key: enter it below, then Compare."
      : err.message;
  }
}

start();
