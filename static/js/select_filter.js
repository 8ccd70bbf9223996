// 筛选: a long list of organisations (a county has hundreds) gets a box above it; typing keeps only the
// options whose name holds every typed word. Options are taken out and put back rather than hidden,
// because phone browsers show hidden options in their native pickers.
(function () {
  function words(text) {
    return text.toLowerCase().split(/\s+/).filter(Boolean);
  }

  function attach(select) {
    // A short list is read at a glance; a box above it would only be in the way.
    if (select.options.length <= 15) { return; }
    var options = Array.prototype.slice.call(select.options);
    var box = document.createElement("input");
    box.type = "search";
    box.className = "form-control form-control-sm mb-1";
    box.placeholder = select.dataset.filter || "输入名称筛选";
    box.setAttribute("aria-label", box.placeholder);
    box.setAttribute("aria-controls", select.id);
    var count = document.createElement("div");
    count.className = "form-text mt-0 mb-1";
    count.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(box, select);
    select.parentNode.insertBefore(count, select);

    box.addEventListener("input", function () {
      var wanted = words(box.value);
      var chosen = select.value;
      var shown = 0;
      select.textContent = "";
      options.forEach(function (option) {
        var keep = option.value === "" || option.value === chosen ||
          wanted.every(function (w) { return option.text.toLowerCase().indexOf(w) !== -1; });
        if (keep) {
          select.appendChild(option);
          if (option.value !== "") { shown += 1; }
        }
      });
      select.value = chosen;
      count.textContent = wanted.length ? "匹配 " + shown + " 项" : "";
    });
    // Enter in the box would send the form half-filled; it picks the only match instead.
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var real = Array.prototype.filter.call(select.options, function (o) { return o.value !== ""; });
      if (real.length === 1) { select.value = real[0].value; select.dispatchEvent(new Event("change")); }
    });
  }

  document.querySelectorAll("select[data-filter]").forEach(attach);
})();
