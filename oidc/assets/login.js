// Polls the login transaction until the wallet has answered, then moves on
// to the login's finish (the wallet's consent was the one consent).
// Loaded from the login page; no inline script.
(function () {
  "use strict";
  var el = document.getElementById("login");
  if (!el) { return; }
  var status = el.getAttribute("data-status-url");
  var next = el.getAttribute("data-next-url");
  var msg = document.getElementById("login-status");
  function poll() {
    fetch(status, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "presented") { window.location.assign(next); return; }
        if (s.state === "pending") { setTimeout(poll, 1500); return; }
        // The card did not meet the site's requirement: reloading the login
        // page sends the browser back to the site with the error.
        if (s.state === "refused") { window.location.reload(); return; }
        // Expired or finished elsewhere: say so in the page's language and
        // offer the way back to the site.
        if (msg) { msg.textContent = el.getAttribute("data-invalid") || "This sign-in is no longer valid."; }
        var back = document.getElementById("login-back");
        if (back) { back.hidden = false; }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1500);
})();
