// 台账导出: poll the export's status and move the progress bar until the file is ready.
// Before the first step is done (queued, or reading the records) the bar is full, grey and moving: no figure
// yet. The status is asked every POLL_MS while the export runs; after a failed request, less often.
(function () {
  var box = document.getElementById("ledger-export");
  if (!box) { return; }
  var bar = document.getElementById("ledger-bar");
  var label = document.getElementById("ledger-label");
  var percent = document.getElementById("ledger-percent");
  var queued = document.getElementById("ledger-queued");
  var error = document.getElementById("ledger-error");
  var download = document.getElementById("ledger-download");
  var POLL_MS = 1500;
  var MAX_RETRY_MS = 10000;
  var retry = POLL_MS;

  function show(state) {
    var meter = bar.parentNode;
    bar.classList.toggle("bg-secondary", !!state.indeterminate);
    if (state.indeterminate) {
      bar.style.width = "100%";
      meter.removeAttribute("aria-valuenow");
      percent.textContent = "请稍候…";
    } else {
      bar.style.width = state.percent + "%";
      meter.setAttribute("aria-valuenow", state.percent);
      percent.textContent = state.percent + "%";
    }
    label.textContent = state.label;
    queued.classList.toggle("d-none", state.status !== "queued");
    if (state.error) { error.textContent = state.error; error.classList.remove("d-none"); }
    var finished = state.status === "done" || state.status === "failed";
    if (finished) { bar.classList.remove("progress-bar-striped", "progress-bar-animated"); }
    if (state.status === "failed") { bar.classList.add("bg-danger"); }
    if (state.download_url) { download.href = state.download_url; download.classList.remove("d-none"); }
    return finished;
  }

  function poll() {
    fetch(box.dataset.statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (state) {
        retry = POLL_MS;
        if (!show(state)) { setTimeout(poll, POLL_MS); }
      })
      .catch(function () { retry = Math.min(retry * 2, MAX_RETRY_MS); setTimeout(poll, retry); });
  }

  if (box.dataset.status === "queued" || box.dataset.status === "running") { setTimeout(poll, POLL_MS); }
})();
