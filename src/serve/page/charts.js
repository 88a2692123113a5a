// Line charts and grey pictures on canvas, by hand: what the Runs and Draw pages draw with.
// No library: a few hundred points per series need only lines, axes and a hover readout.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

// Round numbers for axis ticks between lo and hi, about n of them.
function ticks(lo, hi, n) {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(v);
  return out;
}

function fmt(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e7) return String(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
  return v.toPrecision(3).replace(/\.?0+$/, "");
}

// A chart on `canvas`: set(series, {title, xLabel, yLabel, yMin, yMax}), redrawn on hover.
// series: [{name, color, points: [[x, y], ...], width, faint}]
class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.series = [];
    this.opts = {};
    this.hoverX = null;
    canvas.addEventListener("mousemove", e => {
      const r = canvas.getBoundingClientRect();
      this.hoverX = (e.clientX - r.left) * (canvas.width / r.width);
      this.draw();
    });
    canvas.addEventListener("mouseleave", () => { this.hoverX = null; this.draw(); });
  }

  set(series, opts) {
    this.series = series;
    this.opts = opts || {};
    this.draw();
  }

  draw() {
    const c = this.canvas, g = c.getContext("2d");
    const W = c.width, H = c.height, L = 58, R = 14, T = 26, B = 36;
    g.clearRect(0, 0, W, H);
    g.font = "12px Helvetica, Arial, sans-serif";
    g.fillStyle = "#333";
    g.fillText(this.opts.title || "", L, 16);
    const pts = this.series.flatMap(s => s.points).filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length === 0) {
      g.fillStyle = "#999";
      g.fillText("nothing to draw yet", L + 10, T + 30);
      return;
    }
    let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
    let y0 = this.opts.yMin ?? Math.min(...pts.map(p => p[1]));
    let y1 = this.opts.yMax ?? Math.max(...pts.map(p => p[1]));
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const px = x => L + (x - x0) / (x1 - x0) * (W - L - R);
    const py = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    g.strokeStyle = "#ddd"; g.fillStyle = "#666"; g.lineWidth = 1;
    for (const v of ticks(y0, y1, 5)) {
      g.beginPath(); g.moveTo(L, py(v)); g.lineTo(W - R, py(v)); g.stroke();
      g.fillText(fmt(v), 4, py(v) + 4);
    }
    for (const v of ticks(x0, x1, 6)) {
      g.beginPath(); g.moveTo(px(v), T); g.lineTo(px(v), H - B); g.stroke();
      const label = fmt(v);
      g.fillText(label, Math.min(px(v) - g.measureText(label).width / 2, W - g.measureText(label).width - 2), H - B + 14);
    }
    g.fillText(this.opts.xLabel || "", W / 2 - 30, H - 6);
    g.save(); g.translate(12, T + (H - T - B) / 2 + 30); g.rotate(-Math.PI / 2);
    g.fillText(this.opts.yLabel || "", 0, 0); g.restore();
    g.save();
    g.beginPath(); g.rect(L, T, W - L - R, H - T - B); g.clip();
    for (const s of this.series) {
      g.strokeStyle = s.color; g.lineWidth = s.width || 1.5;
      g.setLineDash(s.dash || []);
      g.globalAlpha = s.faint ? 0.25 : 1;
      g.beginPath();
      let started = false;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(x) || !Number.isFinite(y)) { started = false; continue; }
        if (started) g.lineTo(px(x), py(y)); else { g.moveTo(px(x), py(y)); started = true; }
      }
      g.stroke();
      if (s.points.length === 1) {
        const [x, y] = s.points[0];
        g.fillStyle = s.color; g.fillRect(px(x) - 2, py(y) - 2, 4, 4);
      }
    }
    g.restore();
    g.globalAlpha = 1;
    g.setLineDash([]);
    // Hover: the value of every (non-faint) series nearest the pointer's x.
    if (this.hoverX !== null && this.hoverX >= L && this.hoverX <= W - R) {
      const x = x0 + (this.hoverX - L) / (W - L - R) * (x1 - x0);
      g.strokeStyle = "#999"; g.beginPath(); g.moveTo(this.hoverX, T); g.lineTo(this.hoverX, H - B); g.stroke();
      const rows = [];
      for (const s of this.series) {
        if (s.faint || s.points.length === 0) continue;
        const ok = s.points.filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1]));
        if (ok.length === 0) continue;
        let best = ok[0];
        for (const p of ok) if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p;
        rows.push([s.color, `${s.name}: ${fmt(best[1])} at ${fmt(best[0])}`]);
        g.fillStyle = s.color; g.beginPath(); g.arc(px(best[0]), py(best[1]), 3, 0, 7); g.fill();
      }
      const bw = Math.max(...rows.map(r => g.measureText(r[1]).width)) + 16;
      let bx = this.hoverX + 8; if (bx + bw > W) bx = this.hoverX - bw - 8;
      g.fillStyle = "rgba(255,255,255,.92)"; g.fillRect(bx, T + 4, bw, rows.length * 16 + 6);
      rows.forEach((r, i) => { g.fillStyle = r[0]; g.fillText(r[1], bx + 8, T + 18 + i * 16); });
    }
  }
}

// Grey bytes (base64, one per pixel, row after row) as a w×h picture on a new canvas drawn
// `scale` times larger, pixels kept square.
function greyCanvas(b64, w, h, scale, title) {
  const bytes = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const img = small.getContext("2d").createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = bytes[i] || 0;
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  small.getContext("2d").putImageData(img, 0, 0);
  const big = document.createElement("canvas");
  big.width = w * scale; big.height = h * scale;
  const g = big.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, big.width, big.height);
  if (title) big.title = title;
  return big;
}
