// 台账导出: poll the export's status and move the progress bar until the file is ready.
(function () {
  var box = document.getElementById("ledger-export");
  if (!box) { return; }
  var bar = document.getElementById("ledger-bar");
  var label = document.getElementById("ledger-label");
  var percent = document.getElementById("ledger-percent");
  var queued = document.getElementById("ledger-queued");
  var error = document.getElementById("ledger-error");
  var download = document.getElementById("ledger-download");
  var delay = 1000;

  function show(state) {
    bar.style.width = state.percent + "%";
    bar.parentNode.setAttribute("aria-valuenow", state.percent);
    percent.textContent = state.percent + "%";
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
        if (!show(state)) { delay = Math.min(delay * 1.3, 5000); setTimeout(poll, delay); }
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(poll, delay); });
  }

  if (box.dataset.status === "queued" || box.dataset.status === "running") { setTimeout(poll, delay); }
})();
