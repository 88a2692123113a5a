// scratchnet Playground: the TensorFlow Playground's page, drawn by hand on canvas and SVG.
// Training happens on the server (our layers and GEMM); this page sends settings and
// switches, and draws the snapshots the server streams (at most ~30 a second).
"use strict";

const HALF = 4.5; // the pictures cover [-HALF, HALF]² (points live in [-4, 4]²)
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const FEATURES = [
  // [hash key, label, f(x1, x2)]
  ["x", "X₁", (a, b) => a],
  ["y", "X₂", (a, b) => b],
  ["xSquared", "X₁²", (a, b) => a * a],
  ["ySquared", "X₂²", (a, b) => b * b],
  ["xTimesY", "X₁X₂", (a, b) => a * b],
  ["sinX", "sin(X₁)", (a, b) => Math.sin(a)],
  ["sinY", "sin(X₂)", (a, b) => Math.sin(b)],
];
const CLASSIFY_SETS = ["circle", "xor", "gauss", "spiral"];
const REGRESS_SETS = ["reg-plane", "reg-gauss"];
const MAX_LAYERS = 6;
const MAX_NEURONS = 8;

// The Playground's state, with its keys and defaults (its src/state.ts).
const DEFAULTS = {
  activation: "tanh", regularization: "none", batchSize: 10, dataset: "circle",
  regDataset: "reg-plane", learningRate: 0.03, regularizationRate: 0, noise: 0,
  networkShape: [4, 2], seed: "", showTestData: false, discretize: false, percTrainData: 50,
  x: true, y: true, xTimesY: false, xSquared: false, ySquared: false, sinX: false, sinY: false,
  problem: "classification", optimizer: "sgd", play: false,
  // Ours: at most this many epochs a second ("max": as fast as the engine trains), so that the
  // boundary can be watched forming as on the Playground, whose pace is the screen's.
  speed: "max",
};
const NUMBERS = ["batchSize", "learningRate", "regularizationRate", "noise", "percTrainData"];
const BOOLEANS = ["showTestData", "discretize", "x", "y", "xTimesY", "xSquared", "ySquared",
  "sinX", "sinY", "play"];

function parseHash() {
  const s = JSON.parse(JSON.stringify(DEFAULTS));
  for (const kv of window.location.hash.slice(1).split("&")) {
    const [k, raw] = kv.split("=");
    if (!(k in DEFAULTS) || raw === undefined) continue;
    const v = decodeURIComponent(raw);
    if (k === "networkShape") {
      s[k] = v.trim() === "" ? [] : v.split(",").map(Number);
    } else if (NUMBERS.includes(k)) {
      if (v.trim() !== "" && isFinite(+v)) s[k] = +v;
    } else if (BOOLEANS.includes(k)) {
      s[k] = v !== "false";
    } else if (v.trim() !== "") {
      s[k] = v;
    }
  }
  if (!s.seed) s.seed = Math.random().toFixed(5);
  return s;
}

let state = parseHash();

function writeHash() {
  const parts = [];
  for (const k of Object.keys(DEFAULTS)) {
    if (k === "play") continue;
    const v = k === "networkShape" ? state[k].join(",") : state[k];
    parts.push(k + "=" + encodeURIComponent(v));
  }
  history.replaceState(null, "", "#" + parts.join("&"));
}

// ---- colours: the Playground's scale, orange (−1) through light grey (0) to blue (+1) ----
const NEG = [245, 147, 34], MID = [232, 234, 235], POS = [8, 119, 189];
function colour(v) { // v in [-1, 1]
  const t = Math.max(-1, Math.min(1, v));
  const [a, b, u] = t < 0 ? [MID, NEG, -t] : [MID, POS, t];
  return [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u];
}
const PALETTE = Array.from({ length: 256 }, (_, i) => colour(i / 127.5 - 1));

const $ = (id) => document.getElementById(id);

