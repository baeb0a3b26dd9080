// The graph page: zoom, pan and fit; upstream/downstream highlight on hover; collapsible task groups;
// live task states (polling the API while the run is not finished). The drawing itself is rendered on
// the server (webui/graph.py); this file only moves, restyles and redraws edges of what is there.
(function () {
  "use strict";
  const svg = document.getElementById("graph");
  if (!svg) { return; }
  const viewport = document.getElementById("viewport");
  const NW = Number(svg.dataset.nodeWidth), NH = Number(svg.dataset.nodeHeight);
  const nodes = new Map();  // task id -> g.node
  for (const g of svg.querySelectorAll("g.node[data-task-id]")) { nodes.set(g.dataset.taskId, g); }
  const edges = Array.from(svg.querySelectorAll("path.edge"));
  const edgeLabels = Array.from(svg.querySelectorAll("text.edge-label"));
  const up = new Map(), down = new Map();
  for (const e of edges) {
    const s = e.dataset.source, t = e.dataset.target;
    (down.get(s) || down.set(s, []).get(s)).push(t);
    (up.get(t) || up.set(t, []).get(t)).push(s);
  }

  // --- zoom, pan, fit -------------------------------------------------------------------------
  const view = { x: 0, y: 0, k: 1 };
  const apply = () => viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  const zoomAt = (factor, cx, cy) => {
    const k = Math.min(4, Math.max(0.05, view.k * factor));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    apply();
  };
  const fit = () => {
    const box = svg.getBoundingClientRect();
    const k = Math.min(1, box.width / Number(svg.dataset.width), box.height / Number(svg.dataset.height));
    view.k = k; view.x = 0; view.y = 0;
    apply();
  };
  const centre = () => { const b = svg.getBoundingClientRect(); return [b.width / 2, b.height / 2]; };
  document.getElementById("zoom-in").addEventListener("click", () => zoomAt(1.25, ...centre()));
  document.getElementById("zoom-out").addEventListener("click", () => zoomAt(0.8, ...centre()));
  document.getElementById("zoom-fit").addEventListener("click", fit);
  document.getElementById("zoom-reset").addEventListener("click", () => { view.x = 0; view.y = 0; view.k = 1; apply(); });
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = svg.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  let drag = null, dragged = false;
  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) { return; }
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
    dragged = false;
  });
  window.addEventListener("pointermove", (event) => {
    if (!drag) { return; }
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!dragged && Math.hypot(dx, dy) < 4) { return; }
    dragged = true;
    svg.classList.add("panning");
    view.x = drag.vx + dx; view.y = drag.vy + dy;
    apply();
  });
  window.addEventListener("pointerup", () => { drag = null; svg.classList.remove("panning"); });
  // a drag that ends on a task is a pan, not a click on the task's link
  svg.addEventListener("click", (event) => {
    if (dragged) { event.preventDefault(); event.stopPropagation(); dragged = false; }
  }, true);
  fit();

  // --- hover: the task, everything upstream and everything downstream ---------------------------
  const reach = (start, next) => {
    const seen = new Set(), todo = [start];
    while (todo.length) {
      for (const other of next.get(todo.pop()) || []) {
        if (!seen.has(other)) { seen.add(other); todo.push(other); }
      }
    }
    return seen;
  };
  const clearHighlight = () => {
    svg.classList.remove("hovering");
    for (const el of svg.querySelectorAll(".hl-focus, .hl-up, .hl-down, .hl-edge")) {
      el.classList.remove("hl-focus", "hl-up", "hl-down", "hl-edge");
    }
  };
  const highlight = (taskId) => {
    clearHighlight();
    const ups = reach(taskId, up), downs = reach(taskId, down);
    svg.classList.add("hovering");
    nodes.get(taskId).classList.add("hl-focus");
    for (const t of ups) { nodes.get(t).classList.add("hl-up"); }
    for (const t of downs) { nodes.get(t).classList.add("hl-down"); }
    const onUp = (t) => t === taskId || ups.has(t), onDown = (t) => t === taskId || downs.has(t);
    for (const e of edges) {
      const s = e.dataset.source, t = e.dataset.target;
      if ((onUp(s) && onUp(t)) || (onDown(s) && onDown(t))) { e.classList.add("hl-edge"); }
    }
  };
  for (const [taskId, g] of nodes) {
    g.addEventListener("mouseenter", () => highlight(taskId));
    g.addEventListener("mouseleave", clearHighlight);
  }

  // --- task groups: collapse into one node, expand back ------------------------------------------
  const clusters = new Map();  // group id -> {box: g.cluster, node: g.group-node, members, parent}
  for (const c of svg.querySelectorAll("g.cluster")) {
    clusters.set(c.dataset.groupId, {
      box: c, node: svg.querySelector(`g.group-node[data-group-id="${CSS.escape(c.dataset.groupId)}"]`),
      members: c.dataset.members.split(" ").filter(Boolean), parent: c.dataset.parent || null, collapsed: false,
    });
  }
  // the outermost collapsed group holding a task, if any
  const shownAs = new Map();
  const recompute = () => {
    shownAs.clear();
    const depthOf = (id) => { let d = 0; for (let p = clusters.get(id).parent; p && clusters.has(p); p = clusters.get(p).parent) { d++; } return d; };
    const collapsed = [...clusters.keys()].filter((id) => clusters.get(id).collapsed).sort((a, b) => depthOf(b) - depthOf(a));
    for (const id of collapsed) { for (const t of clusters.get(id).members) { shownAs.set(t, id); } }
    const hiddenGroup = (id) => { for (let p = clusters.get(id).parent; p && clusters.has(p); p = clusters.get(p).parent) { if (clusters.get(p).collapsed) { return true; } } return false; };
    for (const [id, c] of clusters) {
      const inside = hiddenGroup(id);
      c.box.classList.toggle("is-hidden", c.collapsed || inside);
      c.node.classList.toggle("is-hidden", !c.collapsed || inside);
    }
    for (const [taskId, g] of nodes) { g.parentNode.classList.toggle("is-hidden", shownAs.has(taskId)); }
    redrawEdges();
    paintGroups();
  };
  const anchor = (taskId) => {
    const group = shownAs.get(taskId);
    const el = group ? clusters.get(group).box : nodes.get(taskId);
    return [group || taskId, Number(el.dataset.x), Number(el.dataset.y)];
  };
  const curve = (a, b) => {  // the same curve as webui/graph.py's _edge
    const x1 = a[1] + NW, y1 = a[2] + Math.floor(NH / 2), x2 = b[1], y2 = b[2] + Math.floor(NH / 2);
    const m = Math.floor((x1 + x2) / 2);
    return [`M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}`, m, Math.floor((y1 + y2) / 2)];
  };
  const redrawEdges = () => {
    for (const e of edges) {
      const a = anchor(e.dataset.source), b = anchor(e.dataset.target);
      e.classList.toggle("is-hidden", a[0] === b[0]);
      const [d] = curve(a, b);
      e.setAttribute("d", d);
    }
    for (const label of edgeLabels) {
      const a = anchor(label.dataset.source), b = anchor(label.dataset.target);
      const [, x, y] = curve(a, b);
      label.classList.toggle("is-hidden", a[0] === b[0]);
      label.setAttribute("x", x); label.setAttribute("y", y - 4);
    }
  };
  const toggle = (id) => { const c = clusters.get(id); c.collapsed = !c.collapsed; recompute(); };
  const onActivate = (el, fn) => {
    el.addEventListener("click", (event) => { event.preventDefault(); event.stopPropagation(); if (!dragged) { fn(); } });
    el.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); fn(); } });
  };
  for (const [id, c] of clusters) {
    onActivate(c.box.querySelector(".cluster-title"), () => toggle(id));
    onActivate(c.node, () => toggle(id));
  }

  // --- states: a group node shows its members' most severe state; live updates -------------------
  const severity = JSON.parse(svg.dataset.severity || "[]");
  const summary = (states) => severity.find((s) => states.includes(s)) || states[0] || "none";
  const paint = (g, state, title) => {
    g.dataset.state = state;
    g.setAttribute("class", g.getAttribute("class").replace(/\bs-\S+/, "s-" + state));
    const t = g.querySelector("title");
    if (t && title) { t.textContent = title; }
  };
  const paintGroups = () => {
    for (const [, c] of clusters) {
      if (c.node.classList.contains("is-hidden")) { continue; }
      paint(c.node, summary(c.members.map((t) => nodes.get(t).dataset.state)));
    }
  };
  const paintMapped = (g, states) => {
    const counts = {};
    for (const s of states) { counts[s] = (counts[s] || 0) + 1; }
    const order = severity.filter((s) => counts[s]).concat(Object.keys(counts).filter((s) => !severity.includes(s)));
    const bar = g.querySelector(".map-bar"), rect = g.querySelector("rect");
    const x0 = Number(rect.getAttribute("x")) + 6, y = Number(rect.getAttribute("y")) + NH - 7, width = NW - 12;
    bar.replaceChildren();
    let x = x0;
    for (const s of order) {
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const w = width * counts[s] / states.length;
      r.setAttribute("class", "s-" + s); r.dataset.state = s; r.dataset.count = counts[s];
      r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", w); r.setAttribute("height", 4);
      bar.append(r); x += w;
    }
    g.querySelector(".map-count").textContent = states.length;
    return order.map((s) => ` · ${counts[s]} ${s}`).join("");
  };

  const runId = svg.dataset.runId;
  const finished = (s) => s === "success" || s === "failed";
  if (runId && !finished(svg.dataset.runState)) {
    const base = "/api/v1/dags/" + encodeURIComponent(svg.dataset.dagId) + "/dagRuns/" + encodeURIComponent(runId);
    dagflow.poll(async () => {
      const all = [];
      for (let offset = 0; ; offset += 1000) {  // the API's pages hold at most 1000
        const page = await dagflow.api(base + "/taskInstances?limit=1000&offset=" + offset);
        all.push(...page.task_instances);
        if (page.task_instances.length < 1000) { break; }
      }
      const byTask = {};
      for (const ti of all) { (byTask[ti.task_id] = byTask[ti.task_id] || []).push(ti.state || "none"); }
      for (const [taskId, g] of nodes) {
        const states = byTask[taskId] || ["none"];
        const state = summary(states);
        const extra = g.dataset.mapped && byTask[taskId] ? paintMapped(g, states) : "";
        paint(g, state, taskId + ": " + state + extra);
      }
      paintGroups();
      const run = await dagflow.api(base);
      const badge = document.getElementById("run-state");
      if (badge) { badge.textContent = run.state; badge.className = "state s-" + run.state; }
      svg.dataset.runState = run.state;
      return !finished(run.state);
    }, 1.5);
  }
})();
