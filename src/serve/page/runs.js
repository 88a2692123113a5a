// The Runs page: the folder's runs as a table that updates every second, and their curves,
// overlaid, in the manner of TensorBoard. Everything comes from /api/runs; a run is named by
// the id the server gave it.
"use strict";

const tbody = document.querySelector("#runs-table tbody");
const lossChart = new LineChart(document.getElementById("loss-curves"));
const accChart = new LineChart(document.getElementById("acc-curves"));
const shown = new Map();      // run id → whether its curves are drawn (new runs: yes)
const curves = new Map();     // run id → {sig, data}
const hidden = new Set();     // series names switched off in the legend
const colours = new Map();    // "id/name" → colour
let list = [];

function colour(key) {
  if (!colours.has(key)) colours.set(key, PALETTE[colours.size % PALETTE.length]);
  return colours.get(key);
}

function pct(v) { return v == null ? "" : v.toFixed(4); }
function duration(s) {
  if (s == null || !isFinite(s)) return "";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} m`;
}
function esc(t) { return String(t).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

function settingsText(s) {
  if (!s) return "";
  const parts = [];
  if (s.dataset) parts.push(s.dataset);
  if (s.layers) parts.push(s.layers.join(" ")); else if (s.net) parts.push(s.net);
  if (s.optimizer) parts.push(`${s.optimizer}${s.lr != null ? " lr " + s.lr : ""}`);
  if (s.batch != null) parts.push(`batch ${s.batch}`);
  if (s.seed != null) parts.push(`seed ${s.seed}`);
  return parts.join(" · ");
}

function row(r) {
  const tr = document.createElement("tr");
  tr.dataset.name = r.name;
  tr.dataset.id = r.id;
  const on = shown.get(r.id) !== false;
  const epoch = r.planned_epochs ? `${r.epoch} of ${r.planned_epochs}` : (r.epoch ?? "");
  const m = r.members && r.members.length === 1 && !r.group ? r.members[0] : {};
  const swatch = r.group ? "" : `<span class="swatch" style="background:${colour(r.id + "/" + r.name)}"></span>`;
  tr.innerHTML = `<td><input type="checkbox" ${on ? "checked" : ""} title="draw its curves"></td>
    <td class="name">${swatch}<b class="run-name">${esc(r.name)}</b>${r.group ? " <small>(group)</small>" : ""}${r.checkpoint ? " <small>· checkpoint</small>" : ""}
      ${r.error ? `<div class="error">${esc(r.error)}</div>` : ""}${r.summary_error ? `<div class="error">${esc(r.summary_error)}</div>` : ""}</td>
    <td>${esc(settingsText(r.settings))}</td>
    <td><span class="state ${esc(r.state)}">${esc(r.state)}</span>${r.updated_seconds_ago != null ? `<br><small>written ${duration(r.updated_seconds_ago)} ago</small>` : ""}</td>
    <td class="num epoch">${esc(epoch)}</td>
    <td class="num eta">${r.eta_seconds != null ? duration(r.eta_seconds) : ""}</td>
    <td class="num loss">${m.loss != null ? m.loss.toFixed(4) : ""}</td>
    <td class="num train-acc">${pct(m.train_acc)}</td>
    <td class="num test-acc">${pct(m.test_acc)}</td>`;
  tr.querySelector("input").addEventListener("change", e => { shown.set(r.id, e.target.checked); redraw(); });
  tbody.appendChild(tr);
  if (r.group) {
    for (const m of r.members) {
      const t = document.createElement("tr");
      t.className = "member";
      t.dataset.name = `${r.name}/${m.name}`;
      t.innerHTML = `<td></td><td class="name"><span class="swatch" style="background:${colour(r.id + "/" + m.name)}"></span>${esc(m.name)}</td><td></td><td></td>
        <td class="num epoch">${m.epoch ?? ""}</td><td></td><td class="num loss">${m.loss != null ? m.loss.toFixed(4) : ""}</td>
        <td class="num train-acc">${pct(m.train_acc)}</td><td class="num test-acc">${pct(m.test_acc)}</td>`;
      tbody.appendChild(t);
    }
  }
}

async function poll() {
  try {
    const res = await fetch("/api/runs");
    const body = await res.json();
    document.getElementById("folder").textContent = body.folder
      ? `${body.runs.length} run${body.runs.length === 1 ? "" : "s"} in ${body.folder} (updated every second)`
      : "No folder of runs: start the server with `scratchnet serve --runs DIR` (or `train --log DIR/NAME.csv --serve`).";
    list = body.runs;
    tbody.innerHTML = "";
    for (const r of list) row(r);
    if (list.length === 0 && body.folder) tbody.innerHTML = `<tr><td colspan="9" class="empty">No --log files in the folder yet.</td></tr>`;
    // Fetch the curves of every drawn run whose files changed.
    let changed = false;
    for (const r of list) {
      if (shown.get(r.id) === false || r.state === "unreadable") continue;
      const sig = JSON.stringify([r.epoch, r.state, r.members]);
      const have = curves.get(r.id);
      if (have && have.sig === sig) continue;
      const c = await fetch(`/api/runs/${r.id}`);
      if (!c.ok) continue;
      curves.set(r.id, { sig, data: await c.json() });
      changed = true;
    }
    if (changed) redraw();
  } catch (e) {
    document.getElementById("folder").textContent = `cannot reach the server: ${e}`;
  }
  setTimeout(poll, 1000);
}

// x for a point at iteration `it` of a run with these epochs, by the chosen axis.
function xOf(axis, it, epochs) {
  if (axis === "iteration") return it;
  let prevIt = 0, prevX = 0;
  for (let k = 0; k < epochs.length; k++) {
    const e = epochs[k];
    const span = axis === "epoch" ? 1 : e.seconds;
    if (it <= e.iterations) return prevX + (it - prevIt) / Math.max(1, e.iterations - prevIt) * span;
    prevIt = e.iterations; prevX += span;
  }
  // Past the last epoch's end (the epoch under way): at the last epoch's pace.
  const last = epochs[epochs.length - 1];
  if (!last) return null;
  const len = Math.max(1, last.iterations - (epochs.length > 1 ? epochs[epochs.length - 2].iterations : 0));
  const span = axis === "epoch" ? 1 : last.seconds;
  return prevX + (it - prevIt) / len * span;
}

function ema(ys, w) {
  let last = 0, n = 0;
  return ys.map(y => { last = last * w + (1 - w) * y; n++; return last / (1 - Math.pow(w, n)); });
}

function redraw() {
  const axis = document.getElementById("x-axis").value;
  const how = document.getElementById("smoothing").value;
  const w = parseFloat(document.getElementById("ema").value);
  const xLabel = { iteration: "iteration", epoch: "epoch", time: "training time (s)" }[axis];
  const loss = [], acc = [], names = [];
  for (const r of list) {
    if (shown.get(r.id) === false) continue;
    const c = curves.get(r.id);
    if (!c || !c.data.series) continue;
    for (const s of c.data.series) {
      const name = c.data.group ? `${r.name}/${s.name}` : r.name;
      names.push([name, colour(r.id + "/" + s.name)]);
      if (hidden.has(name)) continue;
      const col = colour(r.id + "/" + s.name);
      const xs = s.iterations.map(it => xOf(axis, it, s.epochs));
      const raw = s.loss.map((y, i) => [xs[i], y]);
      if (how === "none") {
        loss.push({ name, color: col, points: raw });
      } else {
        const ys = how === "course" ? s.smoothed : ema(s.loss, w);
        loss.push({ name: name + " (raw)", color: col, points: raw, faint: true, width: 1 });
        loss.push({ name, color: col, points: ys.map((y, i) => [xs[i], y]) });
      }
      let t = 0;
      const ex = s.epochs.map(e => axis === "iteration" ? e.iterations : axis === "epoch" ? e.epoch : (t += e.seconds));
      acc.push({ name: name + " test", color: col, points: s.epochs.map((e, i) => [ex[i], e.test_acc]) });
      acc.push({ name: name + " train", color: col, dash: [5, 4], points: s.epochs.map((e, i) => [ex[i], e.train_acc]) });
    }
  }
  lossChart.set(loss, { title: "mini-batch loss" + (how === "course" ? " (smoothed as the course's smooth_curve)" : how === "ema" ? ` (exponential smoothing ${w.toFixed(2)})` : ""), xLabel, yLabel: "loss" });
  accChart.set(acc, { title: "accuracy per epoch (solid: test, dashed: training)", xLabel, yLabel: "accuracy" });
  const legend = document.getElementById("run-legend");
  legend.innerHTML = "";
  for (const [name, col] of names) {
    const span = document.createElement("span");
    span.innerHTML = `<span class="swatch" style="background:${col}"></span>${esc(name)}`;
    if (hidden.has(name)) span.className = "off";
    span.addEventListener("click", () => { hidden.has(name) ? hidden.delete(name) : hidden.add(name); redraw(); });
    legend.appendChild(span);
  }
}

document.getElementById("x-axis").addEventListener("change", redraw);
document.getElementById("smoothing").addEventListener("change", e => {
  document.getElementById("ema").disabled = e.target.value !== "ema";
  redraw();
});
document.getElementById("ema").addEventListener("input", e => {
  document.getElementById("ema-value").textContent = parseFloat(e.target.value).toFixed(2);
  redraw();
});
poll();
