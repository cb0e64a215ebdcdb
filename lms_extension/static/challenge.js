// The challenge page: editor per language (drafts kept in memory and localStorage),
// Run streams the program's output over a WebSocket, Submit grades against all tests.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("challenge-data").textContent);
  const $ = (sel) => document.querySelector(sel);
  const languageSelect = $("#language");
  const stdinBox = $("#stdin");
  const runButton = $("#run");
  const stopButton = $("#stop");
  const submitButton = $("#submit");
  const output = $("#output");
  const runStatus = $("#run-status");
  const runStats = $("#run-stats");
  const results = $("#results");
  const history = $("#history");

  // What the server accepts (graders' limits); checked here to answer before a round trip.
  const MAX_SOURCE_BYTES = 64 * 1024;
  // A runaway print loop must not freeze the tab: the page keeps this much output.
  const MAX_OUTPUT_CHARS = 200 * 1024;

  const languages = new Map(data.languages.map((l) => [String(l.id), l]));

  // ---------------------------------------------------------------- drafts
  // Keyed by user too, so a shared computer does not hand one student's code to the next.
  const draftKey = (langId) => `lms:challenge:${data.user}:${data.challenge.id}:${langId}`;
  const lastLanguageKey = `lms:challenge:${data.user}:${data.challenge.id}:language`;
  const drafts = new Map();

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode or full: memory only */ }
  }
  function storageRemove(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
  }

  function starterFor(lang) {
    return (data.starter && data.starter[lang.mode]) || "";
  }
  function codeFor(lang) {
    const id = String(lang.id);
    if (drafts.has(id)) return drafts.get(id);
    const saved = storageGet(draftKey(id));
    return saved !== null ? saved : starterFor(lang);
  }

  let saveTimer = null;
  function rememberDraft() {
    const id = currentLanguage().id;
    const text = editor.getValue();
    drafts.set(String(id), text);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => storageSet(draftKey(id), text), 300);
  }
  function flushDraft() {
    clearTimeout(saveTimer);
    const id = String(currentLanguage().id);
    if (drafts.has(id)) storageSet(draftKey(id), drafts.get(id));
  }

  // ---------------------------------------------------------------- editor
  function currentLanguage() {
    return languages.get(languageSelect.value) || data.languages[0];
  }

  // Without the bundle (a checkout where scripts/build-frontend.sh did not run) the page
  // still works, with a plain text area behind the same interface.
  function plainEditor(element, options) {
    const area = document.createElement("textarea");
    area.className = "editor-fallback";
    area.spellcheck = false;
    area.setAttribute("aria-label", options.label);
    area.value = options.doc || "";
    area.addEventListener("input", () => options.onChange && options.onChange(area.value));
    element.appendChild(area);
    let mode = options.language;
    return {
      getValue: () => area.value,
      setValue: (text) => { area.value = text || ""; },
      setLanguage: (lang) => { mode = lang; },
      getLanguage: () => mode,
      focus: () => area.focus(),
    };
  }

  const saved = storageGet(lastLanguageKey);
  if (saved && languages.has(saved)) {
    languageSelect.value = saved;
  } else {
    const python = data.languages.find((l) => l.mode === "python");
    if (python) languageSelect.value = String(python.id);
  }
  const editorOptions = {
    doc: codeFor(currentLanguage()),
    language: currentLanguage().mode,
    label: "Your code",
    onChange: rememberDraft,
    onRun: () => run(),
  };
  let editor;
  if (window.LMSEditor) {
    editor = window.LMSEditor.create($("#editor"), editorOptions);
  } else {
    console.warn("editor.bundle.js is missing (run scripts/build-frontend.sh): plain text editor");
    editor = plainEditor($("#editor"), editorOptions);
  }

  // for the browser tests and for poking at the page from the devtools console
  window.LMSChallenge = { editor };

  languageSelect.addEventListener("change", () => {
    flushDraft();
    const lang = currentLanguage();
    editor.setLanguage(lang.mode);
    editor.setValue(codeFor(lang));
    storageSet(lastLanguageKey, String(lang.id));
  });

  $("#reset").addEventListener("click", () => {
    const lang = currentLanguage();
    if (editor.getValue() !== starterFor(lang) && !window.confirm("Replace your code with the starter code?")) return;
    drafts.delete(String(lang.id));
    storageRemove(draftKey(lang.id));
    editor.setValue(starterFor(lang));
    editor.focus();
  });

  document.querySelectorAll(".use-input").forEach((button) => {
    button.addEventListener("click", () => {
      const test = data.public_tests[Number(button.dataset.index)];
      if (test) stdinBox.value = test.stdin;
      stdinBox.focus();
    });
  });

  window.addEventListener("pagehide", flushDraft);

  function sourceTooLarge(source) {
    if (new Blob([source]).size <= MAX_SOURCE_BYTES) return false;
    return `Your code is larger than ${MAX_SOURCE_BYTES / 1024} KiB.`;
  }

  // ---------------------------------------------------------------- run (WebSocket)
  // Judge0 status ids: 3 accepted, 4 wrong answer, 5 time limit, 6 compile error,
  // 7-12 runtime errors, 13 internal error, 14 exec format error.
  function statusTone(id) {
    if (id === 3) return "ok";
    if (id === 1 || id === 2) return "running";
    if (id === 4 || id === 5) return "warn";
    return "bad";
  }

  function setRunStatus(state, text) {
    runStatus.dataset.state = state;
    runStatus.textContent = text;
  }

  let socket = null;
  let shown = 0;
  let truncated = false;

  function appendOutput(stream, text) {
    if (!text) return;
    if (shown >= MAX_OUTPUT_CHARS) {
      if (!truncated) {
        truncated = true;
        const note = document.createElement("span");
        note.className = "out-note";
        note.textContent = `\n… output cut at ${MAX_OUTPUT_CHARS / 1024} KiB`;
        output.appendChild(note);
      }
      return;
    }
    text = text.slice(0, MAX_OUTPUT_CHARS - shown);
    shown += text.length;
    const cls = stream === "stderr" ? "stderr" : stream === "compile_output" ? "compile" : "stdout";
    const last = output.lastElementChild;
    if (last && last.classList.contains(cls)) {
      last.appendChild(document.createTextNode(text)); // one span per run of a stream
    } else {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      output.appendChild(span);
    }
    output.scrollTop = output.scrollHeight;
  }

  function outputNote(text, cls) {
    const note = document.createElement("span");
    note.className = cls || "out-note";
    note.textContent = (output.textContent ? "\n" : "") + text;
    output.appendChild(note);
  }

  function formatMemory(kb) {
    if (kb == null || kb === "") return "";
    return kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${kb} KB`;
  }
  function formatStats(time, memory) {
    return [time != null && time !== "" ? `${time} s` : "", formatMemory(memory)].filter(Boolean).join(" · ");
  }

  function runFinished() {
    socket = null;
    runButton.disabled = false;
    stopButton.hidden = true;
    output.setAttribute("aria-busy", "false");
  }

  function run() {
    if (socket) return;
    const lang = currentLanguage();
    const source = editor.getValue();
    output.textContent = "";
    shown = 0;
    truncated = false;
    runStats.textContent = "";
    const tooLarge = sourceTooLarge(source);
    if (tooLarge) {
      setRunStatus("bad", "Not run");
      outputNote(tooLarge, "out-error");
      return;
    }
    setRunStatus("running", "Running…");
    runButton.disabled = true;
    stopButton.hidden = false;
    output.setAttribute("aria-busy", "true");

    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${window.location.host}${data.ws_url_path}`);
    } catch (e) {
      setRunStatus("bad", "Error");
      outputNote(`Could not connect: ${e.message}`, "out-error");
      runFinished();
      return;
    }
    socket = ws;
    let finished = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ language_id: lang.id, source, stdin: stdinBox.value }));
    };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (socket !== ws) return; // stopped: late output is not shown
      if (msg.type === "output") {
        appendOutput(msg.stream, msg.text);
      } else if (msg.type === "done") {
        finished = true;
        const status = msg.status || {};
        setRunStatus(statusTone(status.id), status.description || "Done");
        const stats = formatStats(msg.time, msg.memory);
        const exit = msg.exit_code != null && msg.exit_code !== 0 ? `exit code ${msg.exit_code}` : "";
        runStats.textContent = [stats, exit].filter(Boolean).join(" · ");
        if (msg.message) outputNote(msg.message);
        if (!output.textContent) outputNote("(no output)");
      } else if (msg.type === "error") {
        finished = true;
        setRunStatus("bad", "Error");
        outputNote(msg.message || "The run failed.", "out-error");
      }
      if (finished) {
        // the verdict ends the run: do not wait for the server's closing handshake
        runFinished();
        ws.close(1000);
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws) return; // a run the user stopped, or one that already has its verdict
      setRunStatus("bad", "Disconnected");
      outputNote(`The connection closed before the run finished${event.reason ? `: ${event.reason}` : ""}.`, "out-error");
      runFinished();
    };
  }

  runButton.addEventListener("click", run);
  stopButton.addEventListener("click", () => {
    if (!socket) return;
    // the UI is free at once; the server may finish the closing handshake later
    const ws = socket;
    setRunStatus("idle", "Stopped");
    runFinished();
    ws.close(1000, "stopped by the user");
  });

  // ---------------------------------------------------------------- submit
  function xsrfToken() {
    if (data.xsrf_token) return data.xsrf_token;
    const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  };

  const VERDICTS = { passed: "Passed", failed: "Failed", compilation_error: "Compilation error", error: "Error" };

  function renderSubmission(sub) {
    results.textContent = "";
    const summary = el("div", `summary verdict-box verdict-${sub.status}`);
    summary.dataset.status = sub.status;
    summary.appendChild(el("strong", null, VERDICTS[sub.status] || sub.status));
    summary.appendChild(el("span", null, ` · ${sub.passed}/${sub.total} tests passed`));
    results.appendChild(summary);
    if (sub.compile_output) {
      results.appendChild(el("pre", "output compile-output", sub.compile_output));
    }
    const list = el("ol", "tests");
    for (const t of sub.tests || []) {
      const passed = t.status === "Accepted";
      const item = el("li", `test ${passed ? "test-pass" : "test-fail"}${t.hidden ? " hidden-test" : ""}`);
      item.dataset.index = t.index;
      item.dataset.hidden = String(Boolean(t.hidden));
      item.dataset.passed = String(passed);
      const head = el("div", "test-head");
      head.appendChild(el("span", "test-mark", passed ? "✓" : "✗"));
      const name = t.hidden ? `Hidden test ${t.index + 1}` : `Test ${t.index + 1}`;
      head.appendChild(el("span", "test-name", `${name}: ${passed ? "passed" : "failed"}`));
      if (!passed && t.status) head.appendChild(el("span", "pill", t.status));
      head.appendChild(el("span", "muted small", formatStats(t.time, t.memory)));
      item.appendChild(head);
      if (!t.hidden && "expected" in t) {
        const io = el("details", "test-io");
        io.open = !passed;
        io.appendChild(el("summary", null, "Input and output"));
        const grid = el("div", "example-io");
        for (const [label, text] of [["Input", t.stdin], ["Expected", t.expected], ["Your output", t.stdout]]) {
          if (text == null) continue;
          const cell = el("div");
          cell.appendChild(el("span", "muted small", label));
          cell.appendChild(el("pre", null, text === "" ? "(empty)" : text));
          grid.appendChild(cell);
        }
        io.appendChild(grid);
        item.appendChild(io);
      }
      list.appendChild(item);
    }
    results.appendChild(list);
  }

  function formatWhen(iso) {
    if (!iso) return "";
    // the server stores UTC; SQLite drops the offset, so a bare timestamp is UTC too
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function addHistory(sub, lang) {
    const item = el("li", "history-item");
    item.dataset.id = sub.id;
    item.dataset.status = sub.status;
    item.appendChild(el("span", `verdict verdict-${sub.status}`, VERDICTS[sub.status] || sub.status));
    item.appendChild(el("span", "history-score", `${sub.passed}/${sub.total} tests`));
    const meta = el("span", "history-meta muted small", `${lang.name} · `);
    const now = new Date().toISOString();
    const when = el("time", null, formatWhen(now));
    when.dateTime = now;
    meta.appendChild(when);
    item.appendChild(meta);
    history.prepend(item);
    $("#history-empty").hidden = true;
  }

  history.querySelectorAll("time[datetime]").forEach((t) => { t.textContent = formatWhen(t.dateTime); });

  function showError(message) {
    results.textContent = "";
    const box = el("div", "summary verdict-box verdict-error", message);
    box.dataset.status = "request-error";
    box.setAttribute("role", "alert");
    results.appendChild(box);
  }

  let retryTimer = null;
  function busyFor(seconds) {
    clearInterval(retryTimer);
    let left = seconds;
    const tick = () => {
      if (left <= 0) {
        clearInterval(retryTimer);
        submitButton.disabled = false;
        submitButton.textContent = "Submit";
        return;
      }
      submitButton.textContent = `Submit (${left})`;
      left -= 1;
    };
    submitButton.disabled = true;
    tick();
    retryTimer = setInterval(tick, 1000);
  }

  async function submit() {
    const lang = currentLanguage();
    const source = editor.getValue();
    const tooLarge = sourceTooLarge(source);
    if (tooLarge) { showError(tooLarge); return; }
    flushDraft();
    submitButton.disabled = true;
    results.textContent = "";
    results.appendChild(el("p", "muted", "Grading against all tests…"));
    results.setAttribute("aria-busy", "true");
    let wait = 0;
    try {
      const response = await fetch(`${data.api_base}/submissions`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-XSRFToken": xsrfToken() },
        body: JSON.stringify({ language_id: lang.id, source }),
      });
      let body = null;
      try { body = await response.json(); } catch (e) { /* not JSON: a proxy error page */ }
      if (response.status === 201 && body) {
        renderSubmission(body);
        addHistory(body, lang);
      } else if (response.status === 429) {
        wait = parseInt(response.headers.get("Retry-After") || "", 10);
        if (!(wait > 0)) wait = 5;
        showError(`The grader is busy, retry in ${wait} s.`);
      } else if (response.status === 403 && body && /xsrf/i.test(body.message || "")) {
        showError("Your session expired: reload the page (your code is kept).");
      } else {
        showError((body && body.message) || `Submitting failed (HTTP ${response.status}).`);
      }
    } catch (e) {
      showError(`Could not reach the server: ${e.message}`);
    } finally {
      results.setAttribute("aria-busy", "false");
      if (wait > 0) busyFor(wait);
      else submitButton.disabled = false;
    }
  }

  submitButton.addEventListener("click", submit);
})();
