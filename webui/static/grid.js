// The grid page: collapsible task groups, a side panel with a task instance's details (read from its
// own page and its log page, so the panel shows what those pages show), and keyboard navigation.
// The table refreshes itself (#grid-live, dagflow-ui.js swaps it in): every handler is delegated, and
// the folded groups, the selected cell, the open panel and the scroll position are put back after
// each "dagflow:refreshed".
(function () {
  "use strict";
  const layout = document.querySelector(".grid-layout");
  if (!layout) { return; }
  const panel = document.getElementById("side-panel");
  const body = document.getElementById("side-body");
  const grid = () => document.getElementById("grid");
  const rows = () => { const table = grid(); return table ? Array.from(table.tBodies[0].rows) : []; };

  // --- groups ------------------------------------------------------------------------------------
  const collapsed = new Set();
  const paint = () => {
    for (const tr of rows()) {
      const parents = tr.dataset.parents ? tr.dataset.parents.split(" ") : [];
      tr.classList.toggle("is-hidden", parents.some((p) => collapsed.has(p)));
      const button = tr.dataset.groupId ? tr.querySelector(".group-toggle") : null;
      if (!button) { continue; }
      const closed = collapsed.has(tr.dataset.groupId), label = button.textContent.slice(2);
      button.textContent = (closed ? "▸ " : "▾ ") + label;
      button.setAttribute("aria-expanded", String(!closed));
      button.setAttribute("aria-label", (closed ? "Expand group " : "Collapse group ") + label);
    }
  };
  layout.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#grid .group-toggle");
    if (!button) { return; }
    const id = button.closest("tr").dataset.groupId;
    if (collapsed.has(id)) { collapsed.delete(id); } else { collapsed.add(id); }
    paint();
  });

  // --- selection and keyboard ----------------------------------------------------------------------
  // the selection is a task and a run, not an element: the element is replaced by each refresh
  let selected = null;
  const selectedCell = () => selected && grid() ? grid().querySelector(
    `a.cell[data-task-id="${CSS.escape(selected.taskId)}"][data-run-id="${CSS.escape(selected.runId)}"]`) : null;
  const select = (cell, focus = true) => {
    for (const old of layout.querySelectorAll("#grid a.cell.selected")) { if (old !== cell) { old.classList.remove("selected"); } }
    selected = { taskId: cell.dataset.taskId, runId: cell.dataset.runId, state: cell.dataset.state };
    cell.classList.add("selected");
    if (focus && document.activeElement !== cell) { cell.focus({ preventScroll: false }); }
  };
  const position = (cell) => {
    const td = cell.parentElement;
    return [rows().indexOf(td.parentElement), Array.prototype.indexOf.call(td.parentElement.cells, td)];
  };
  const cellAt = (all, r, c) => {
    const tr = all[r];
    if (!tr || tr.classList.contains("is-hidden")) { return null; }
    const td = tr.cells[c];
    return td ? td.querySelector("a.cell") : null;
  };
  const step = (cell, dr, dc) => {
    const all = rows();
    let [r, c] = position(cell);
    for (;;) {
      r += dr; c += dc;
      if (r < 0 || r >= all.length || c < 1 || c >= all[Math.max(0, Math.min(r, all.length - 1))].cells.length) { return null; }
      const found = cellAt(all, r, c);
      if (found) { return found; }
    }
  };
  const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  layout.addEventListener("keydown", (event) => {
    const cell = event.target.closest && event.target.closest("#grid a.cell");
    if (!cell || !moves[event.key]) { return; }
    event.preventDefault();
    const next = step(cell, ...moves[event.key]);
    if (next) { select(next); }
  });
  layout.addEventListener("focusin", (event) => {
    const cell = event.target.closest && event.target.closest("#grid a.cell");
    if (cell && !cell.classList.contains("selected")) { select(cell); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.classList.contains("is-hidden")) {
      close();
      const cell = selectedCell();
      if (cell) { cell.focus(); }
    }
  });

  // --- side panel ----------------------------------------------------------------------------------
  const close = () => { panel.classList.add("is-hidden"); body.replaceChildren(); };
  document.getElementById("side-close").addEventListener("click", () => {
    close();
    const cell = selectedCell();
    if (cell) { cell.focus(); }
  });
  const page = async (url) => {
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok) { throw new Error(response.status + " " + url); }
    return new DOMParser().parseFromString(await response.text(), "text/html");
  };
  // What the task instance's page shows below its title, without the buttons that change things.
  const details = (doc) => {
    const main = doc.querySelector("main");
    const parts = [];
    let started = false;
    for (const el of Array.from(main.children)) {
      if (el.classList.contains("tabs")) { started = true; continue; }
      if (!started || el.matches("h2:first-of-type, #ti-actions, form, script")) { continue; }
      parts.push(document.importNode(el, true));
    }
    return parts;
  };
  let loading = 0;
  // quiet: a refresh of what the panel shows (its cell changed state), without a "Loading…" flash
  const open = async (cell, quiet = false) => {
    const ticket = ++loading;
    const href = cell.getAttribute("href");
    const [path, query] = href.split("?");
    document.getElementById("side-title").textContent = `${cell.dataset.taskId} · ${cell.dataset.runId}`;
    document.getElementById("side-open").href = href;
    panel.classList.remove("is-hidden");
    if (!quiet) {
      body.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: "Loading…" }));
    }
    try {
      const [ti, log] = await Promise.all([page(href), page(path + "/logs?" + query)]);
      if (ticket !== loading) { return; }
      const logHead = document.createElement("h2");
      const heading = log.querySelector("main h2");
      logHead.textContent = heading ? heading.textContent.replace(/\s+in\s+\S+\s*$/, "").trim() : "Log";
      const text = log.querySelector("#log");
      const pre = Object.assign(document.createElement("pre"), { className: "log", id: "side-log" });
      pre.textContent = text ? text.textContent : "No log for this try.";
      // the log right after the facts: what a person opening a cell most often wants
      const parts = details(ti);
      const facts = parts.findIndex((el) => el.classList.contains("panel"));
      parts.splice(facts + 1, 0, logHead, pre);
      body.replaceChildren(...parts);
      if (window.dagflow && window.dagflow.formatTimes) { window.dagflow.formatTimes(body); }
    } catch (error) {
      if (ticket !== loading || quiet) { return; }
      body.replaceChildren(Object.assign(document.createElement("p"), { className: "error-text", textContent: "Could not load: " + error.message }));
    }
  };
  layout.addEventListener("click", (event) => {
    const cell = event.target.closest && event.target.closest("#grid a.cell");
    if (!cell || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    select(cell);
    open(cell);
  });

  // --- surviving a refresh -------------------------------------------------------------------------
  let scroll = { left: 0, top: 0 };
  document.addEventListener("scroll", (event) => {
    if (event.target.classList && event.target.classList.contains("grid-scroll")) {
      scroll = { left: event.target.scrollLeft, top: event.target.scrollTop };
    }
  }, true);
  layout.addEventListener("dagflow:refreshed", () => {
    const box = layout.querySelector(".grid-scroll");
    if (box) { box.scrollLeft = scroll.left; box.scrollTop = scroll.top; }
    paint();
    if (!selected) { return; }
    const before = selected.state;
    const cell = selectedCell();
    if (!cell) { return; }
    // the focus went with the replaced cell: give it back, unless the person is elsewhere by now
    const lost = !document.activeElement || document.activeElement === document.body;
    select(cell, lost);
    if (!panel.classList.contains("is-hidden") && cell.dataset.state !== before) { open(cell, true); }
  });
})();
