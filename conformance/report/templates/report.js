(function () {
  "use strict";
  // Filter the requirement matrix by status and by text; works from file:// with no network.
  var rows = Array.prototype.slice.call(document.querySelectorAll("#matrix tbody tr"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-status]"));
  var search = document.getElementById("matrix-search");
  var wanted = "all";

  function apply() {
    var text = search ? search.value.trim().toLowerCase() : "";
    rows.forEach(function (row) {
      var statusOk = wanted === "all" || row.getAttribute("data-status") === wanted;
      var textOk = !text || row.textContent.toLowerCase().indexOf(text) !== -1;
      row.hidden = !(statusOk && textOk);
    });
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      wanted = button.getAttribute("data-status");
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      apply();
    });
  });
  if (search) { search.addEventListener("input", apply); }
})();
