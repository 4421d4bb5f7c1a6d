// Hover tooltips: the full events of the element under the pointer, from the embedded data.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var S = data.strings, E = data.events;
  var tip = document.getElementById("tip");
  var hot = null;
  function str(i) { return i < 0 ? null : S[i]; }
  function secs(us) {
    var s = String(us % 1000000);
    while (s.length < 6) s = "0" + s;
    return Math.floor(us / 1000000) + "." + s + " s";
  }
  function describe(i) {
    var e = E[i];
    if (!e) return "";
    var head = "#" + i + "  " + secs(e[0]) + "  n" + e[1] + "  " + str(e[2]);
    var lines = [head];
    var who = str(e[4]), to = str(e[5]);
    var civ = [];
    if (str(e[3])) civ.push("session " + str(e[3]));
    if (who && to) civ.push(who + " -> " + to); else if (who) civ.push(who);
    if (str(e[6]) && e[7] >= 0) civ.push(str(e[6]) + "#" + e[7]);
    if (civ.length) lines.push("  " + civ.join("  "));
    if (str(e[8])) lines.push("  site " + str(e[8]));
    if (e[9] >= 0) lines.push("  " + e[9] + " bytes");
    if (str(e[10])) lines.push("  " + str(e[10]));
    return lines.join("\n");
  }
  function show(el, x, y) {
    var ids = el.getAttribute("data-e").split(" ").filter(function (s) { return s !== ""; });
    var more = ids.length > 12 ? "\n... and " + (ids.length - 12) + " more event(s)" : "";
    tip.textContent = ids.slice(0, 12).map(function (s) { return describe(+s); }).join("\n") + more;
    tip.hidden = false;
    place(x, y);
  }
  function place(x, y) {
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(4, Math.min(x + 14, window.innerWidth - w - 8)) + "px";
    tip.style.top = (y + 16 + h > window.innerHeight ? Math.max(4, y - h - 10) : y + 16) + "px";
  }
  var svg = document.getElementById("body");
  svg.addEventListener("mouseover", function (ev) {
    var el = ev.target.closest("[data-e]");
    if (hot) hot.classList.remove("hot");
    hot = el;
    if (!el) { tip.hidden = true; return; }
    el.classList.add("hot");
    show(el, ev.clientX, ev.clientY);
  });
  svg.addEventListener("mousemove", function (ev) { if (!tip.hidden) place(ev.clientX, ev.clientY); });
  svg.addEventListener("mouseleave", function () {
    tip.hidden = true;
    if (hot) { hot.classList.remove("hot"); hot = null; }
  });
  document.body.setAttribute("data-ready", String(document.querySelectorAll("[data-e]").length));
  document.body.setAttribute("data-events", String(E.length));
})();
