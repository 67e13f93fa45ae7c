// cinescape serve: the page. Plain JavaScript on <canvas>, no build step, nothing loaded from the network.
//
// The motion mask lives in an offscreen canvas as ALPHA (opaque = moves, transparent = frozen), so the move brush
// paints and the freeze brush erases ("destination-out"), and the overlay is the mask tinted blue. It starts as the
// server's automatic mask (the one the pipeline would use), and a render names that start (auto_mask) and, once
// painted, sends the mask itself as a greyscale PNG: the server moves what is blue (it adds the strokes to its
// full-resolution automatic mask). Arrows are kept in photo pixels, as `cinescape animate --arrows` takes them.
//
// Regions by kind (servers whose pipeline moves regions by kind: GET /api/info "kinds" not empty): the server's
// label map of the moving regions (POST /api/photos/{id}/regions, the plan's own regions for the mask shown) is
// tinted by kind under the Regions tool; a click on a region opens a menu to change its kind, a drag on it sets its
// direction. A render sends the changes as "kinds": ["KIND@X,Y,DEG", ...] (a point inside the region, in photo
// pixels), the strings `cinescape animate --kind` takes.
//
// One server runs one method (GET /api/info: "method", and "controls": "al" for AL and FGLA, "deeplandscape", or
// "basic" for any other method: loop length, frame rate, seed, format): elements marked data-controls="al" or
// "deeplandscape" are shown only on that kind of page, those marked data-not-basic not on a basic page, and a
// render sends only the settings its method takes.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const maskCanvas = document.createElement("canvas");
  const maskCtx = maskCanvas.getContext("2d", { willReadFrequently: true });
  const tintCanvas = document.createElement("canvas");
  const tintCtx = tintCanvas.getContext("2d");

  const MOVE_TINT = "rgb(40, 170, 255)";
  const MASK_OPACITY = 0.45;
  const MAX_UNDO = 20;            // snapshots of the mask are ~4 MB each at 1024x576
  const CLICK_DISTANCE = 3;       // canvas px: a shorter drag with the arrow tool is a click (deletes an arrow)
  const ARROW_HIT_DISTANCE = 10;  // canvas px from an arrow's shaft that a click deletes it
  const POLL_MS = 500;            // when the event stream breaks, the status is polled instead
  const TERMINAL = ["done", "failed", "cancelled"];
  const METHOD_NAMES = { al: "Animating Landscape (AL)", fgla: "FGLA", deeplandscape: "DeepLandscape" };
  const KIND_COLORS = {
    sky: [40, 170, 255], waterfall: [0, 235, 215], river: [70, 215, 80], sea: [240, 70, 200],
    lake: [175, 110, 255], fountain: [255, 150, 40], still: [255, 60, 60],
  };
  const REGION_OPACITY = 0.5;
  const DIRECTION_LENGTH = 40;    // CSS px: the arrow that shows a region's direction
  const REGIONS_DELAY_MS = 300;   // after a brush stroke, the regions are asked for again this much later
  const regionCanvas = document.createElement("canvas");
  const regionCtx = regionCanvas.getContext("2d");

  const state = {
    info: null,          // GET /api/info
    photo: null,         // the server's description of the photo: id, width, height, display_width, ...
    picture: null,       // what is drawn under the mask
    tool: "move",
    brush: 40,           // canvas px
    region: "default",   // what the mask started from: the "Start from" choice
    maskEdited: false,   // painted since it was loaded: send the mask itself
    arrows: [],          // [{from: [x, y], to: [x, y]}] in photo pixels
    undo: [],            // {kind: "mask", pixels, edited, region} | {kind: "arrows", arrows}
    gesture: null,       // the stroke or arrow being drawn: {kind, from, to, last}
    hover: null,         // pointer position (canvas px), for the brush outline
    render: null,        // {id, preview, events, timer}
    regions: null,       // the server's regions: {size: [h, w], photo_size, regions: [...], labels: Uint8Array}
    kindEdits: [],       // [{point: [x, y] photo px inside the region, kind, direction: degrees | null}]
    regionsAsked: 0,     // the latest regions request (an older answer is dropped)
    regionsTimer: null,
    menuRegion: null,    // the region whose kind the menu shows
  };

  // ------------------------------------------------------------------------------------------ helpers

  /** Whether this server's page is DeepLandscape's (otherwise AL's controls, for AL and FGLA). */
  function isDeepLandscape() {
    return Boolean(state.info) && state.info.controls === "deeplandscape";
  }

  /** Whether this server's page has only the basic controls (a method with no page of its own: no mask). */
  function isBasic() {
    return Boolean(state.info) && state.info.controls === "basic";
  }

  function setStatus(text, isError = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return { error: `${response.status} ${response.statusText}` };
    }
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error(`cannot load ${url}`));
      image.src = url;
    });
  }

  /** Canvas pixel position of a pointer event. */
  function canvasPoint(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * canvas.height) / rect.height,
    };
  }

  /** Canvas px -> photo px (the canvas shows the photo at display size), clamped to the photo. */
  function toPhoto(point) {
    const { width, height } = state.photo;
    const x = Math.min(Math.max((point.x * width) / canvas.width, 0), width);
    const y = Math.min(Math.max((point.y * height) / canvas.height, 0), height);
    return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  }

  function fromPhoto([x, y]) {
    return { x: (x * canvas.width) / state.photo.width, y: (y * canvas.height) / state.photo.height };
  }

  /** Canvas px per CSS px: lines and text are drawn this much thicker, so they look the same at any zoom. */
  function pixelRatio() {
    return canvas.width / Math.max(1, canvas.getBoundingClientRect().width);
  }

  // ------------------------------------------------------------------------------------------ drawing

  function redraw() {
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    if (state.picture) ctx.drawImage(state.picture, 0, 0, width, height);
    if (!state.photo) return;
    if (state.tool === "regions") {
      drawRegions();
    } else if ($("show-mask").checked) {
      tintCtx.globalCompositeOperation = "copy";
      tintCtx.drawImage(maskCanvas, 0, 0);
      tintCtx.globalCompositeOperation = "source-in";
      tintCtx.fillStyle = MOVE_TINT;
      tintCtx.fillRect(0, 0, width, height);
      ctx.globalAlpha = MASK_OPACITY;
      ctx.drawImage(tintCanvas, 0, 0);
      ctx.globalAlpha = 1;
    }
    for (const arrow of state.arrows) drawArrow(fromPhoto(arrow.from), fromPhoto(arrow.to), arrowLabel(arrow));
    const g = state.gesture;
    if (g && g.kind === "arrow") {
      const arrow = { from: toPhoto(g.from), to: toPhoto(g.to) };
      drawArrow(g.from, g.to, arrowLabel(arrow));
    }
    if (g && g.kind === "direction") drawArrow(g.from, g.to, "direction");
    if (state.hover && state.tool !== "arrow" && state.tool !== "regions") {
      const r = pixelRatio();
      ctx.beginPath();
      ctx.arc(state.hover.x, state.hover.y, state.brush / 2, 0, 2 * Math.PI);
      ctx.lineWidth = 3 * r;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
      ctx.stroke();
      ctx.lineWidth = 1.5 * r;
      ctx.strokeStyle = state.tool === "move" ? MOVE_TINT : "#fff";
      ctx.stroke();
    }
  }

  function arrowLabel(arrow) {
    const speed = Math.hypot(arrow.to[0] - arrow.from[0], arrow.to[1] - arrow.from[1]);
    return `${speed.toFixed(1)} px/frame`;
  }

  function drawArrow(a, b, label) {
    const r = pixelRatio();
    const angle = Math.atan2(b.y - a.y, b.x - a.x);
    const head = Math.min(14 * r, Math.hypot(b.x - a.x, b.y - a.y) * 0.6 + 6 * r);
    const path = new Path2D();
    path.moveTo(a.x, a.y);
    path.lineTo(b.x, b.y);
    path.moveTo(b.x - head * Math.cos(angle - 0.45), b.y - head * Math.sin(angle - 0.45));
    path.lineTo(b.x, b.y);
    path.lineTo(b.x - head * Math.cos(angle + 0.45), b.y - head * Math.sin(angle + 0.45));
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "rgba(0, 0, 0, 0.7)";
    ctx.lineWidth = 5 * r;
    ctx.stroke(path);
    ctx.strokeStyle = "#ffd23f";
    ctx.lineWidth = 2.5 * r;
    ctx.stroke(path);
    ctx.beginPath();
    ctx.arc(a.x, a.y, 3 * r, 0, 2 * Math.PI);
    ctx.fillStyle = "#ffd23f";
    ctx.fill();
    if (label) {
      ctx.font = `${Math.round(12 * r)}px system-ui, sans-serif`;
      ctx.lineWidth = 3 * r;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.8)";
      ctx.fillStyle = "#fff";
      const x = b.x + 8 * r;
      const y = b.y - 8 * r;
      ctx.strokeText(label, x, y);
      ctx.fillText(label, x, y);
    }
  }

  // ------------------------------------------------------------------------------------------ regions by kind

  function kindsOffered() {
    return Boolean(state.info && state.info.kinds && state.info.kinds.length) && !isDeepLandscape();
  }

  /** The region under a photo pixel, or null. */
  function regionAt([x, y]) {
    const found = state.regions;
    if (!found) return null;
    const [h, w] = found.size;
    const [height, width] = found.photo_size;
    const col = Math.min(w - 1, Math.max(0, Math.floor((x * w) / width)));
    const row = Math.min(h - 1, Math.max(0, Math.floor((y * h) / height)));
    const label = found.labels[row * w + col];
    return found.regions.find((region) => region.id === label) || null;
  }

  /** "a, b or c" */
  function listed(words) {
    return words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}` : words.join("");
  }

  function editOf(region) {
    return state.kindEdits.find((edit) => regionAt(edit.point) === region) || null;
  }

  /** A region's kind and direction: the user's, else the server's. */
  function kindOf(region) {
    const edit = editOf(region);
    return edit ? { kind: edit.kind, direction: edit.direction } : { kind: region.kind, direction: region.direction };
  }

  /** The request's "kinds": what the user changed, as `cinescape animate --kind` takes it; null: nothing. */
  function kindsSetting() {
    const kinds = state.kindEdits.map((edit) => `${edit.kind}@${edit.point[0]},${edit.point[1]}`
      + (edit.direction === null ? "" : `,${edit.direction}`));
    return kinds.length ? kinds : null;
  }

  function setEdit(region, change) {
    pushUndo({ kind: "kinds", edits: state.kindEdits.slice() });
    const current = kindOf(region);
    state.kindEdits = state.kindEdits.filter((edit) => regionAt(edit.point) !== region);
    if (change) state.kindEdits.push({ point: region.point, ...current, ...change });
    paintRegions();
  }

  /** Ask the server for the regions of the mask shown (the plan's own), then tint them. */
  async function loadRegions() {
    if (!state.photo || !kindsOffered()) return;
    const asked = ++state.regionsAsked;
    document.body.dataset.regions = "loading";
    const body = {
      auto: state.region === "empty" ? "none" : state.region,
      mask: state.maskEdited || state.region === "empty" ? maskDataUrl() : null,
    };
    let found;
    try {
      const response = await fetch(`/api/photos/${state.photo.id}/regions`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      found = await readJson(response);
      if (!response.ok) throw new Error(found.error);
      const png = Uint8Array.from(atob(found.labels.split(",", 2)[1]), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([png], { type: "image/png" }),
        { colorSpaceConversion: "none", premultiplyAlpha: "none" });
      const [h, w] = found.size;
      const reader = document.createElement("canvas");
      reader.width = w;
      reader.height = h;
      const readerCtx = reader.getContext("2d", { willReadFrequently: true });
      readerCtx.drawImage(bitmap, 0, 0);
      const rgba = readerCtx.getImageData(0, 0, w, h).data;
      found.labels = new Uint8Array(w * h);
      for (let i = 0; i < w * h; i += 1) found.labels[i] = rgba[4 * i];
    } catch (error) {
      if (asked !== state.regionsAsked) return;
      state.regions = null;
      paintRegions();
      setStatus(`No regions: ${error.message}`, true);
      document.body.dataset.regions = "error";
      return;
    }
    if (asked !== state.regionsAsked) return;
    state.regions = found;
    // a change whose point is on no region any more (the mask was painted) is dropped
    state.kindEdits = state.kindEdits.filter((edit) => regionAt(edit.point));
    paintRegions();
    document.body.dataset.regions = "ready";
  }

  function loadRegionsSoon() {
    clearTimeout(state.regionsTimer);
    state.regionsTimer = setTimeout(loadRegions, REGIONS_DELAY_MS);
  }

  /** The regions tinted by kind at working size (regionCanvas), and the legend. */
  function paintRegions() {
    const legend = $("kind-legend");
    legend.replaceChildren();
    const found = state.regions;
    legend.hidden = !found || !found.regions.length;
    if (!found) {
      redraw();
      return;
    }
    const [h, w] = found.size;
    regionCanvas.width = w;
    regionCanvas.height = h;
    const colors = new Map(found.regions.map((region) => [region.id, KIND_COLORS[kindOf(region).kind]]));
    const image = regionCtx.createImageData(w, h);
    for (let i = 0; i < w * h; i += 1) {
      const color = colors.get(found.labels[i]);
      if (!color) continue;
      image.data.set(color, 4 * i);
      image.data[4 * i + 3] = 255;
    }
    regionCtx.putImageData(image, 0, 0);
    const counts = new Map();
    for (const region of found.regions) counts.set(kindOf(region).kind, (counts.get(kindOf(region).kind) || 0) + 1);
    for (const [kind, count] of counts) {
      const item = document.createElement("li");
      item.dataset.kind = kind;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = `rgb(${KIND_COLORS[kind].join(",")})`;
      item.append(swatch, `${kind}${count > 1 ? ` ×${count}` : ""}`);
      legend.append(item);
    }
    redraw();
  }

  function drawRegions() {
    if (!state.regions) return;
    ctx.save();
    ctx.globalAlpha = REGION_OPACITY;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(regionCanvas, 0, 0, canvas.width, canvas.height);
    ctx.restore();
    const length = DIRECTION_LENGTH * pixelRatio();
    for (const region of state.regions.regions) {
      const { kind, direction } = kindOf(region);
      if (direction === null || direction === undefined) continue;
      const a = fromPhoto(region.point);
      const angle = (direction * Math.PI) / 180;
      drawArrow(a, { x: a.x + length * Math.cos(angle), y: a.y + length * Math.sin(angle) }, kind);
    }
  }

  function openKindMenu(point) {
    const region = regionAt(toPhoto(point));
    if (!region) {
      closeKindMenu();
      setStatus("No moving region there: paint it with the move brush first.");
      return;
    }
    state.menuRegion = region;
    const select = $("kind-select");
    if (!select.options.length) for (const kind of state.info.kinds) select.append(new Option(kind, kind));
    select.value = kindOf(region).kind;
    $("kind-menu-region").textContent = `${region.id}`;
    const menu = $("kind-menu");
    menu.hidden = false;
    const rect = canvas.getBoundingClientRect();
    const x = (point.x * rect.width) / canvas.width;
    const y = (point.y * rect.height) / canvas.height;
    menu.style.left = `${Math.max(4, Math.min(x + 8, rect.width - menu.offsetWidth - 4))}px`;
    // above the click where there is room, so the region and its direction arrow stay in sight
    const above = y - menu.offsetHeight - 12;
    menu.style.top = `${above >= 4 ? above : Math.max(4, Math.min(y + 12, rect.height - menu.offsetHeight - 4))}px`;
  }

  function closeKindMenu() {
    $("kind-menu").hidden = true;
    state.menuRegion = null;
  }

  function setDirection(from, to) {
    const a = toPhoto(from);
    const b = toPhoto(to);
    const region = regionAt(a);
    if (!region) {
      setStatus("No moving region under the arrow's start: drag from inside a region.");
      return;
    }
    const degrees = (((Math.atan2(b[1] - a[1], b[0] - a[0]) * 180) / Math.PI) + 360) % 360;
    const { kind } = kindOf(region);
    if (!state.info.directed_kinds.includes(kind)) {
      setStatus(`A ${kind} region moves its own way (${kind === "waterfall" ? "down its fall" : kind === "sky"
        ? "the learned cloud motion" : kind === "fountain" ? "up and out" : "it stays still"}): click it to make it `
        + `${listed(state.info.directed_kinds.map((name) => `a ${name}`))} first, then drag its direction.`, true);
      return;
    }
    setEdit(region, { direction: Math.round(degrees) });
    setStatus(`Region ${region.id} (${kindOf(region).kind}) flows towards ${Math.round(degrees)}°.`);
  }

  $("kind-select").addEventListener("change", (event) => {
    if (!state.menuRegion) return;
    const region = state.menuRegion;
    const kind = event.target.value;
    const direction = state.info.directed_kinds.includes(kind) ? kindOf(region).direction : null;
    setEdit(region, { kind, direction });
    closeKindMenu();
    setStatus(`Region ${region.id} is ${kindOf(region).kind}.`);
  });
  $("kind-auto").addEventListener("click", () => {
    if (state.menuRegion) setEdit(state.menuRegion, null);
    closeKindMenu();
  });
  $("kind-close").addEventListener("click", closeKindMenu);

  // ------------------------------------------------------------------------------------------ the mask

  function resizeMask(width, height) {
    for (const c of [maskCanvas, tintCanvas]) {
      c.width = width;
      c.height = height;
    }
  }

  /** Load the server's automatic mask for `region` into the mask canvas (greyscale -> alpha). */
  async function loadMask(region) {
    const { width, height } = maskCanvas;
    maskCtx.clearRect(0, 0, width, height);
    if (region === "empty") return true;
    const response = await fetch(`${state.photo.mask_url}?auto=${encodeURIComponent(region)}`);
    if (!response.ok) {
      setStatus(`No automatic mask: ${(await readJson(response)).error}`, true);
      return false;
    }
    const bitmap = await createImageBitmap(await response.blob());
    maskCtx.drawImage(bitmap, 0, 0, width, height);
    const pixels = maskCtx.getImageData(0, 0, width, height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i + 3] = d[i];
      d[i] = d[i + 1] = d[i + 2] = 255;
    }
    maskCtx.putImageData(pixels, 0, 0);
    return true;
  }

  /** The mask as a greyscale PNG data URL (white moves), the size of the displayed photo. */
  function maskDataUrl() {
    const { width, height } = maskCanvas;
    const pixels = maskCtx.getImageData(0, 0, width, height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i] = d[i + 1] = d[i + 2] = d[i + 3];
      d[i + 3] = 255;
    }
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    out.getContext("2d").putImageData(pixels, 0, 0);
    return out.toDataURL("image/png");
  }

  function paintSegment(a, b) {
    maskCtx.save();
    // The freeze brush erases the mask's alpha: what it paints stays still.
    maskCtx.globalCompositeOperation = state.tool === "move" ? "source-over" : "destination-out";
    maskCtx.strokeStyle = maskCtx.fillStyle = "#fff";
    maskCtx.lineWidth = state.brush;
    maskCtx.lineCap = maskCtx.lineJoin = "round";
    maskCtx.beginPath();
    maskCtx.arc(a.x, a.y, state.brush / 2, 0, 2 * Math.PI);
    maskCtx.fill();
    maskCtx.beginPath();
    maskCtx.moveTo(a.x, a.y);
    maskCtx.lineTo(b.x, b.y);
    maskCtx.stroke();
    maskCtx.restore();
  }

  // ------------------------------------------------------------------------------------------ undo

  function pushUndo(entry) {
    state.undo.push(entry);
    if (state.undo.length > MAX_UNDO) state.undo.shift();
    updateButtons();
  }

  function maskSnapshot() {
    const pixels = maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height);
    return { kind: "mask", pixels, edited: state.maskEdited, region: state.region };
  }

  function undo() {
    const entry = state.undo.pop();
    if (!entry) return;
    if (entry.kind === "mask") {
      maskCtx.putImageData(entry.pixels, 0, 0);
      state.maskEdited = entry.edited;
      state.region = entry.region;
      $("region").value = entry.region;
    } else if (entry.kind === "kinds") {
      state.kindEdits = entry.edits;
      paintRegions();
    } else {
      state.arrows = entry.arrows;
    }
    if (entry.kind === "mask") loadRegionsSoon();
    updateButtons();
    redraw();
  }

  // ------------------------------------------------------------------------------------------ pointer input

  function arrowAt(point) {
    const limit = ARROW_HIT_DISTANCE * pixelRatio();
    let best = -1;
    let bestDistance = limit;
    state.arrows.forEach((arrow, i) => {
      const a = fromPhoto(arrow.from);
      const b = fromPhoto(arrow.to);
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const t = Math.max(0, Math.min(1, ((point.x - a.x) * dx + (point.y - a.y) * dy) / (dx * dx + dy * dy || 1)));
      const distance = Math.hypot(point.x - (a.x + t * dx), point.y - (a.y + t * dy));
      if (distance <= bestDistance) {
        best = i;
        bestDistance = distance;
      }
    });
    return best;
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!state.photo || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    const point = canvasPoint(event);
    if (state.tool === "arrow") {
      state.gesture = { kind: "arrow", from: point, to: point };
    } else if (state.tool === "regions") {
      state.gesture = { kind: "direction", from: point, to: point };
    } else {
      pushUndo(maskSnapshot());
      state.gesture = { kind: "paint", last: point };
      state.maskEdited = true;
      paintSegment(point, point);
    }
    redraw();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!state.photo) return;
    const point = canvasPoint(event);
    state.hover = point;
    const g = state.gesture;
    if (g && g.kind === "paint") {
      paintSegment(g.last, point);
      g.last = point;
    } else if (g && (g.kind === "arrow" || g.kind === "direction")) {
      g.to = point;
    }
    redraw();
  });

  function endGesture() {
    const g = state.gesture;
    state.gesture = null;
    if (g && g.kind === "direction") {
      if (Math.hypot(g.to.x - g.from.x, g.to.y - g.from.y) < CLICK_DISTANCE) openKindMenu(g.from);
      else setDirection(g.from, g.to);
    }
    if (g && g.kind === "paint") loadRegionsSoon();
    if (g && g.kind === "arrow") {
      if (Math.hypot(g.to.x - g.from.x, g.to.y - g.from.y) < CLICK_DISTANCE) {
        const hit = arrowAt(g.from); // a click on an arrow deletes it
        if (hit >= 0) {
          pushUndo({ kind: "arrows", arrows: state.arrows.slice() });
          state.arrows.splice(hit, 1);
        }
      } else {
        const arrow = { from: toPhoto(g.from), to: toPhoto(g.to) };
        if (arrow.from[0] !== arrow.to[0] || arrow.from[1] !== arrow.to[1]) {
          pushUndo({ kind: "arrows", arrows: state.arrows.slice() });
          state.arrows.push(arrow);
        }
      }
    }
    updateButtons();
    redraw();
  }

  canvas.addEventListener("pointerup", endGesture);
  canvas.addEventListener("pointercancel", endGesture);
  canvas.addEventListener("pointerleave", () => {
    state.hover = null;
    redraw();
  });

  function selectTool(tool) {
    state.tool = tool;
    if (tool !== "regions") closeKindMenu();
    for (const button of document.querySelectorAll("button.tool")) {
      const active = button.dataset.tool === tool;
      button.classList.toggle("active", active);
      button.setAttribute("aria-checked", String(active));
    }
    redraw();
  }

  for (const button of document.querySelectorAll("button.tool")) {
    button.addEventListener("click", () => selectTool(button.dataset.tool));
  }

  function setBrush(size) {
    state.brush = Math.max(4, Math.min(200, Math.round(size)));
    $("brush-size").value = state.brush;
    $("brush-size-value").textContent = state.brush;
    redraw();
  }

  $("brush-size").addEventListener("input", (event) => setBrush(Number(event.target.value)));
  $("show-mask").addEventListener("change", redraw);
  $("undo").addEventListener("click", undo);
  $("clear-arrows").addEventListener("click", () => {
    if (!state.arrows.length) return;
    pushUndo({ kind: "arrows", arrows: state.arrows.slice() });
    state.arrows = [];
    updateButtons();
    redraw();
  });
  $("region").addEventListener("change", async (event) => {
    if (!state.photo) return;
    pushUndo(maskSnapshot());
    state.region = event.target.value;
    state.maskEdited = false;
    await loadMask(state.region);
    redraw();
    loadRegions();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (!event.ctrlKey && !event.metaKey && !event.altKey) {
      const tools = isDeepLandscape() ? { m: "move", f: "freeze" } : { m: "move", f: "freeze", a: "arrow" };
      if (kindsOffered()) tools.r = "regions";
      const tool = tools[event.key.toLowerCase()];
      if (tool) selectTool(tool);
      if (event.key === "[") setBrush(state.brush / 1.25);
      if (event.key === "]") setBrush(state.brush * 1.25);
    }
  });

  // ------------------------------------------------------------------------------------------ upload

  function displaySize(width, height) {
    const scale = Math.min(1, 1024 / Math.max(width, height));
    return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  }

  function showPicture(picture, width, height) {
    canvas.width = width;
    canvas.height = height;
    state.picture = picture;
    $("canvas-wrap").classList.remove("empty");
    redraw();
  }

  async function uploadPhoto(file) {
    if (!file) return;
    if (state.render) {
      setStatus("Wait for the render to finish (or cancel it) before changing the photo.", true);
      return;
    }
    document.body.dataset.photo = "loading";
    state.photo = null;
    setStatus(`Uploading ${file.name}…`);
    // Show the photo at once where this browser can decode it; the server's copy replaces it when it is ready.
    try {
      const quick = await createImageBitmap(file, { imageOrientation: "from-image" });
      showPicture(quick, ...displaySize(quick.width, quick.height));
    } catch {
      // e.g. TIFF: wait for the server's copy
    }
    let response;
    try {
      response = await fetch(`/api/photos?name=${encodeURIComponent(file.name)}`, {
        method: "POST",
        body: file,
        headers: { "Content-Type": file.type || "application/octet-stream" },
      });
    } catch (error) {
      setStatus(`Upload failed: ${error.message}`, true);
      return;
    }
    const photo = await readJson(response);
    if (!response.ok) {
      document.body.dataset.photo = "error";
      setStatus(`Cannot use this photo: ${photo.error}`, true);
      return;
    }
    state.photo = photo;
    state.arrows = [];
    state.regions = null;
    state.kindEdits = [];
    closeKindMenu();
    paintRegions();
    state.undo = [];
    state.maskEdited = false;
    state.region = $("region").value;
    showPicture(await loadImage(photo.image_url), photo.display_width, photo.display_height);
    resizeMask(photo.display_width, photo.display_height);
    setStatus("Finding the sky and water…");
    const masked = await loadMask(state.region);
    redraw();
    updateButtons();
    if (masked) await loadRegions();
    if (masked) {
      const tools = isDeepLandscape() ? "Paint what moves, then " : isBasic() ? "" : "Paint what moves, drag arrows, then ";
      setStatus(`${photo.width}×${photo.height}. ${tools}Preview or Render.`);
    }
    document.body.dataset.photo = "ready";
  }

  $("file-input").addEventListener("change", (event) => {
    uploadPhoto(event.target.files[0]);
    event.target.value = "";  // choosing the same file again is a change too
  });
  $("new-photo").addEventListener("click", () => $("file-input").click());

  const wrap = $("canvas-wrap");
  wrap.addEventListener("dragover", (event) => {
    event.preventDefault();
    wrap.classList.add("dragging");
  });
  wrap.addEventListener("dragleave", () => wrap.classList.remove("dragging"));
  wrap.addEventListener("drop", (event) => {
    event.preventDefault();
    wrap.classList.remove("dragging");
    uploadPhoto(event.dataTransfer.files[0]);
  });
  // A photo dropped beside the canvas must not make the browser navigate away from the page.
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => event.preventDefault());

  // ------------------------------------------------------------------------------------------ settings

  function numberValue(id) {
    const text = $(id).value.trim();
    const value = Number(text);
    return text === "" ? null : Number.isFinite(value) ? value : text;  // the server explains a bad value
  }

  function readSettings() {
    if (isBasic()) {
      return { seconds: numberValue("seconds"), fps: numberValue("fps"), seed: numberValue("seed"),
        format: $("format").value };
    }
    const common = {
      seconds: numberValue("seconds"),
      fps: numberValue("fps"),
      motion_speed: numberValue("motion-speed"),
      seed: numberValue("seed"),
      format: $("format").value,
    };
    if (isDeepLandscape()) {
      return { ...common, direction: numberValue("direction"), lighting: numberValue("lighting") };
    }
    return {
      ...common,
      mode: $("mode").value,
      loop: $("loop").value,
      arrows_mode: $("arrows-mode").value,
      appearance: $("appearance").checked,
      time_of_day: $("time-of-day").value || null,
      appearance_stride: numberValue("appearance-stride"),
      flow: $("flow").checked,
    };
  }

  function applyDefaults(defaults) {
    $("seconds").value = defaults.seconds;
    $("fps").value = defaults.fps;
    $("seed").value = defaults.seed;
    $("format").value = defaults.format;
    if (isBasic()) return;
    $("motion-speed").value = defaults.motion_speed;
    if (isDeepLandscape()) {
      $("direction").value = defaults.direction ?? "";   // empty: a direction from the seed
      $("lighting").value = defaults.lighting;
      return;
    }
    $("mode").value = defaults.mode;
    $("loop").value = defaults.loop;
    $("arrows-mode").value = defaults.arrows_mode;
    $("appearance").checked = defaults.appearance;
    $("appearance-stride").value = defaults.appearance_stride;
    $("flow").checked = defaults.flow;
  }

  function updateFrameCount() {
    const frames = Math.round(Number($("seconds").value) * Number($("fps").value));
    $("frame-count").textContent = Number.isFinite(frames) ? `${frames} frames` : "";
    $("motion-speed-value").textContent = Number($("motion-speed").value).toFixed(1);
    $("lighting-value").textContent = Number($("lighting").value).toFixed(2);
    $("time-of-day").disabled = !$("appearance").checked;
  }

  for (const id of ["seconds", "fps", "motion-speed", "appearance", "lighting"]) {
    $(id).addEventListener("input", updateFrameCount);
  }
  $("dice").addEventListener("click", () => {
    $("seed").value = Math.floor(Math.random() * 100000);
  });

  // ------------------------------------------------------------------------------------------ rendering

  function updateButtons() {
    const busy = Boolean(state.render);
    $("preview-button").disabled = !state.photo || busy;
    $("render-button").disabled = !state.photo || busy;
    $("cancel-button").hidden = !busy;
    $("undo").disabled = !state.undo.length;
    $("clear-arrows").disabled = !state.arrows.length;
  }

  async function startRender(preview) {
    if (!state.photo || state.render) return;
    const settings = { ...readSettings(), preview };
    if (!isDeepLandscape() && !isBasic()) settings.arrows = state.arrows.length ? state.arrows : null;
    if (kindsOffered()) settings.kinds = kindsSetting();
    // The automatic mask the painting started from ("nothing moves" starts from none), and the painted mask.
    settings.auto_mask = state.region === "empty" ? "none" : state.region;
    const mask = !isBasic() && (state.maskEdited || state.region === "empty") ? maskDataUrl() : null;
    setStatus(preview ? "Sending the preview…" : "Sending the render…");
    let response;
    try {
      response = await fetch(`/api/photos/${state.photo.id}/renders`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ settings, mask }),
      });
    } catch (error) {
      setStatus(`The server does not answer: ${error.message}`, true);
      return;
    }
    const status = await readJson(response);
    if (!response.ok) {
      setStatus(status.error, true);
      return;
    }
    follow(status);
  }

  /** Follow a render's progress: server-sent events, or polling when the stream breaks. */
  function follow(status) {
    state.render = { id: status.id, preview: status.preview, events: null, timer: null };
    document.body.dataset.render = status.state;
    updateButtons();
    showProgress(status);
    const events = new EventSource(`/api/renders/${status.id}/events`);
    state.render.events = events;
    events.onmessage = (message) => showProgress(JSON.parse(message.data));
    events.onerror = () => {
      events.close();
      if (state.render && state.render.id === status.id) poll(status.id);
    };
  }

  async function poll(id) {
    try {
      const response = await fetch(`/api/renders/${id}`);
      const status = await readJson(response);
      if (!response.ok) {
        finish({ state: "failed", error: status.error });
        return;
      }
      showProgress(status);
    } catch {
      // the server is briefly unreachable: try again
    }
    if (state.render && state.render.id === id) state.render.timer = setTimeout(() => poll(id), POLL_MS);
  }

  function showProgress(status) {
    if (!state.render || status.id !== state.render.id) return;
    const progress = $("progress");
    progress.hidden = false;
    const what = status.preview ? "Preview" : "Render";
    if (status.state === "queued") {
      progress.removeAttribute("value");
      setStatus(`${what}: waiting, ${status.ahead} ahead`);
    } else if (status.state === "running") {
      if (status.phase === "inverting") {
        // DeepLandscape's inversion: latent optimisation and generator fine-tuning, step by step
        progress.value = status.steps_total ? status.steps_done / status.steps_total : 0;
        setStatus(`${what}: inverting the photo into the GAN, step ${status.steps_done} of ${status.steps_total}…`);
      } else if (status.phase === "planning" || !status.frames_total) {
        progress.removeAttribute("value");
        setStatus(`${what}: ${isDeepLandscape() ? "preparing" : "predicting the motion"}…`);
      } else {
        // frames_total counts the flow video's frames too, when one was asked for
        progress.value = status.frames_done / status.frames_total;
        const count = `${status.frames_done} of ${status.frames_total} frames`;
        setStatus(status.phase === "finishing" ? `${what}: finishing the video…`
          : `${what}: ${count}${status.phase === "flow" ? " (flow video)" : ""}`);
      }
      if (status.cancelling) setStatus(`${what}: cancelling…`);
    }
    if (TERMINAL.includes(status.state)) finish(status);
  }

  function finish(status) {
    const render = state.render;
    if (!render) return;
    if (render.events) render.events.close();
    if (render.timer) clearTimeout(render.timer);
    state.render = null;
    document.body.dataset.render = status.state;
    updateButtons();
    const progress = $("progress");
    progress.value = status.state === "done" ? 1 : 0;
    const what = render.preview ? "Preview" : "Render";
    if (status.state === "done") {
      const reused = status.reused_inversion === true ? " (the photo's inversion reused)"
        : status.reused_inversion === false ? " (photo inverted)" : "";
      setStatus(`${what} done in ${status.seconds.toFixed(1)} s${reused}.`);
      showResult(status);
    } else if (status.state === "cancelled") {
      setStatus(`${what} cancelled.`);
    } else {
      setStatus(`${what} failed: ${status.error}`, true);
    }
  }

  function showResult(status) {
    $("results").hidden = false;
    const isGif = status.format === "gif";
    const video = $("result-video");
    const gif = $("result-gif");
    video.hidden = isGif;
    gif.hidden = !isGif;
    if (isGif) {
      video.removeAttribute("src");
      gif.src = status.video_url;
    } else {
      video.src = status.video_url;
      video.play().catch(() => {});
    }
    const link = $("download-link");
    link.href = `${status.video_url}?download=1`;
    link.textContent = `Download ${status.preview ? "preview" : "loop"} (${status.format.toUpperCase()})`;
    $("result-caption").textContent = status.preview ? "Preview (small, short)" : "Loop";
    $("flow-figure").hidden = !status.flow_url;
    if (status.flow_url) {
      $("flow-video").src = status.flow_url;
      $("flow-link").href = `${status.flow_url}?download=1`;
    } else {
      $("flow-video").removeAttribute("src");
    }
  }

  $("preview-button").addEventListener("click", () => startRender(true));
  $("render-button").addEventListener("click", () => startRender(false));
  $("cancel-button").addEventListener("click", async () => {
    if (!state.render) return;
    const response = await fetch(`/api/renders/${state.render.id}`, { method: "DELETE" });
    if (!response.ok && response.status !== 409) setStatus((await readJson(response)).error, true);
  });

  // ------------------------------------------------------------------------------------------ start

  async function start() {
    try {
      const response = await fetch("/api/info");
      state.info = await response.json();
    } catch {
      setStatus("The server does not answer: is cinescape serve still running?", true);
      return;
    }
    const controls = state.info.controls;
    for (const element of document.querySelectorAll("[data-controls]")) {
      element.hidden = element.dataset.controls !== controls;
    }
    for (const element of document.querySelectorAll("[data-kinds]")) element.hidden = !kindsOffered();
    for (const element of document.querySelectorAll("[data-not-basic]")) element.hidden = isBasic();
    if (isBasic()) $("show-mask").checked = false;   // no mask to show: the method moves what it moves
    $("kind-legend").hidden = true;   // until a photo's regions are in
    $("method").textContent = `Method: ${METHOD_NAMES[state.info.method] || state.info.method}`;
    document.body.dataset.method = state.info.method;
    applyDefaults(state.info.defaults);
    for (const preset of state.info.choices.time_of_day) {
      const option = document.createElement("option");
      option.value = preset;
      option.textContent = preset.replaceAll(",", " → ");
      $("time-of-day").append(option);
    }
    for (const loop of state.info.choices.loop) {  // loop types this server has that the page does not list
      if (![...$("loop").options].some((option) => option.value === loop)) $("loop").append(new Option(loop, loop));
    }
    if (!isDeepLandscape() && !isBasic()) $("loop").value = state.info.defaults.loop;
    const automatic = state.info.default_auto_mask;
    $("region").options[0].textContent = automatic === "none" ? "automatic (everything)" : `automatic (${automatic})`;
    updateFrameCount();
    updateButtons();
    document.body.dataset.ready = "true";
  }

  // For the console and the browser test: the page's state and its mask.
  window.cinescape = { state, maskDataUrl, kindsSetting };
  start();
})();
