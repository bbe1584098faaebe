"use strict";
// The sr-eval comparison page. Everything it shows is in the JSON of #uprez-data (written by
// uprez.runtime.evaluation.page.writer); the images are files beside this page.
//
// The view state is one zoom and one centre shared by both sides, so the two compared views
// always show the same pixels: stacked under a split line ("slider") or side by side. Zoom is
// in device pixels per image pixel, a whole number when enlarging, and positions are rounded to
// device pixels, so an enlarged image pixel is an exact square of one colour.
(() => {
  const data = JSON.parse(document.getElementById("uprez-data").textContent);
  const $ = (id) => document.getElementById(id);
  const ZOOMS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32];
  const viewIndex = Object.fromEntries(data.views.map((view, i) => [view.id, i]));
  const viewLabel = Object.fromEntries(data.views.map((view) => [view.id, view.label]));
  const withPictures = data.images.map((_, i) => i).filter((i) => data.images[i].pictures);

  const state = {
    image: withPictures.length ? withPictures[0] : -1,
    condition: 0,
    left: "bicubic",
    right: "m0",
    mode: "slider",
    split: 0.5,
    region: 0,
    zoom: 0, // 0: fit
    cx: 0, // region pixel at the centre of the panes
    cy: 0,
    sort: { column: -1, descending: false },
  };

  const stage = $("stage");
  const panes = {
    left: { pane: $("pane-left"), img: $("img-left"), tag: $("tag-left") },
    right: { pane: $("pane-right"), img: $("img-right"), tag: $("tag-right") },
  };

  // --- what is shown ---------------------------------------------------------------------

  const image = () => data.images[state.image];
  const pictures = () => (state.image >= 0 ? image().pictures : null);
  const region = () => pictures().regions[state.region];
  const pairKey = () => {
    const a = viewIndex[state.left];
    const b = viewIndex[state.right];
    return `${Math.min(a, b)}-${Math.max(a, b)}`;
  };
  const regionDiff = (r) => pictures().diff[state.condition][pairKey()][r];
  // regions by the difference between the two compared views, largest first
  const regionOrder = () =>
    pictures().regions.map((_, r) => r).sort((a, b) => regionDiff(b) - regionDiff(a));
  const source = (view) => {
    const src = region().src[view];
    return typeof src === "string" ? src : src[state.condition];
  };
  const fileScale = (view) => (view === "lr" ? data.scale : 1); // LR files are at LR size

  const dpr = () => window.devicePixelRatio || 1;
  const paneSize = () => ({ w: panes.left.pane.clientWidth, h: panes.left.pane.clientHeight });

  function fitZoom() {
    const { w, h } = paneSize();
    const [, , rw, rh] = region().rect;
    const z = Math.min((w * dpr()) / rw, (h * dpr()) / rh);
    return z >= 1 ? Math.min(Math.floor(z), ZOOMS[ZOOMS.length - 1]) : z;
  }
  const zoom = () => state.zoom || fitZoom();

  function clampCentre() {
    const { w, h } = paneSize();
    const [, , rw, rh] = region().rect;
    const k = zoom() / dpr(); // css pixels per region pixel
    const clamp = (c, size, paneLength) => {
      const half = paneLength / 2 / k;
      return size * k <= paneLength ? size / 2 : Math.min(Math.max(c, half), size - half);
    };
    state.cx = clamp(state.cx, rw, w);
    state.cy = clamp(state.cy, rh, h);
  }

  function place() {
    if (!pictures()) return;
    clampCentre();
    const { w, h } = paneSize();
    const z = zoom();
    const ratio = dpr();
    const [, , rw, rh] = region().rect;
    // in device pixels, rounded: the image's edges fall on device pixel boundaries
    const left = Math.round((w * ratio) / 2 - state.cx * z) / ratio;
    const top = Math.round((h * ratio) / 2 - state.cy * z) / ratio;
    const width = Math.round(rw * z) / ratio;
    const height = Math.round(rh * z) / ratio;
    for (const side of ["left", "right"]) {
      const img = panes[side].img;
      const view = side === "left" ? state.left : state.right;
      img.style.left = `${left}px`;
      img.style.top = `${top}px`;
      img.style.width = `${width}px`;
      img.style.height = `${height}px`;
      img.classList.toggle("sharp", z * fileScale(view) >= 1);
    }
    const splitX = Math.round(state.split * w * ratio) / ratio;
    panes.right.pane.style.clipPath = state.mode === "slider" ? `inset(0 0 0 ${splitX}px)` : "";
    $("handle").style.left = `${splitX}px`;
    $("handle").setAttribute("aria-valuenow", String(Math.round(state.split * 100)));
    const shown = z >= 1 ? `${Math.round(z)}×` : `${Math.round(z * 100)}%`;
    $("zoom-level").value = state.zoom ? shown : `fit ${shown}`;
    $("zoom-level").textContent = $("zoom-level").value;
  }

  function scoreText(view) {
    const scores = image().scores[state.condition][view];
    return scores ? ` · ${formatPsnr(scores[0])} dB` : "";
  }

  function renderViews() {
    const message = $("message");
    message.hidden = true;
    for (const side of ["left", "right"]) {
      const view = side === "left" ? state.left : state.right;
      const { img, tag } = panes[side];
      const src = source(view);
      if (img.getAttribute("src") !== src) {
        img.onerror = () => {
          message.textContent = `cannot load ${src} (was the folder moved without it?)`;
          message.hidden = false;
        };
        img.setAttribute("src", src);
      }
      img.alt = `${image().name}: ${viewLabel[view]}`;
      tag.textContent = viewLabel[view] + scoreText(view);
    }
    $("left-view").value = state.left;
    $("right-view").value = state.right;
    place();
    renderStatus();
    renderCrops();
    saveHash();
  }

  function renderStatus() {
    const im = image();
    const [x, y, w, h] = region().rect;
    const count = pictures().regions.length;
    const where = w === im.width && h === im.height
      ? "whole image"
      : `crop ${regionOrder().indexOf(state.region) + 1} of ${count}: ${w}×${h} at (${x}, ${y})`;
    const diff = regionDiff(state.region).toFixed(2);
    $("status").textContent = `${im.name} · ${im.width}×${im.height} · ${where} · mean |Δ| ` +
      `${diff} between ${viewLabel[state.left]} and ${viewLabel[state.right]}`;
  }

  function renderCrops() {
    const p = pictures();
    const list = $("crop-list");
    list.textContent = "";
    const order = regionOrder();
    order.forEach((r, rank) => {
      const [x, y, w, h] = p.regions[r].rect;
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const name = p.regions.length === 1 ? "whole image" : `crop ${rank + 1} (${x}, ${y})`;
      button.textContent = `${name} · Δ ${regionDiff(r).toFixed(2)}`;
      button.dataset.region = String(r);
      button.setAttribute("aria-current", String(r === state.region));
      button.title = `${w}×${h} at (${x}, ${y})` + (rank === 0 ? ": the largest difference" : "");
      button.addEventListener("click", () => selectRegion(r));
      item.append(button);
      list.append(item);
    });
    const overview = $("overview");
    overview.hidden = !p.overview;
    overview.querySelectorAll(".rect").forEach((el) => el.remove());
    if (p.overview) {
      const img = $("overview-img");
      if (img.getAttribute("src") !== p.overview) img.setAttribute("src", p.overview);
      const im = image();
      for (const r of order) {
        const [x, y, w, h] = p.regions[r].rect;
        const rect = document.createElement("div");
        rect.className = "rect" + (r === state.region ? " current" : "");
        Object.assign(rect.style, {
          left: `${(100 * x) / im.width}%`, top: `${(100 * y) / im.height}%`,
          width: `${(100 * w) / im.width}%`, height: `${(100 * h) / im.height}%`,
        });
        rect.title = `crop ${order.indexOf(r) + 1}`;
        rect.addEventListener("click", () => selectRegion(r));
        overview.append(rect);
      }
    }
    $("crop-hint").textContent = p.regions.length > 1
      ? `Crops of images over ${data.limits.fullSize} px, ordered by how much the two sides ` +
        "differ (↑ ↓)."
      : "";
  }

  // --- changing what is shown ------------------------------------------------------------

  function centreRegion() {
    const [, , w, h] = region().rect;
    state.zoom = 0;
    state.cx = w / 2;
    state.cy = h / 2;
  }

  function selectRegion(r) {
    state.region = r;
    centreRegion();
    renderViews();
  }

  function showImage(i) {
    if (!data.images[i] || !data.images[i].pictures) return;
    state.image = i;
    state.region = regionOrder()[0];
    centreRegion();
    $("image-select").value = String(i);
    renderViews();
    highlightRow();
  }

  function stepImage(delta) {
    const at = withPictures.indexOf(state.image);
    const next = withPictures[(at + delta + withPictures.length) % withPictures.length];
    showImage(next);
  }

  function stepRegion(delta) {
    const order = regionOrder();
    const at = order.indexOf(state.region);
    selectRegion(order[(at + delta + order.length) % order.length]);
  }

  function setSides(left, right) {
    const before = pairKey();
    state.left = left;
    state.right = right;
    if (pairKey() !== before) {
      const best = regionOrder()[0];
      if (best !== state.region) {
        state.region = best;
        centreRegion();
      }
    }
    renderViews();
  }

  function chooseSide(side, view) {
    const other = side === "left" ? state.right : state.left;
    if (view === other) {
      setSides(state.right, state.left); // the same view on both sides: swap instead
    } else if (side === "left") {
      setSides(view, state.right);
    } else {
      setSides(state.left, view);
    }
  }

  function setCondition(c) {
    state.condition = c;
    document.querySelectorAll("#conditions button").forEach((button, i) => {
      button.setAttribute("aria-checked", String(i === c));
    });
    $("metrics-condition").textContent = data.conditions.length > 1
      ? `LR: ${data.conditions[c]}` : "";
    renderTable();
    if (pictures()) renderViews();
  }

  function setMode(mode) {
    state.mode = mode;
    stage.classList.toggle("slider", mode === "slider");
    stage.classList.toggle("side", mode === "side");
    $("mode").setAttribute("aria-pressed", String(mode === "side"));
    place();
    saveHash();
  }

  function zoomTo(z, anchorX, anchorY) {
    // keep the region pixel under (anchorX, anchorY), css pixels in the pane, where it is
    const { w, h } = paneSize();
    const ax = anchorX === undefined ? w / 2 : anchorX;
    const ay = anchorY === undefined ? h / 2 : anchorY;
    const before = zoom() / dpr();
    const px = state.cx + (ax - w / 2) / before;
    const py = state.cy + (ay - h / 2) / before;
    state.zoom = z;
    const after = zoom() / dpr();
    state.cx = px - (ax - w / 2) / after;
    state.cy = py - (ay - h / 2) / after;
    place();
  }

  function zoomStep(direction, anchorX, anchorY) {
    const z = zoom();
    const fit = fitZoom();
    const levels = [...new Set([Math.min(fit, 1), ...ZOOMS])].sort((a, b) => a - b);
    const next = direction > 0
      ? levels.find((level) => level > z + 1e-9)
      : [...levels].reverse().find((level) => level < z - 1e-9);
    if (next === undefined) return;
    zoomTo(Math.abs(next - fit) < 1e-9 ? 0 : next, anchorX, anchorY);
  }

  function zoomToDifference() {
    const [x, y] = region().rect;
    const [fx, fy] = pictures().focus[state.condition][pairKey()][state.region];
    const target = ZOOMS.find((level) => level >= Math.max(4, 2 * zoom())) || ZOOMS.at(-1);
    state.zoom = target;
    state.cx = fx - x;
    state.cy = fy - y;
    place();
  }

  // --- pointer: split, pan, pinch, wheel ---------------------------------------------------

  const pointers = new Map();
  let gesture = null;

  function pannable() {
    const { w, h } = paneSize();
    const [, , rw, rh] = region().rect;
    const k = zoom() / dpr();
    return rw * k > w + 0.5 || rh * k > h + 0.5;
  }

  function moveSplit(clientX) {
    const rect = stage.getBoundingClientRect();
    state.split = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    place();
  }

  function paneOffset(pane, clientX, clientY) {
    const rect = pane.getBoundingClientRect();
    return [clientX - rect.left, clientY - rect.top];
  }

  function paneAt(clientX, clientY) {
    for (const side of ["right", "left"]) {
      const rect = panes[side].pane.getBoundingClientRect();
      if (clientX >= rect.left && clientX < rect.right && clientY >= rect.top &&
          clientY < rect.bottom) return panes[side].pane;
    }
    return panes.left.pane;
  }

  function pinchDistance() {
    const [a, b] = [...pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  }

  stage.addEventListener("pointerdown", (event) => {
    if (!pictures() || (event.pointerType === "mouse" && event.button !== 0)) return;
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2) {
      gesture = { kind: "pinch", distance: pinchDistance(), zoom: zoom() };
    } else if (pointers.size === 1) {
      const handleX = $("handle").getBoundingClientRect().left;
      const nearHandle = Math.abs(event.clientX - handleX) < 24;
      if (state.mode === "slider" && (nearHandle || !pannable())) {
        gesture = { kind: "split" };
        moveSplit(event.clientX);
      } else {
        gesture = { kind: "pan", x: event.clientX, y: event.clientY };
        stage.classList.add("panning");
      }
    }
    event.preventDefault();
  });

  stage.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId) || !gesture) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (gesture.kind === "split") {
      moveSplit(event.clientX);
    } else if (gesture.kind === "pan") {
      const k = zoom() / dpr();
      state.cx -= (event.clientX - gesture.x) / k;
      state.cy -= (event.clientY - gesture.y) / k;
      gesture.x = event.clientX;
      gesture.y = event.clientY;
      place();
    } else if (gesture.kind === "pinch" && pointers.size === 2) {
      const wanted = (gesture.zoom * pinchDistance()) / gesture.distance;
      const levels = [Math.min(fitZoom(), 1), ...ZOOMS];
      const z = levels.reduce((best, level) =>
        Math.abs(Math.log(level / wanted)) < Math.abs(Math.log(best / wanted)) ? level : best);
      if (Math.abs(z - zoom()) > 1e-9) {
        const [a, b] = [...pointers.values()];
        const pane = paneAt((a.x + b.x) / 2, (a.y + b.y) / 2);
        const [ax, ay] = paneOffset(pane, (a.x + b.x) / 2, (a.y + b.y) / 2);
        zoomTo(z, ax, ay);
      }
    }
  });

  function endPointer(event) {
    pointers.delete(event.pointerId);
    if (pointers.size === 0) {
      gesture = null;
      stage.classList.remove("panning");
    } else if (pointers.size === 1) {
      const [rest] = pointers.values();
      gesture = { kind: "pan", x: rest.x, y: rest.y };
    }
  }
  stage.addEventListener("pointerup", endPointer);
  stage.addEventListener("pointercancel", endPointer);

  stage.addEventListener("wheel", (event) => {
    if (!pictures()) return;
    event.preventDefault();
    const pane = paneAt(event.clientX, event.clientY);
    const [ax, ay] = paneOffset(pane, event.clientX, event.clientY);
    zoomStep(event.deltaY < 0 ? 1 : -1, ax, ay);
  }, { passive: false });

  stage.addEventListener("dblclick", (event) => {
    if (!pictures()) return;
    const pane = paneAt(event.clientX, event.clientY);
    const [ax, ay] = paneOffset(pane, event.clientX, event.clientY);
    zoomStep(1, ax, ay);
    zoomStep(1, ax, ay);
  });

  window.addEventListener("resize", () => place());

  // --- keyboard ----------------------------------------------------------------------------

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || !pictures()) return;
    const tag = event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    const actions = {
      ArrowLeft: () => stepImage(-1),
      ArrowRight: () => stepImage(1),
      ArrowUp: () => stepRegion(-1),
      ArrowDown: () => stepRegion(1),
      s: () => setSides(state.right, state.left),
      m: () => setMode(state.mode === "slider" ? "side" : "slider"),
      "+": () => zoomStep(1),
      "=": () => zoomStep(1),
      "-": () => zoomStep(-1),
      0: () => { state.zoom = 0; place(); },
      d: () => zoomToDifference(),
      c: () => setCondition((state.condition + 1) % data.conditions.length),
    };
    const action = actions[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  // --- the metrics table -------------------------------------------------------------------

  function formatPsnr(value) {
    return value === null ? "∞" : value.toFixed(2);
  }

  function columns() {
    const cols = [
      { group: "", label: "image", value: (im) => im.name, text: (im) => im.name },
      { group: "", label: "size", value: (im) => im.width * im.height,
        text: (im) => `${im.width}×${im.height}` },
    ];
    const models = data.views.filter((view) => /^m\d+$/.test(view.id));
    for (const view of [{ id: "bicubic", label: "bicubic" }, ...models]) {
      const scores = (im) => im.scores[state.condition][view.id];
      cols.push({ group: view.label, label: "Y-PSNR", value: (im) => psnrValue(scores(im)[0]),
        text: (im) => formatPsnr(scores(im)[0]), psnrOf: view.id });
      cols.push({ group: view.label, label: "Y-SSIM", value: (im) => scores(im)[1],
        text: (im) => scores(im)[1].toFixed(4) });
      if (view.id !== "bicubic") {
        const gain = (im) => psnrValue(scores(im)[0]) -
          psnrValue(im.scores[state.condition].bicubic[0]);
        cols.push({ group: view.label, label: "gain", value: gain,
          text: (im) => formatGain(gain(im)) });
      }
    }
    return cols;
  }
  const psnrValue = (value) => (value === null ? Infinity : value);
  function formatGain(value) {
    if (Number.isNaN(value)) return "–"; // both identical to HR
    if (!Number.isFinite(value)) return value > 0 ? "+∞" : "−∞";
    return (value >= 0 ? "+" : "") + value.toFixed(2);
  }

  function renderTable() {
    const table = $("metrics-table");
    table.textContent = "";
    const cols = columns();
    const head = table.createTHead();
    const groups = head.insertRow();
    for (let i = 0; i < cols.length;) {
      let span = 1;
      while (i + span < cols.length && cols[i + span].group === cols[i].group) span += 1;
      const th = document.createElement("th");
      th.colSpan = span;
      th.textContent = cols[i].group;
      groups.append(th);
      i += span;
    }
    const names = head.insertRow();
    cols.forEach((col, c) => {
      const th = document.createElement("th");
      th.scope = "col";
      if (c === state.sort.column) {
        th.setAttribute("aria-sort", state.sort.descending ? "descending" : "ascending");
      }
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = col.label;
      button.addEventListener("click", () => sortBy(c));
      th.append(button);
      names.append(th);
    });
    const order = data.images.map((_, i) => i);
    if (state.sort.column >= 0) {
      const col = cols[state.sort.column];
      const sign = state.sort.descending ? -1 : 1;
      order.sort((a, b) => sign * compare(col.value(data.images[a]), col.value(data.images[b]))
        || a - b);
    }
    const body = table.createTBody();
    for (const i of order) {
      const im = data.images[i];
      const row = body.insertRow();
      row.dataset.index = String(i);
      if (!im.pictures) {
        row.classList.add("no-pictures");
        row.title = "scored, without pictures (the page shows at most " +
          `${data.limits.pictured} images: sr-eval --html-images)`;
      }
      const best = bestPsnr(cols, im);
      cols.forEach((col) => {
        const cell = row.insertCell();
        cell.textContent = col.text(im);
        if (col.psnrOf && col.value(im) === best) cell.classList.add("best");
      });
      row.addEventListener("click", () => {
        if (!im.pictures) return;
        showImage(i);
        $("viewer").scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
    }
    const mean = data.means[state.condition];
    if (mean) {
      const foot = table.createTFoot().insertRow();
      const meanImage = { name: `mean (${data.images.length})`, scores: [] };
      meanImage.scores[state.condition] = mean;
      cols.forEach((col, c) => {
        const cell = foot.insertCell();
        cell.textContent = c === 0 ? meanImage.name : c === 1 ? "" : col.text(meanImage);
      });
    }
    highlightRow();
  }

  function bestPsnr(cols, im) {
    return Math.max(...cols.filter((col) => col.psnrOf).map((col) => col.value(im)));
  }

  function compare(a, b) {
    if (typeof a === "string") return a.localeCompare(b, undefined, { numeric: true });
    const [x, y] = [Number.isNaN(a) ? -Infinity : a, Number.isNaN(b) ? -Infinity : b];
    return x === y ? 0 : x < y ? -1 : 1;
  }

  function sortBy(c) {
    state.sort = state.sort.column === c
      ? { column: c, descending: !state.sort.descending }
      : { column: c, descending: false };
    renderTable();
  }

  function highlightRow() {
    document.querySelectorAll("#metrics-table tbody tr").forEach((row) => {
      row.classList.toggle("current", Number(row.dataset.index) === state.image);
    });
  }

  // --- the address keeps the state, so a link or a reload shows the same comparison ----------

  function saveHash() {
    const params = new URLSearchParams({
      image: image().name, condition: data.conditions[state.condition], left: state.left,
      right: state.right, mode: state.mode,
    });
    try {
      history.replaceState(null, "", `#${params}`);
    } catch (error) {
      // some browsers refuse replaceState on file:// pages; the page works without it
    }
  }

  function loadHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const i = data.images.findIndex((im) => im.name === params.get("image") && im.pictures);
    const c = data.conditions.indexOf(params.get("condition"));
    if (c >= 0) state.condition = c;
    const left = params.get("left");
    const right = params.get("right");
    if (left in viewIndex && right in viewIndex && left !== right) {
      state.left = left;
      state.right = right;
    }
    if (params.get("mode") === "side") setMode("side");
    return i;
  }

  // --- start -------------------------------------------------------------------------------

  function build() {
    document.title = data.title;
    data.conditions.forEach((name, c) => {
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "radio");
      button.textContent = name === "none" ? "clean LR" : name;
      button.title = name === "none" ? "LR as downscaled" : `LR degraded: ${name}`;
      button.addEventListener("click", () => setCondition(c));
      $("conditions").append(button);
    });
    $("conditions").hidden = data.conditions.length < 2;
    for (const id of ["left-view", "right-view"]) {
      for (const view of data.views) $(id).add(new Option(view.label, view.id));
    }
    data.images.forEach((im, i) => {
      if (im.pictures) $("image-select").add(new Option(im.name, String(i)));
    });
    const blurAfter = (id, handler) => $(id).addEventListener("change", (event) => {
      handler(event.target.value);
      event.target.blur(); // the arrow keys go back to the page
    });
    blurAfter("image-select", (value) => showImage(Number(value)));
    blurAfter("left-view", (value) => chooseSide("left", value));
    blurAfter("right-view", (value) => chooseSide("right", value));
    $("prev").addEventListener("click", () => stepImage(-1));
    $("next").addEventListener("click", () => stepImage(1));
    $("swap").addEventListener("click", () => setSides(state.right, state.left));
    $("zoom-in").addEventListener("click", () => zoomStep(1));
    $("zoom-out").addEventListener("click", () => zoomStep(-1));
    $("zoom-fit").addEventListener("click", () => { state.zoom = 0; place(); });
    $("zoom-diff").addEventListener("click", zoomToDifference);
    $("mode").addEventListener("click", () => setMode(state.mode === "slider" ? "side" : "slider"));
    $("protocol").textContent = `Protocol: ${data.protocol}.`;
    for (const [path, reason] of data.failed) {
      const item = document.createElement("li");
      item.textContent = `not scored: ${path}: ${reason}`;
      $("failed").append(item);
    }
    const fromHash = loadHash();
    setCondition(state.condition);
    if (withPictures.length === 0) {
      $("viewer").hidden = true;
      $("crops").hidden = true;
      return;
    }
    showImage(fromHash >= 0 ? fromHash : withPictures[0]);
  }

  build();
})();