// Draws grid × grid values (bytes 0…255 for [-1, 1], row by row from the top) on a canvas.
const scratch = document.createElement("canvas");
// `pale` mixes the colours halfway to white, so that points drawn on top stay visible.
function drawField(canvas, bytes, grid, discretize, pale) {
  scratch.width = grid; scratch.height = grid;
  const sctx = scratch.getContext("2d");
  const img = sctx.createImageData(grid, grid);
  for (let i = 0; i < grid * grid; i++) {
    let b = bytes[i];
    if (discretize) b = b >= 128 ? 255 : 0;
    const c = PALETTE[b];
    const k = pale ? 0.45 : 0;
    img.data[4 * i] = c[0] + (255 - c[0]) * k;
    img.data[4 * i + 1] = c[1] + (255 - c[1]) * k;
    img.data[4 * i + 2] = c[2] + (255 - c[2]) * k;
    img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = !discretize;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

function decode(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// A feature's own picture, computed here: it does not change while training.
function featureBytes(f, grid) {
  const out = new Uint8Array(grid * grid);
  const cell = 2 * HALF / grid;
  let max = 0;
  const vals = [];
  for (let r = 0; r < grid; r++) for (let c = 0; c < grid; c++) {
    const v = f(-HALF + (c + 0.5) * cell, HALF - (r + 0.5) * cell);
    vals.push(v); max = Math.max(max, Math.abs(v));
  }
  vals.forEach((v, i) => { out[i] = Math.round((v / (max || 1) + 1) * 127.5); });
  return out;
}

function drawPoints(canvas, points, hollow) {
  const ctx = canvas.getContext("2d");
  const s = canvas.width / (2 * HALF);
  for (const [x, y, t] of points) {
    const c = colour(t);
    ctx.beginPath();
    ctx.arc((x + HALF) * s, (HALF - y) * s, canvas.width > 100 ? 3 : 1.3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.strokeStyle = hollow ? "#000" : "#fff";
    ctx.lineWidth = hollow ? 1.2 : 1;
    ctx.fill();
    if (canvas.width > 100) ctx.stroke();
  }
}

// ---- the job on the server ----
let job = null;          // { id, points, regression, command }
let events = null;       // EventSource
let playing = false;
let latest = null;       // the newest snapshot not yet drawn
let shown = null;        // the snapshot on screen
let lossHistory = [];    // [epoch, train, test]
let starting = 0;        // increases with every reset: answers to older resets are dropped

function message(text) {
  const m = $("message");
  m.textContent = text || "";
  m.hidden = !text;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) {
    let text = res.status + " " + res.statusText;
    try { text = (await res.json()).error || text; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  return res.status === 204 ? null : res.json();
}

function settingsBody() {
  const b = {};
  for (const k of Object.keys(DEFAULTS)) {
    if (k === "showTestData" || k === "discretize" || k === "speed") continue;
    b[k] = state[k];
  }
  b.seed = String(state.seed);
  b.play = playing;
  if (state.speed !== "max" && isFinite(+state.speed)) b.speed = +state.speed;
  return b;
}

async function reset() {
  const mine = ++starting;
  if (events) { events.close(); events = null; }
  if (job) { const old = job.id; job = null; api("DELETE", "/api/jobs/" + old).catch(() => {}); }
  latest = null; shown = null; lossHistory = [];
  $("iter-number").textContent = "000,000";
  $("loss-test").textContent = "–"; $("loss-train").textContent = "–";
  writeHash();
  buildNetwork();
  let started;
  try {
    started = await api("POST", "/api/jobs", settingsBody());
  } catch (e) {
    if (mine === starting) { message(e.message); setPlaying(false, true); }
    return;
  }
  if (mine !== starting) { api("DELETE", "/api/jobs/" + started.id).catch(() => {}); return; }
  message("");
  job = started;
  $("command").textContent = job.command;
  $("download-model").href = `/api/jobs/${job.id}/model.safetensors`;
  $("download-picture").href = `/api/jobs/${job.id}/picture.svg`;
  events = new EventSource(`/api/jobs/${job.id}/events`);
  events.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (ev.type === "snapshot") {
      latest = ev;
      lossHistory.push([ev.epoch, ev.lossTrain, ev.lossTest]);
      if (lossHistory.length > 2000) lossHistory = lossHistory.filter((_, i) => i % 2 === 0);
    } else if (ev.type === "error") {
      message("Training stopped: " + ev.message);
      setPlaying(false, true);
    } else if (ev.type === "end") {
      setPlaying(false, true);
    }
  };
  events.onerror = () => {
    if (events && events.readyState === EventSource.CLOSED) message("The server closed the stream: press reset to start again.");
  };
}

function setPlaying(on, local) {
  playing = on;
  const b = $("play-pause-button");
  b.textContent = on ? "❚❚" : "▶";
  b.classList.toggle("playing", on);
  if (!local && job) api("POST", `/api/jobs/${job.id}/${on ? "play" : "pause"}`).catch((e) => message(e.message));
}

// ---- the network diagram ----
const NODE = 40;
let layout = null; // positions of every node, to draw the links

function buildNetwork() {
  const nodes = $("nodes");
  nodes.innerHTML = "";
  const shape = state.networkShape;
  $("num-layers").textContent = shape.length;
  $("layers-label").textContent = shape.length === 1 ? "hidden layer" : "hidden layers";
  const width = $("network").clientWidth || 600;
  const columns = shape.length + 2; // features, hidden…, output
  const xOf = (c) => 70 + c * (width - 70 - NODE - 10) / (columns - 1);
  layout = { columns: [] };
  // Features: every one shown, the unused ones dimmed; click toggles.
  const feats = [];
  FEATURES.forEach(([key, label, f], i) => {
    const el = document.createElement("div");
    el.className = "node" + (state[key] ? "" : " off");
    el.style.left = xOf(0) + "px"; el.style.top = (40 + i * 52) + "px";
    el.title = label + (state[key] ? " (click to leave out)" : " (click to feed in)");
    const canvas = document.createElement("canvas");
    canvas.width = 40; canvas.height = 40;
    drawField(canvas, featureBytes(f, 20), 20, false);
    el.appendChild(canvas);
    const lab = document.createElement("span");
    lab.className = "label"; lab.textContent = label;
    el.appendChild(lab);
    el.onclick = () => { state[key] = !state[key]; reset(); };
    el.id = "feature-" + key;
    nodes.appendChild(el);
    if (state[key]) feats.push({ x: xOf(0) + NODE, y: 40 + i * 52 + NODE / 2, xin: xOf(0) });
  });
  layout.columns.push(feats);
  shape.forEach((n, l) => {
    const x = xOf(l + 1);
    const col = [];
    const buttons = document.createElement("div");
    buttons.className = "layer-buttons";
    buttons.style.left = x + "px"; buttons.style.top = "0px";
    const plus = document.createElement("button"); plus.className = "round"; plus.textContent = "+";
    plus.title = "Add a neuron";
    plus.onclick = () => { if (state.networkShape[l] < MAX_NEURONS) { state.networkShape[l]++; reset(); } };
    const minus = document.createElement("button"); minus.className = "round"; minus.textContent = "−";
    minus.title = "Remove a neuron";
    minus.onclick = () => { if (state.networkShape[l] > 1) { state.networkShape[l]--; reset(); } };
    buttons.append(plus, minus);
    nodes.appendChild(buttons);
    const count = document.createElement("div");
    count.className = "layer-count"; count.style.left = x + "px"; count.style.top = "28px";
    count.textContent = n + (n === 1 ? " neuron" : " neurons");
    nodes.appendChild(count);
    for (let u = 0; u < n; u++) {
      const el = document.createElement("div");
      el.className = "node neuron";
      el.id = `neuron-${l}-${u}`;
      const y = 52 + u * 52;
      el.style.left = x + "px"; el.style.top = y + "px";
      const canvas = document.createElement("canvas");
      canvas.width = 40; canvas.height = 40;
      el.appendChild(canvas);
      nodes.appendChild(el);
      col.push({ x: x + NODE, y: y + NODE / 2, xin: x, canvas, layer: l, unit: u });
    }
    layout.columns.push(col);
  });
  // The output: the links end at the edge, where the output picture (right) takes over.
  const ox = xOf(columns - 1) + NODE;
  layout.columns.push([{ x: ox, y: 40 + 3 * 52 + NODE / 2, xin: ox }]);
  $("network").style.minHeight = Math.max(420, 52 * Math.max(7, ...shape.map((n) => n + 1)) + 40) + "px";
  drawLinks(null);
}

function drawLinks(snap) {
  const svg = $("links");
  svg.innerHTML = "";
  if (!layout) return;
  const ns = "http://www.w3.org/2000/svg";
  for (let l = 0; l + 1 < layout.columns.length; l++) {
    const from = layout.columns[l], to = layout.columns[l + 1];
    const w = snap && snap.weights[l];
    from.forEach((a, i) => to.forEach((b, j) => {
      const d = `M${a.x},${a.y} C${(a.x + b.xin) / 2},${a.y} ${(a.x + b.xin) / 2},${b.y} ${b.xin},${b.y}`;
      const v = w && w[i] ? w[i][j] : 0;
      const c = colour(Math.max(-1, Math.min(1, v)));
      const p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      p.setAttribute("stroke", `rgb(${c[0]},${c[1]},${c[2]})`);
      p.setAttribute("stroke-width", w ? Math.min(8, 0.5 + Math.abs(v) * 3).toFixed(2) : "1");
      p.setAttribute("class", "link");
      svg.appendChild(p);
      const hit = document.createElementNS(ns, "path");
      hit.setAttribute("d", d);
      hit.setAttribute("class", "hit");
      hit.addEventListener("mousemove", (e) => hover(e, `weight ${v.toPrecision(4)}`));
      hit.addEventListener("mouseleave", () => { $("hovercard").hidden = true; });
      svg.appendChild(hit);
    }));
  }
}

function hover(e, text) {
  const card = $("hovercard");
  const box = $("network-column").getBoundingClientRect();
  card.textContent = text;
  card.style.left = (e.clientX - box.left + 12) + "px";
  card.style.top = (e.clientY - box.top + 12) + "px";
  card.hidden = false;
}

// ---- drawing a snapshot ----
function drawLossChart() {
  const c = $("loss-chart"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  if (lossHistory.length < 2) return;
  const last = lossHistory[lossHistory.length - 1][0] || 1;
  const top = Math.max(...lossHistory.map((p) => Math.max(p[1], p[2]))) || 1;
  for (const [k, col] of [[1, "#777"], [2, "#000"]]) {
    ctx.beginPath(); ctx.strokeStyle = col; ctx.lineWidth = 1.5;
    lossHistory.forEach((p, i) => {
      const x = p[0] / last * (c.width - 2) + 1, y = c.height - 2 - p[k] / top * (c.height - 4);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
}

function draw(snap) {
  $("iter-number").textContent = snap.epoch.toLocaleString("en-US", { minimumIntegerDigits: 6 });
  $("loss-test").textContent = snap.lossTest.toFixed(3);
  $("loss-train").textContent = snap.lossTrain.toFixed(3);
  const heat = $("heatmap");
  drawField(heat, decode(snap.output), snap.grid, state.discretize, true);
  if (job) $("command").textContent = job.command + " --epochs " + snap.epoch;
  if (job) {
    drawPoints(heat, job.points.train, false);
    if (state.showTestData) drawPoints(heat, job.points.test, true);
  }
  layout.columns.slice(1, -1).forEach((col) => col.forEach((n) => {
    const b = snap.neurons[n.layer] && snap.neurons[n.layer][n.unit];
    if (b) drawField(n.canvas, decode(b), snap.grid, state.discretize);
    const bias = snap.biases[n.layer] ? snap.biases[n.layer][n.unit] : 0;
    n.canvas.parentElement.title = `bias ${Number(bias).toPrecision(4)}`;
  }));
  drawLinks(snap);
  drawLossChart();
}

function frame() {
  if (latest && latest !== shown) { shown = latest; draw(shown); }
  requestAnimationFrame(frame);
}

// ---- controls ----
function fillSelect(id, values, current) {
  const s = $(id);
  const all = values.includes(current) ? values : values.concat([current]).sort((a, b) => a - b);
  s.innerHTML = all.map((v) => `<option value="${v}">${v}</option>`).join("");
  s.value = String(current);
}

function datasetThumbs() {
  const box = $("datasets");
  box.innerHTML = "";
  const regression = state.problem === "regression";
  for (const name of regression ? REGRESS_SETS : CLASSIFY_SETS) {
    const c = document.createElement("canvas");
    c.width = 76; c.height = 76; c.id = "dataset-" + name; c.title = name;
    const selected = regression ? state.regDataset === name : state.dataset === name;
    c.className = selected ? "selected" : "";
    c.onclick = () => { if (regression) state.regDataset = name; else state.dataset = name; datasetThumbs(); reset(); };
    box.appendChild(c);
    drawThumb(c, name);
  }
}

// Thumbnails show each set's idea, drawn here (the real points come with the job).
function drawThumb(c, name) {
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#f2f2f2"; ctx.fillRect(0, 0, c.width, c.height);
  let rnd = 7;
  const rand = () => ((rnd = (rnd * 16807) % 2147483647) / 2147483647);
  const pts = [];
  for (let i = 0; i < 160; i++) {
    let x = rand() * 8 - 4, y = rand() * 8 - 4, t;
    if (name === "circle") t = x * x + y * y < 2 ? 1 : (x * x + y * y > 2.9 ? -1 : null);
    else if (name === "xor") t = x * y > 0 ? 1 : -1;
    else if (name === "gauss") { const s = i % 2 ? 1 : -1; x = 2 * s + (rand() - .5) * 2.4; y = 2 * s + (rand() - .5) * 2.4; t = s; }
    else if (name === "spiral") { const s = rand(), lab = i % 2 ? 1 : -1, r = 4 * s, a = 1.75 * 2 * Math.PI * s + (lab > 0 ? Math.PI : 0); x = r * Math.sin(a); y = r * Math.cos(a); t = lab; }
    else if (name === "reg-plane") t = (x + y) / 8;
    else t = Math.sin(x * 1.2) * Math.cos(y * 0.9);
    if (t !== null) pts.push([x, y, t]);
  }
  drawPoints(c, pts, false);
}

function bindControls() {
  fillSelect("learningRate", LEARNING_RATES, state.learningRate);
  fillSelect("regularizationRate", REG_RATES, state.regularizationRate);
  for (const id of ["activation", "regularization", "problem", "optimizer"]) {
    $(id).value = state[id];
    $(id).onchange = () => { state[id] = $(id).value; if (id === "problem") datasetThumbs(); reset(); };
  }
  for (const id of ["learningRate", "regularizationRate"]) {
    $(id).onchange = () => { state[id] = +$(id).value; reset(); };
  }
  // The pace changes the running job, not the run: no reset.
  $("speed").value = [...$("speed").options].some((o) => o.value === String(state.speed)) ? String(state.speed) : "max";
  $("speed").onchange = () => {
    state.speed = $("speed").value;
    writeHash();
    if (job) api("POST", `/api/jobs/${job.id}/pace/${state.speed}`).catch((e) => message(e.message));
  };
  for (const id of ["percTrainData", "noise", "batchSize"]) {
    const el = $(id);
    el.value = state[id];
    $(id + "-value").textContent = state[id];
    el.oninput = () => { $(id + "-value").textContent = el.value; };
    el.onchange = () => { state[id] = +el.value; reset(); };
  }
  $("show-test-data").checked = state.showTestData;
  $("discretize").checked = state.discretize;
  $("show-test-data").onchange = () => { state.showTestData = $("show-test-data").checked; writeHash(); if (shown) draw(shown); };
  $("discretize").onchange = () => { state.discretize = $("discretize").checked; writeHash(); if (shown) draw(shown); };
  $("data-regen-button").onclick = () => { state.seed = Math.random().toFixed(5); reset(); };
  $("add-layers").onclick = () => { if (state.networkShape.length < MAX_LAYERS) { state.networkShape.push(2); reset(); } };
  $("remove-layers").onclick = () => { if (state.networkShape.length > 0) { state.networkShape.pop(); reset(); } };
  $("reset-button").onclick = () => reset();
  $("play-pause-button").onclick = () => setPlaying(!playing, false);
  $("next-step-button").onclick = () => {
    setPlaying(false, true);
    if (job) api("POST", `/api/jobs/${job.id}/step`).catch((e) => message(e.message));
  };
  // The colour scale's legend.
  const leg = document.createElement("canvas");
  leg.width = 160; leg.height = 10;
  const lctx = leg.getContext("2d");
  for (let i = 0; i < 160; i++) { const c = colour(i / 79.5 - 1); lctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; lctx.fillRect(i, 0, 1, 10); }
  $("legend").append("−1", leg, "1");
  window.addEventListener("resize", () => { buildNetwork(); if (shown) draw(shown); });
}

bindControls();
datasetThumbs();
playing = !!state.play;
setPlaying(playing, true);
reset();
requestAnimationFrame(frame);
