// The Draw page: draw a digit (mouse, pen or finger: pointer events) or upload a picture, and
// see what the model makes of it. The canvas goes to the server as a PNG, where it is prepared
// exactly as `predict --image` prepares a file.
"use strict";

const canvas = document.getElementById("draw-canvas");
const g = canvas.getContext("2d");
const select = document.getElementById("model-select");
const message = document.getElementById("message");
let model = null;        // the picked model's info
let inFlight = false, dirty = false, lastSent = 0, drawing = false, last = null, wrongPage = 0;

function esc(t) { return String(t).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

function clearCanvas() {
  g.fillStyle = "#000";
  g.fillRect(0, 0, canvas.width, canvas.height);
  document.getElementById("prediction").textContent = "";
  document.getElementById("bars").innerHTML = "";
  document.getElementById("input-pixels").innerHTML = "";
  document.getElementById("maps").innerHTML = "";
  document.getElementById("maps-title").textContent = "";
}

async function call(url, options) {
  const res = await fetch(url, options);
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

async function loadModels() {
  try {
    const { models } = await call("/api/models");
    select.innerHTML = models.map(m => `<option value="${esc(m.id)}">${esc(m.name)} (${esc(m.source)})</option>`).join("");
    if (models.length === 0) {
      message.textContent = "No model: start the server with `scratchnet serve --model FILE`, or `--runs DIR` with checkpoints in it.";
      return;
    }
    await pick(models[0].id);
  } catch (e) { message.textContent = e.message; }
}

async function pick(id) {
  message.textContent = "";
  clearCanvas();
  document.getElementById("misclassified").innerHTML = "";
  document.getElementById("wrong-summary").textContent = "";
  document.getElementById("wrong-pager").innerHTML = "";
  try {
    model = await call(`/api/models/${encodeURIComponent(id)}`);
  } catch (e) { model = null; message.textContent = e.message; return; }
  document.getElementById("model-about").textContent =
    `${model.dataset} · ${model.layers.join(" ")} · ${model.drawable ? "draw on the black square" : "upload a photo"}`;
  canvas.style.display = model.drawable ? "" : "none";
  document.getElementById("clear").style.display = model.drawable ? "" : "none";
  document.getElementById("preparation").textContent = `prepared ${model.preparation}`;
  const first = document.getElementById("first-layer");
  first.innerHTML = "";
  document.getElementById("first-title").textContent = model.first_layer ? model.first_layer.title : "";
  if (model.first_layer) {
    const [h, w] = model.first_layer.size;
    const scale = Math.max(1, Math.round(56 / Math.max(h, w)));
    model.first_layer.tiles.forEach((t, i) => first.appendChild(greyCanvas(t, w, h, scale, `unit ${i}`)));
  }
}

function showPrediction(p) {
  document.getElementById("prediction").textContent = p.label;
  const bars = document.getElementById("bars");
  bars.innerHTML = "";
  p.probabilities.forEach((v, k) => {
    const div = document.createElement("div");
    div.className = "bar" + (k === p.predicted ? " top" : "");
    div.innerHTML = `<span class="label">${esc(model.labels[k])}</span><span class="fill" style="width:${Math.round(v * 200)}px"></span><span class="p">${v.toFixed(3)}</span>`;
    bars.appendChild(div);
  });
  const [h, w] = p.size;
  const pix = document.getElementById("input-pixels");
  pix.innerHTML = "";
  pix.appendChild(greyCanvas(p.input, w, h, Math.round(140 / w), "the model's input"));
  const maps = document.getElementById("maps");
  maps.innerHTML = "";
  document.getElementById("maps-title").textContent = p.maps.length ? "feature maps of every conv layer, for this picture" : "";
  for (const layer of p.maps) {
    const title = document.createElement("div");
    title.style.cssText = "font-size:12px;color:#666;margin-top:8px";
    title.textContent = `${layer.layer}: ${layer.size[0]} maps of ${layer.size[1]}×${layer.size[2]}`;
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    const scale = Math.max(1, Math.round(56 / layer.size[1]));
    layer.maps.forEach((m, i) => tiles.appendChild(greyCanvas(m, layer.size[2], layer.size[1], scale, `map ${i}`)));
    maps.appendChild(title);
    maps.appendChild(tiles);
  }
}

async function send(blob) {
  if (!model) return;
  inFlight = true;
  lastSent = performance.now();
  try {
    const p = await call(`/api/models/${encodeURIComponent(model.id)}/predict`, { method: "POST", body: blob });
    message.textContent = "";
    showPrediction(p);
  } catch (e) { message.textContent = e.message; }
  inFlight = false;
  if (dirty) { dirty = false; predictCanvas(); }
}

// At most one request in flight; strokes drawn meanwhile are sent when it returns.
function predictCanvas() {
  if (inFlight) { dirty = true; return; }
  inFlight = true;
  canvas.toBlob(b => { inFlight = false; send(b); }, "image/png");
}

function point(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
}

canvas.addEventListener("pointerdown", e => {
  drawing = true;
  last = point(e);
  try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* a synthetic pointer */ }
  g.fillStyle = "#fff";
  g.beginPath(); g.arc(last[0], last[1], 9, 0, 7); g.fill();
  e.preventDefault();
});
canvas.addEventListener("pointermove", e => {
  if (!drawing) return;
  const p = point(e);
  g.strokeStyle = "#fff"; g.lineWidth = 18; g.lineCap = "round"; g.lineJoin = "round";
  g.beginPath(); g.moveTo(last[0], last[1]); g.lineTo(p[0], p[1]); g.stroke();
  last = p;
  if (performance.now() - lastSent > 100) predictCanvas();
  e.preventDefault();
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => { if (drawing) { drawing = false; predictCanvas(); } });
}
document.getElementById("clear").addEventListener("click", clearCanvas);
document.getElementById("upload").addEventListener("change", e => {
  const f = e.target.files[0];
  if (f) send(f);
});
select.addEventListener("change", () => pick(select.value));

async function showWrong(page) {
  if (!model) return;
  const box = document.getElementById("misclassified");
  document.getElementById("wrong-summary").textContent = "classifying the test set …";
  try {
    const w = await call(`/api/models/${encodeURIComponent(model.id)}/misclassified/${page}`);
    wrongPage = page;
    document.getElementById("wrong-summary").textContent =
      `${w.wrong} of ${w.test_images} test images wrong (accuracy ${w.accuracy.toFixed(4)}); page ${w.page + 1} of ${Math.max(1, w.pages)}, true → predicted:`;
    box.innerHTML = "";
    const [h, wd] = w.size;
    for (const it of w.items) {
      const d = document.createElement("div");
      d.className = "item";
      d.appendChild(greyCanvas(it.pixels, wd, h, 2, `test image ${it.index}`));
      d.appendChild(document.createElement("br"));
      d.appendChild(document.createTextNode(`${it.label} → ${it.predicted}`));
      box.appendChild(d);
    }
    const pager = document.getElementById("wrong-pager");
    pager.innerHTML = "";
    if (page > 0) { const b = document.createElement("button"); b.textContent = "‹ previous"; b.onclick = () => showWrong(page - 1); pager.appendChild(b); }
    if (page + 1 < w.pages) { const b = document.createElement("button"); b.textContent = "next ›"; b.onclick = () => showWrong(page + 1); pager.appendChild(b); }
  } catch (e) { document.getElementById("wrong-summary").textContent = e.message; }
}
document.getElementById("load-wrong").addEventListener("click", () => showWrong(0));

clearCanvas();
loadModels();
