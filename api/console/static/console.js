// Progressive enhancement only: every page works without this file.
// The limit field of the resolution form matters only for "adjust": enable it then, and focus it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-resolve]").forEach(function (form) {
    var limit = form.querySelector("input[name=limit]");
    if (!limit) return;
    function sync(focus) {
      var chosen = form.querySelector("input[name=resolution]:checked");
      var adjust = chosen && chosen.value === "adjust";
      limit.disabled = !adjust;
      limit.required = adjust;
      if (adjust && focus) limit.focus();
    }
    form.querySelectorAll("input[name=resolution]").forEach(function (r) {
      r.addEventListener("change", function () { sync(true); });
    });
    sync(false);
  });
});

// The audit page: while the trail's verification runs, fetch its status every two seconds and show it
// (the region is aria-live). Without this script, reloading the page shows the result.
document.addEventListener("DOMContentLoaded", function () {
  var region = document.getElementById("trail-status-region");
  if (!region || !window.fetch) return;
  function poll() {
    if (!region.hasAttribute("data-running")) return;
    window.setTimeout(function () {
      fetch("/console/audit/status", {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#trail-status-region");
          if (!fresh) return;
          region.replaceWith(fresh);
          region = fresh;
          poll();
        })
        .catch(function () { /* keep the page as it is; a reload shows the result */ });
    }, 2000);
  }
  poll();
});
