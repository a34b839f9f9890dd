// The wall page's own script (wawp-tui serve --web), loaded before textual-serve's.
// - Every URL is relative to the page: the websocket's too (textual-serve would build an
//   absolute one from a configured public URL), so the page works the same through an
//   SSH tunnel and behind a reverse proxy with a path prefix.
// - A TV has nobody to press "Restart": when the socket drops, the page says so and
//   comes back by itself. It first asks ./ping whether the server is there (so a server
//   still down never leaves the browser on an error page of its own), then reloads; the
//   waits grow from 1 s to 5 s and never stop.
"use strict";
(function () {
  var TRIES = "wawp-wall-tries";
  var Native = window.WebSocket;
  var openedAt = 0;
  var lostAt = null;

  // textual-serve's script reads ?ping= (a URL it would fetch) and ?delay= from the
  // address: neither has a use here.
  var params = new URLSearchParams(window.location.search);
  if (params.has("ping") || params.has("delay")) {
    params.delete("ping");
    params.delete("delay");
    var rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
  }

  function absolute(url) {
    var u = new URL(url, window.location.href);
    if (u.protocol === "https:") u.protocol = "wss:";
    else if (u.protocol === "http:") u.protocol = "ws:";
    return u.href;
  }

  function Socket(url, protocols) {
    var socket = protocols === undefined ? new Native(absolute(url)) : new Native(absolute(url), protocols);
    socket.addEventListener("open", function () { openedAt = Date.now(); });
    socket.addEventListener("close", lost);
    return socket;
  }
  Socket.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Socket[k] = Native[k]; });
  window.WebSocket = Socket;

  function say(text) {
    var line = document.getElementById("wall-status");
    if (line) line.textContent = text;
  }

  function clock(when) {
    return when.toTimeString().slice(0, 8);
  }

  function tries() {
    try { return parseInt(window.sessionStorage.getItem(TRIES) || "0", 10) || 0; } catch (e) { return 0; }
  }

  function remember(n) {
    try { window.sessionStorage.setItem(TRIES, String(n)); } catch (e) { /* private mode */ }
  }

  function lost() {
    if (lostAt !== null) return;
    lostAt = new Date();
    document.body.classList.add("-lost");
    // It had been up for a while: a new trouble, start again from the shortest wait.
    probe(openedAt && Date.now() - openedAt > 30000 ? 0 : tries());
  }

  function probe(n) {
    var wait = Math.min(1000 * Math.pow(2, n), 5000);
    say("Connection to the wall lost at " + clock(lostAt) + ": reconnecting by itself (try " +
        (n + 1) + ", next in " + Math.round(wait / 1000) + " s)");
    window.setTimeout(function () {
      window.fetch("ping", { cache: "no-store", credentials: "same-origin" }).then(function (reply) {
        if (reply.status === 503) {
          return reply.text().then(function (text) {
            say(text.trim() + " (trying again every 10 s)");
            window.setTimeout(function () { probe(n); }, 10000);
          });
        }
        remember(n + 1);
        window.location.reload();  // back (or a token to give again: the page says so)
      }, function () { probe(n + 1); });
    }, wait);
  }

  window.addEventListener("load", function () {
    // A socket that stays up a while clears the count of tries.
    window.setInterval(function () {
      if (openedAt && lostAt === null && Date.now() - openedAt > 30000) remember(0);
    }, 10000);
  });
})();
