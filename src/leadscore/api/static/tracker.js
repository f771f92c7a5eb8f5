/* leadscore first-party tracker. One tag:
 *   <script src="https://scores.example.com/t.js" data-key="lsk_..." async></script>
 * Page views (path, title, referrer, channel, UTM), identify on form submit, custom calls:
 *   leadscore.track("Demo Requested", {plan: "pro"}); leadscore.identify("u-42", {email: "a@b.c"});
 * Nothing is sent or stored under Do-Not-Track / Global Privacy Control, nor before consent when the
 * tag has data-consent="required" (then call leadscore.consent(true)). Calls are Segment Spec calls,
 * batched and sent with navigator.sendBeacon to /v1/t. Options (data-*): key, endpoint, consent,
 * forms ("off" to skip form identify), link-domains (comma list: links there carry the visitor id),
 * identify-param (default "ls_id"; a comma list, or "off"): a page opened from a tracking link such as
 * https://example.com/pricing?ls_id=<lead id> links this visitor to that existing lead (never creates a
 * lead, never sets attributes), and the parameter leaves the address bar at once (history.replaceState).
 */
(function (w, d) {
  "use strict";
  var tag = d.currentScript || d.querySelector("script[data-key]");
  if (!tag || (w.leadscore && w.leadscore.loaded)) return;
  var opt = tag.dataset || {};
  var key = opt.key || "";
  var endpoint = (opt.endpoint || new URL(tag.src, w.location.href).origin).replace(/\/$/, "");
  var VID = "ls_vid", UID = "ls_uid", CONSENT = "ls_consent";
  var queue = [], timer = null, pending = (w.leadscore && w.leadscore.q) || [];

  function dnt() {
    var n = w.navigator || {};
    return n.doNotTrack === "1" || w.doNotTrack === "1" || n.msDoNotTrack === "1" || n.globalPrivacyControl === true;
  }
  function store(name, value) {
    try { if (value === null) w.localStorage.removeItem(name); else w.localStorage.setItem(name, value); } catch (e) { /* storage off */ }
    var age = value === null ? 0 : 63072000;
    d.cookie = name + "=" + encodeURIComponent(value || "") + ";path=/;max-age=" + age + ";SameSite=Lax" +
      (w.location.protocol === "https:" ? ";Secure" : "");
  }
  function read(name) {
    try { var v = w.localStorage.getItem(name); if (v) return v; } catch (e) { /* storage off */ }
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function allowed() {
    if (dnt()) return false;
    return opt.consent !== "required" || read(CONSENT) === "1";
  }
  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16); w.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function visitor(fresh) {
    var linked = new URLSearchParams(w.location.search).get("_lsvid");
    var id = fresh ? null : (read(VID) || (linked && /^[A-Za-z0-9-]{8,64}$/.test(linked) ? linked : null));
    if (!id) id = uuid();
    store(VID, id);
    return id;
  }
  function channel(ref, utm) {
    if (utm.utm_medium) return /cpc|ppc|paid/i.test(utm.utm_medium) ? "paid" : utm.utm_medium.toLowerCase();
    if (!ref) return "direct";
    var host = ""; try { host = new URL(ref).hostname; } catch (e) { return "referral"; }
    if (host === w.location.hostname) return "internal";
    if (/(^|\.)(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia)\./.test(host)) return "organic";
    if (/(^|\.)(facebook|linkedin|twitter|x|t|instagram|reddit|youtube)\.(com|co)$/.test(host)) return "social";
    return "referral";
  }
  function utm() {
    var out = {}, q = new URLSearchParams(w.location.search);
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = q.get("utm_" + k); if (v) out["utm_" + k] = v.slice(0, 255);
    });
    return out;
  }
  function context() {
    return { page: { path: w.location.pathname, url: w.location.href.split("#")[0], title: d.title,
      referrer: d.referrer, search: w.location.search } };
  }
  function send(call) {
    if (!allowed()) return;
    call.anonymousId = read(VID) || visitor(false);
    var uid = read(UID); if (uid && !call.userId) call.userId = uid;
    call.messageId = uuid();
    call.timestamp = new Date().toISOString();
    call.context = call.context || context();
    queue.push(call);
    if (api.onsend) try { api.onsend(call); } catch (e) { /* a debug hook must not break tracking */ }
    if (queue.length >= 20) flush(); else if (!timer) timer = setTimeout(flush, 1000);
  }
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length) return;
    var body = JSON.stringify({ batch: queue.splice(0, queue.length), sentAt: new Date().toISOString() });
    var url = endpoint + "/v1/t?partial=true&key=" + encodeURIComponent(key);
    var blob = new Blob([body], { type: "text/plain" });
    if (!(w.navigator.sendBeacon && w.navigator.sendBeacon(url, blob)) && w.fetch) {
      w.fetch(url, { method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit",
        headers: { "Content-Type": "text/plain" } }).catch(function () { /* best effort */ });
    }
  }
  function page(name, properties) {
    var ref = d.referrer, u = utm(), props = { path: w.location.pathname, title: d.title, referrer: ref,
      url: w.location.href.split("#")[0], channel: channel(ref, u) };
    for (var k in u) props[k] = u[k];
    for (var p in properties || {}) props[p] = properties[p];
    send({ type: "page", name: name || undefined, properties: props });
  }
  function identify(userId, traits) {
    if (!userId) return;
    userId = String(userId);
    var known = read(UID);
    // Another person on this browser: a new visitor id, so nothing of the first person moves over.
    if (known && known !== userId) { flush(); visitor(true); }
    if (allowed()) store(UID, userId);
    send({ type: "identify", userId: userId, traits: traits || {} });
  }
  function formTraits(form) {
    var traits = {}, email = null;
    Array.prototype.forEach.call(form.elements, function (el) {
      var n = (el.name || el.id || "").slice(0, 64), t = (el.type || "").toLowerCase();
      if (!n || !el.value || /password|hidden|file|submit|button/.test(t) || /card|cvc|iban|ssn|pass/i.test(n)) return;
      if ((t === "checkbox" || t === "radio") && !el.checked) return;
      // a number field sends a number (models compare numbers); everything else is text
      traits[n] = t === "number" && isFinite(Number(el.value)) ? Number(el.value) : String(el.value).slice(0, 1000);
      if (!email && (t === "email" || /e-?mail/i.test(n)) && /@/.test(el.value)) email = el.value.trim().toLowerCase();
    });
    return { email: email, traits: traits };
  }
  function onSubmit(ev) {
    var form = ev.target; if (!form || form.tagName !== "FORM" || form.hasAttribute("data-leadscore-ignore")) return;
    var found = formTraits(form);
    send({ type: "track", event: "Form Submitted", properties: { form: form.id || form.name || form.action } });
    if (found.email) identify(found.email, found.traits);
    flush();
  }
  function decorate(ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[href]") : null;
    if (!a || !opt.linkDomains || !allowed()) return;
    var url; try { url = new URL(a.href); } catch (e) { return; }
    var domains = opt.linkDomains.split(",").map(function (s) { return s.trim(); });
    if (url.hostname !== w.location.hostname && domains.indexOf(url.hostname) >= 0) {
      url.searchParams.set("_lsvid", read(VID) || visitor(false)); a.href = url.toString();
    }
  }
  // The lead id of a tracking link, taken out of the address bar before anything records the URL, so
  // it is not bookmarked, shared onwards or sent as a referrer. Done even without consent (it stores
  // nothing); the identify itself is sent only when tracking is allowed.
  function linkedLead() {
    var names = (opt.identifyParam === undefined ? "ls_id" : opt.identifyParam).split(",")
      .map(function (n) { return n.trim(); }).filter(Boolean);
    if (!names.length || names[0] === "off") return null;
    var url; try { url = new URL(w.location.href); } catch (e) { return null; }
    var found = null;
    names.forEach(function (n) {
      var v = url.searchParams.get(n);
      if (v !== null) { if (found === null) found = v.trim(); url.searchParams.delete(n); }
    });
    if (found === null) return null;
    try { w.history.replaceState(w.history.state, "", url.pathname + url.search + url.hash); } catch (e) { /* sandboxed */ }
    return found && found.length <= 255 ? found : null;
  }
  function identifyFromLink(leadId) {
    // Only the visitor is linked: no traits, and the id is not kept as this browser's user, so a link
    // for a lead that does not exist (the server refuses it) leaves the visitor anonymous.
    var ctx = context(); ctx.leadscore = { source: "url" };
    send({ type: "identify", userId: leadId, traits: {}, context: ctx });
    flush();
  }
  var api = {
    loaded: true,
    page: page,
    identify: identify,
    track: function (event, properties) { if (event) send({ type: "track", event: String(event), properties: properties || {} }); },
    flush: flush,
    visitorId: function () { return allowed() ? read(VID) || visitor(false) : null; },
    consent: function (granted) {
      if (granted) { store(CONSENT, "1"); page(); } else { queue.length = 0; [VID, UID].forEach(function (n) { store(n, null); }); store(CONSENT, null); }
    },
    onsend: null,
  };
  w.leadscore = api;
  if (opt.forms !== "off") d.addEventListener("submit", onSubmit, true);
  d.addEventListener("mousedown", decorate, true);
  w.addEventListener("pagehide", flush);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(); });
  var linked = linkedLead();
  page();
  if (linked) identifyFromLink(linked);
  pending.forEach(function (c) { if (api[c[0]]) api[c[0]].apply(null, c.slice(1)); });
})(window, document);
