/* Cooperation opportunities of this domain or cluster, asked from the federation's hub.
   A region's node holds no index; the hub's read-only /sparql answers cross-origin (CORS is open
   for reads), so the page asks it directly and stays useful, with a link, when the hub is down. */
(function () {
  var box = document.getElementById("opportunities");
  if (!box || !window.fetch) return;
  var hub = box.dataset.hub, entity = box.dataset.entity, langs = box.dataset.langs.split(",");
  var query = "PREFIX s3: <https://w3id.org/s3fed/vocab#>\nPREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n" +
    "SELECT ?opp ?score ?other ?ol ?rl WHERE {\n" +
    "  ?opp a s3:CooperationOpportunity ; s3:between <" + entity + ">, ?other ; s3:score ?score .\n" +
    "  FILTER(?other != <" + entity + ">)\n" +
    "  OPTIONAL { ?other skos:prefLabel ?ol }\n" +
    "  OPTIONAL { ?other (s3:strategy/s3:region)|s3:region ?r . ?r skos:prefLabel ?rl }\n" +
    "} ORDER BY DESC(?score) LIMIT 400";
  function rank(term) {  /* lower is better: the reader's languages first */
    var i = langs.indexOf(term ? (term["xml:lang"] || "").split("-")[0] : "zz");
    return i < 0 ? 99 : i;
  }
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  var state = box.querySelector("[data-state]");
  fetch(hub + "/sparql", {method: "POST", body: new URLSearchParams({query: query}),
                          headers: {"Accept": "application/sparql-results+json"}})
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (data) {
      var byOpp = {}, order = [];
      data.results.bindings.forEach(function (b) {
        var o = byOpp[b.opp.value];
        if (!o) { o = byOpp[b.opp.value] = {id: b.opp.value, partner: b.other.value, score: +b.score.value}; order.push(o); }
        if (b.ol && (!o.ol || rank(b.ol) < rank(o.ol))) o.ol = b.ol;
        if (b.rl && (!o.rl || rank(b.rl) < rank(o.rl))) o.rl = b.rl;
      });
      if (!order.length) { state.textContent = "The federation's cooperation index has no opportunity for it yet."; return; }
      var wrap = el("div", undefined, {"class": "table-wrap"}), t = el("table", undefined, {"class": "opportunities"});
      var head = t.createTHead().insertRow();
      ["Possible partner", "Region", "Score", ""].forEach(function (h, i) { head.appendChild(el("th", h, i === 2 ? {"class": "num"} : {})); });
      var body = t.createTBody();
      order.forEach(function (o) {
        var tr = body.insertRow(), td = tr.insertCell();
        td.appendChild(el("a", o.ol ? o.ol.value : o.partner, {href: o.partner}));
        tr.insertCell().textContent = o.rl ? o.rl.value : "—";
        var sc = tr.insertCell(); sc.className = "num";
        var span = el("span", undefined, {"class": "score"}), meter = el("span", undefined, {"class": "meter"});
        meter.appendChild(el("i", undefined, {style: "width:" + Math.round(o.score * 100) + "%"}));
        span.appendChild(meter); span.appendChild(document.createTextNode(o.score.toFixed(2))); sc.appendChild(span);
        tr.insertCell().appendChild(el("a", "why?", {href: o.id}));
      });
      wrap.appendChild(t);
      state.textContent = order.length + " suggestion(s) from the federation's ";
      state.appendChild(el("a", "cooperation index", {href: hub + "/index"}));
      state.appendChild(document.createTextNode(", best first."));
      box.appendChild(wrap);
    })
    .catch(function () { /* the hub is unreachable: the link to its index stays */ });
})();
