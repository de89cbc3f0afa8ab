"""The review app's pages: server-rendered Jinja2 templates, no front-end build step."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

BASE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ t('title') }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd}
a{color:#0b5cad} table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #eee;
padding:.35rem;text-align:left;vertical-align:top} .grid{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem;width:360px}
.card img,.card video{width:100%} .badge{padding:.1rem .4rem;border-radius:4px;background:#eee}
.light{font-size:1.2em} .light.green{color:#1a7f37} .light.amber{color:#bf8700}
.light.red{color:#cf222e} .light.grey{color:#8c959f}
.approved{background:#d4f5d4} .rejected{background:#f8d4d4} .waiting{background:#fff3c4;
padding:.6rem;border-radius:6px} .flash{background:#e6f0ff;padding:.5rem;border-radius:6px}
form.inline{display:inline} progress{width:240px}
</style></head><body>
<header><h1><a href="/">{{ t('title') }}</a></h1>
<a id="lang-switch" href="?lang={{ 'pt-BR' if lang == 'en' else 'en' }}">{{ t('language') }}</a>
</header>
{% if flash %}<p class="flash" id="flash">{{ flash }}</p>{% endif %}
{% block body %}{% endblock %}
</body></html>"""

HOME = """{% extends "base" %}{% block body %}
<section id="in-flight"><h2>{{ t('in_flight') }}</h2>
{% if runs %}<table>{% for r in runs %}<tr class="run-item" data-state="{{ r.rv.state }}">
<td>{% if r.known %}<a href="/c/{{ r.client }}/{{ r.character }}">{{ r.client }}/{{ r.character
 }}</a>{% else %}{{ r.client }}/{{ r.character }} <small>{{ t('new_character') }}</small>{% endif
 %}</td>
<td>{{ state_line(r.rv) }}</td><td>{% if r.rv.run %}<small>{{ t('launched_by') }}:
 {{ r.rv.run.launched_by or '?' }} · {{ t('started_at') }} {{ when(r.rv.run.started_at) }}
</small>{% endif %}</td></tr>{% endfor %}</table>
{% else %}<p id="nothing-in-flight">{{ t('nothing_in_flight') }}</p>{% endif %}</section>
<section id="waiting"><h2>{{ t('waiting_for_you') }}</h2>
{% if waiting %}<table><tr><th>{{ t('since') }}</th><th>{{ t('what') }}</th><th></th></tr>
{% for w in waiting %}<tr class="waiting-item" data-kind="{{ w.kind }}">
<td>{{ when(w.since) if w.since else '' }}</td>
<td><a href="{{ w.link }}">{{ t('wait_' + w.kind) }}{% if w.client %}: {{ w.client }}/{{ w.character
 }}{% endif %} <code>{{ w.what }}</code></a></td>
<td>{{ w.detail_pt if lang != 'en' and w.detail_pt else w.detail }}</td></tr>{% endfor %}
</table>{% else %}<p id="nothing-waiting">{{ t('nothing_waiting') }}</p>{% endif %}</section>
<h2>{{ t('clients') }}</h2>
<p><a id="new-brief" href="/briefs/new">{{ t('new_brief') }}</a></p>
{% if clients %}<ul id="clients">{% for c in clients %}
<li><a href="/c/{{ c.name }}">{{ c.name }}</a>: {% for ch in c.characters %}
<a href="/c/{{ c.name }}/{{ ch }}">{{ ch }}</a>{% if not loop.last %}, {% endif %}{% endfor %}</li>
{% endfor %}</ul>{% else %}<p>{{ t('no_clients') }}</p>{% endif %}
<h2>{{ t('briefs_in_error') }}</h2>
{% if errors %}<table id="brief-errors"><tr><th>{{ t('brief') }}</th><th></th></tr>
{% for e in errors %}<tr><td><code>{{ e.path }}</code> {{ t('not_run') }}
(<a class="fix-brief" href="{{ e.fix }}">{{ t('fix_brief') }}</a>)</td>
<td><ul>{% for p in (e.en if lang == 'en' else e.pt) %}<li>{{ p }}</li>{% endfor %}</ul>
</td></tr>{% endfor %}
</table>{% else %}<p>{{ t('no_briefs_in_error') }}</p>{% endif %}
{% endblock %}"""

PROGRESS = """<section id="progress" data-state="{{ rv.state }}"
 data-run="{{ rv.run.run_id if rv.run else '' }}"><h2>{{ t('progress') }}</h2>
<p id="run-state" class="run-{{ rv.state }}">{{ state_line(rv) }}
{% if rv.run and rv.state != 'none' %}<br><small>{{ t('launched_by') }}:
 {{ rv.run.launched_by or '?' }} · {{ t('started_at') }}
 {{ when(rv.run.started_at) }}</small>{% endif %}
{% if reload_hint %} <a id="reload" href="">{{ t('reload_to_see') }}</a>{% endif %}</p>
{% if rv.loops %}<ul>{% for p in rv.loops %}
<li class="loop" data-stage="{{ p.asset }}" data-state="{{ p.state }}">{{ loop_line(p) }}
<progress max="{{ p.total }}" value="{{ p.done }}"></progress></li>{% endfor %}</ul>{% endif %}
</section>"""

# Polls the run's state every 2 s and swaps the progress box in place (no page reload), so a run
# started anywhere (CLI, sensor, this app, the Dagster UI) shows as it goes, and its end is said.
POLL = """<script>
(function () {
  var box = document.getElementById("progress");
  var url = "/api/c/{{ v.client }}/{{ v.character }}/progress?lang={{ lang }}"
    + "&since=" + encodeURIComponent(box.dataset.state)
    + "&run=" + encodeURIComponent(box.dataset.run);
  function tick() {
    fetch(url, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) { return; }
        var wrap = document.createElement("div");
        wrap.innerHTML = j.html;
        document.getElementById("progress").replaceWith(wrap.firstElementChild);
      })
      .catch(function () {});
  }
  setInterval(tick, 2000);
})();
</script>"""

REPORT = """{% extends "base" %}{% block body %}
<p><a href="/c/{{ client }}">{{ client }}</a></p>
<p><img id="report-posters" alt="{{ t('posters') }}" style="max-width:100%"
 src="{{ url(ref, posters) }}"></p>
<article id="report">{{ body }}</article>{% endblock %}"""

CLIENT = """{% extends "base" %}{% block body %}
<h2>{{ client }}: {{ t('characters') }}</h2>
<p><a id="client-report" href="/c/{{ client }}/report">{{ t('client_report') }}</a></p>
<ul>{% for ch in characters %}<li><a href="/c/{{ client }}/{{ ch }}">{{ ch }}</a></li>
{% endfor %}</ul>
<section id="client-links"><h2>{{ t('client_links') }}</h2>
{% if issued %}<p class="flash" id="issued-link">{{ t('link_issued') }}<br>
<input id="issued-url" readonly style="width:100%" value="{{ issued }}"></p>{% endif %}
{% if can_sign %}<form method="post" action="/c/{{ client }}/_links" id="issue-link">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label>{{ t('link_days') }} <input name="days" type="number" min="1" max="90" step="1"
 value="14" required></label> <button type="submit">{{ t('issue_link') }}</button></form>
{% else %}<p class="warning" id="links-unsigned">{{ t('links_unsigned') }}</p>{% endif %}
{% if links %}<table id="links"><tr><th>{{ t('link') }}</th><th>{{ t('issued') }}</th>
<th>{{ t('expires') }}</th><th></th></tr>
{% for l in links %}<tr class="link" data-nonce="{{ l.nonce }}"><td><code>{{ l.nonce }}</code></td>
<td>{{ when(l.issued_at) }}</td><td>{{ when(l.expires_at) }}</td><td>
{% if l.revoked %}{{ t('revoked_by') }} {{ l.revoked.who }} ({{ when(l.revoked.at) }})
{% elif l.expired %}{{ t('expired') }}
{% else %}<form method="post" action="/c/{{ client }}/_links/{{ l.nonce }}/revoke" class="revoke">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label>{{ t('revoker') }} <input name="who" required size="10" value="{{ who }}"></label>
<button type="submit">{{ t('revoke') }}</button></form>{% endif %}</td></tr>
{% endfor %}</table>{% endif %}</section>{% endblock %}"""

CHARACTER = """{% extends "base" %}{% block body %}
<p><a href="/c/{{ v.client }}">{{ v.client }}</a> / <strong>{{ v.character }}</strong>
{% if v.brief %}: {{ v.brief.character.name }}{% endif %}
(<a id="edit-brief" href="/c/{{ v.client }}/{{ v.character }}/brief">{{ t('edit_brief') }}</a>)</p>
{% if version %}<p>{{ t('showing_version') }} <code>{{ version }}</code>
(<a href="/c/{{ v.client }}/{{ v.character }}">{{ t('back_current') }}</a>)</p>{% endif %}

{% include "progress" %}
{% if not version %}{% include "poll" %}{% endif %}
{% if not version and rv.in_flight %}{{ run_form('stop') }}{% endif %}
{% if not version and rv.ended and not rv.alive %}{{ run_form('restart') }}{% endif %}
{% if prices_problem %}<p class="warning" id="prices-unavailable">{{ t('prices_unavailable') }}:
{{ prices_problem }}</p>{% endif %}

<section id="references"><h2>{{ t('references') }}
{% set g = v.gates['references'] %}{{ badge(g) }}</h2>
{% if g.waiting %}<p class="waiting" id="waiting-references">{{ t('waiting_approval') }}</p>
{% endif %}
{% if v.references %}
<p><code>{{ v.references.version }}</code></p>
{{ review_form('references', v.references.version) }}
{% if g.waiting and prices %}<p id="approve-price">{{ t('approve_starts') }}:
{{ price_of(prices.approve_references) }}</p>{% endif %}
<p><img id="contact-sheet" alt="{{ t('contact_sheet') }}" style="max-width:100%"
 src="{{ url(v.references, v.contact_sheet) }}"></p>
<div class="grid">{% for s in v.stills %}<div class="card still">
<img alt="{{ view_name(s.view) }}" src="{{ url(v.references, s.image) }}">
<div>{{ t('view') }}: {{ view_name(s.view) }} · {{ t('seed') }} {{ s.seed }}</div></div>
{% endfor %}</div>
{% else %}<p>{{ t('no_references') }}</p>{% endif %}
</section>

<section id="shots"><h2>{{ t('shots') }}</h2>
{% if held %}<div id="held">{% for w in held %}
<form method="post" action="/c/{{ v.client }}/{{ v.character }}/accept" class="accept-form waiting"
 data-kind="{{ w.kind }}" data-shot="{{ w.what }}"><p><strong>{{ w.what }}</strong>: {{
 t('held_' + w.kind) }} ({{ w.detail }})</p>
{% if w.take %}<p>{{ t('said') }}: <q>{{ w.said }}</q></p>
<audio controls preload="none" src="{{ url(w.take, line_wav) }}"></audio>{% endif %}
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="shot" value="{{ w.what }}">
{% if w.kind == 'line' %}<input type="hidden" name="line" value="1">{% endif %}
<label>{{ t('who') }} <input name="who" required value="{{ who }}" size="10"></label>
<button type="submit" class="accept">{{ t('accept_' + w.kind) }}</button>
{{ price_of(prices.accept) if prices and prices.accept }}</form>
{% if w.kind == 'line' %}{{ reroll_voice(w.what) }}{% endif %}{% endfor %}</div>{% endif %}
{% if prompt_warnings %}<ul id="prompt-warnings">{% for w in prompt_warnings %}
<li class="warning">{{ w }}</li>{% endfor %}</ul>{% endif %}
{% if v.shots %}<div class="grid">{% for s in v.shots %}
<div class="card shot" data-shot="{{ s.id }}" data-unit="{{ s.unit }}"
 data-rendered="{{ 'yes' if s.rendered else 'no' }}">
<h3>{{ s.id }}</h3>
<video controls preload="auto" poster="{{ url(v.clips, s.poster) }}"
 src="{{ url(v.clips, s.clip) }}"></video>
{% set said = v.comments | selectattr('shot', 'equalto', s.id) | list %}
{% if said %}<div class="client-comments"><strong>{{ t('client_comments') }}</strong><ul>
{% for c in said %}<li class="client-comment">{{ num(c.at_s, 2) }} s · {{ c.who }} ({{
 when(c.at) }}): {{ c.text }} <code>{{ c.version }}</code></li>{% endfor %}</ul></div>{% endif %}
<table>
<tr><th>{{ t('prompt') }}</th><td>{{ s.prompt }}</td></tr>
<tr><th>{{ t('seed') }}</th><td class="seed">{{ s.seed }}</td></tr>
<tr><th>{{ t('duration') }}</th>
<td>{{ plain(s.duration_s) }} s ({{ s.num_frames }} {{ t('frames') }})</td></tr>
<tr><th>{{ t('tier') }}</th><td class="tier">{{ tier_name(s.tier) }}</td></tr>
<tr><th>{{ t('cost') }}</th><td>{{ money(s.cost_usd) }}{{ illustrative_note() }}</td></tr>
{% if s.scores.identity %}<tr><th>{{ t('identity') }}</th>
<td class="identity">{{ score(s.scores.identity, 'identity') }}</td></tr>{% endif %}
<tr><th>{{ t('identity_from') }}</th><td class="identity-from">{{ t('from_' + s.identity_from)
 }}{% if s.still %} ({{ s.still }}){% endif %}</td></tr>
{% if s.line %}<tr><th>{{ t('line') }}</th><td class="line">{{ s.line }}</td></tr>
{% if s.said %}<tr><th>{{ t('said') }}</th><td class="said">{{ s.said }}</td></tr>{% endif %}
<tr><th>{{ t('cer') }}</th><td class="cer">{% if s.scores.cer %}{{ score(s.scores.cer, 'cer')
 }}{% else %}-{% endif %}</td></tr>
<tr><th>{{ t('voice') }}</th><td class="voice">{% if s.scores.voice %}{{ score(s.scores.voice,
 'voice') }}{% else %}-{% endif %}</td></tr>
<tr><th>{{ t('lip_sync') }}</th><td class="lip-sync">{{ t('lip_synced') if s.lip_synced
 else t('voice_over') }}</td></tr>
{% if s.sync %}<tr><th>{{ t('sync_lag') }}</th><td class="sync-lag">
{% if s.sync.lag_frames is not none %}{{ '%+d' % s.sync.lag_frames }} {{ t('frames') }}
 ({{ t('sync_' + s.sync.verdict) }}, {{ t('sync_limit') }})
{% else %}{{ t('sync_' + s.sync.verdict) }}{% endif %}</td></tr>{% endif %}
{% endif %}
<tr><td colspan="2">{{ t('rendered_now') if s.rendered else t('reused') }}
 · <code>{{ s.unit }}</code></td></tr></table>
{% if not version %}<form method="post" action="/c/{{ v.client }}/{{ v.character }}/reroll">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="shot" value="{{ s.id }}">
<label>{{ t('new_seed') }} <input name="seed" type="number" min="0" size="8"></label>
<label>{{ t('who') }} <input name="who" required value="{{ who }}" size="10"></label>
<button type="submit" class="reroll">{{ t('reroll') }}</button>
{{ price_of(prices.reroll[s.id]) if prices and s.id in prices.reroll }}</form>
{% if s.line %}{{ reroll_voice(s.id) }}{% endif %}
{% if s.tier == 'draft' and v.promotable %}
<form method="post" action="/c/{{ v.client }}/{{ v.character }}/reroll" class="promote-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="shot" value="{{ s.id }}">
<input type="hidden" name="tier" value="final">
<label>{{ t('who') }} <input name="who" required value="{{ who }}" size="10"></label>
<button type="submit" class="promote">{{ t('promote') }}</button>
{{ price_of(prices.promote[s.id]) if prices and s.id in prices.promote }}</form>{% endif %}
{% endif %}
</div>{% endfor %}</div>
{% else %}<p>{{ t('no_clips') }}</p>{% endif %}</section>

<section id="final"><h2>{{ t('final_cut') }} {% set g = v.gates['cut'] %}
{% if g.required %}{{ badge(g) }}{% endif %}</h2>
{% if g.waiting %}<p class="waiting">{{ t('waiting_cut') }}</p>{% endif %}
{% if v.final %}<p><code>{{ v.deliverable.version }}</code></p>
<video id="final-video" controls preload="auto" style="max-width:100%"
 poster="{{ url(v.deliverable, v.poster) }}" src="{{ url(v.deliverable, v.final) }}"></video>
<p><a id="download" href="{{ url(v.deliverable, v.final, download=True) }}"
 download="{{ v.client }}-{{ v.character }}-{{ v.deliverable.version }}.mp4">
 {{ t('download') }}</a></p>
<form method="post" action="/c/{{ v.client }}/{{ v.character }}/package" id="package-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="version" value="{{ v.deliverable.version }}">
<button type="submit" class="package">{{ t('package') }}</button></form>
{% if v.formats %}<div id="formats"><p>{{ t('other_formats') }}</p>
{% for f in v.formats %}<figure class="format" data-aspect="{{ f.aspect }}">
<video controls preload="none" style="max-height:320px"
 poster="{{ url(v.deliverable, f.poster) }}" src="{{ url(v.deliverable, f.file) }}"></video>
<figcaption>{{ f.aspect }} · {{ f.width }}x{{ f.height }}
 <a class="download-format" href="{{ url(v.deliverable, f.file, download=True) }}">
 {{ t('download') }}</a></figcaption></figure>{% endfor %}</div>{% endif %}
{% if g.required %}{{ review_form('cut', v.deliverable.version) }}{% endif %}
{% else %}<p>{{ t('no_cut') }}</p>{% endif %}</section>

<section id="lineage"><h2>{{ t('lineage') }}</h2>
{% if v.chain %}<table><tr><th>{{ t('asset') }}</th><th>{{ t('version') }}</th>
<th>{{ t('created') }}</th><th>{{ t('compute') }}</th><th>{{ t('cost') }}</th></tr>
{% for link in v.chain %}<tr><td>{{ stage_name(link.asset) }} <small><code>{{ link.asset
 }}</code></small></td><td><code>{{ link.version }}</code></td>
<td>{{ when(link.created_at) }}</td>
<td>{% if link.compute %}{{ num(link.compute.seconds, 1) }} s {{ link.compute.device }}
{% else %}-{% endif %}</td>
<td>{{ money(link.compute.estimated_cost_usd) if link.compute else '-' }}</td></tr>
{% endfor %}</table>
<p id="total-cost">{{ t('total_cost') }}: <strong>{{ money(v.total_cost_usd) }}</strong>
{{ illustrative_note() }}</p>
{% else %}<p>-</p>{% endif %}</section>

<section id="versions"><h2>{{ t('versions') }}</h2>
{% if labels|length > 1 %}<form method="get" action="/c/{{ v.client }}/{{ v.character }}/compare"
 id="compare-form">{% endif %}<ul>
{% for d in labels %}<li class="version" data-version="{{ d.version }}">
{% if labels|length > 1 %}<input type="checkbox" name="v" value="{{ d.version }}"
 aria-label="{{ t('compare') }}">{% endif %}
<a href="/c/{{ v.client }}/{{ v.character }}?version={{ d.version }}"><code>{{ d.version
 }}</code></a>
{{ when(d.created_at) }} ({{ t('current') if d.current else t('earlier') }}):
<span class="version-label">{{ label_line(d) }}</span>{% if d.formats %} <span class="formats">
{{- t('formats') }}: {{ d.formats | join(', ') }}</span>{% endif %}</li>{% endfor %}</ul>
{% if labels|length > 1 %}<button type="submit" id="compare">{{ t('compare_two') }}</button>
</form>{% endif %}</section>

<section id="history"><h2>{{ t('history') }}</h2><ol>
{% for e in events %}<li class="event" data-kind="{{ e.kind }}">{{ when(e.at) }}:
 {{ event_line(e) }}</li>
{% endfor %}</ol>{% if not events %}<p>-</p>{% endif %}</section>
{% endblock %}"""

MACROS = """{% macro price_of(p) %}<span class="price">{{ t('will_cost') }} ≈ {{ money(p.usd)
 }} · {{ minutes(p.gpu_s) }} {{ t('gpu_time').format(instance=p.instance) }}</span>{% endmacro %}
{% macro illustrative_note() %}{% if illustrative %} <small class="illustrative">{{
 t('illustrative') }}</small>{% endif %}{% endmacro %}
{% macro score(sc, kind) %}<span class="light {{ sc.light }}" data-light="{{ sc.light
 }}" aria-label="{{ t('light_' + sc.light) }}">●</span> <strong class="value">{{ num(sc.value)
 }}</strong> <small>{{ t('help_' + kind) }}{% if sc.threshold is not none %}; {{
 t('limit_min' if sc.higher_is_better else 'limit_max') }} {{ num(sc.threshold) }}{% else
 %}; {{ t('no_limit') }}{% endif %}</small>{% endmacro %}
{% macro reroll_voice(shot) %}<form method="post"
 action="/c/{{ v.client }}/{{ v.character }}/reroll" class="reroll-voice-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="shot" value="{{ shot }}">
<input type="hidden" name="line" value="1">
<label>{{ t('new_seed') }} <input name="seed" type="number" min="0" size="8"></label>
<label>{{ t('who') }} <input name="who" required value="{{ who }}" size="10"></label>
<button type="submit" class="reroll-voice">{{ t('reroll_voice') }}</button>
{{ price_of(prices.voice) if prices and prices.voice }}</form>{% endmacro %}
{% macro run_form(action) %}<form method="post" id="{{ action }}-form"
 action="/c/{{ v.client }}/{{ v.character }}/{{ action }}"><input type="hidden" name="csrf"
 value="{{ csrf }}"><label>{{ t('who') }} <input name="who" required value="{{ who }}"
 size="10"></label> <button type="submit" id="{{ action }}-run">{{ t(action + '_run') }}</button>
<small>{{ t(action + '_help') }}</small></form>{% endmacro %}
{% macro badge(g) %}<span class="badge {{ g.decision or '' }}" id="state-{{ g.name }}">
{% if not g.required %}{{ t('not_required') }}{% elif g.decision %}{{ t(g.decision) }}
{% else %}{{ t('unreviewed') }}{% endif %}</span>{% endmacro %}"""

# Two cut versions side by side; playing, pausing or seeking one does the same to the other.
COMPARE = """{% extends "base" %}{% block body %}
<p><a href="/c/{{ client }}/{{ character }}">{{ client }} / {{ character }}</a></p>
<h2>{{ t('compare_two') }}</h2>
<p><button type="button" id="play-both">{{ t('play_both') }}</button></p>
<div class="grid" id="side-by-side">{% for side in sides %}<div class="card side"
 style="width:560px" data-version="{{ side.label.version }}">
<h3><code>{{ side.label.version }}</code></h3><p>{{ label_line(side.label) }}</p>
<video controls muted preload="auto" poster="{{ url(side.ref, side.poster) }}"
 src="{{ url(side.ref, side.final) }}"></video></div>{% endfor %}</div>
<script>
(function () {
  var videos = Array.prototype.slice.call(document.querySelectorAll("#side-by-side video"));
  var following = false;
  function mirror(source, act) {
    if (following) { return; }
    following = true;
    videos.forEach(function (other) { if (other !== source) { act(other); } });
    following = false;
  }
  videos.forEach(function (video) {
    video.addEventListener("play", function () {
      mirror(video, function (o) { o.currentTime = video.currentTime; o.play(); });
    });
    video.addEventListener("pause", function () {
      mirror(video, function (o) { o.pause(); o.currentTime = video.currentTime; });
    });
    video.addEventListener("seeked", function () {
      mirror(video, function (o) {
        var drift = Math.abs(o.currentTime - video.currentTime);
        if (drift > 0.05) { o.currentTime = video.currentTime; }
      });
    });
  });
  document.getElementById("play-both").addEventListener("click", function () {
    videos.forEach(function (v) { v.currentTime = 0; });
    videos[0].play();
  });
})();
</script>{% endblock %}"""

# A brief written in the app: a file loads into the text area (read in the browser: the form
# stays URL-encoded); a check lists the problems or what saving makes and costs; the save
# button is offered for the text just checked only, and goes once the text changes.
BRIEF = """{% extends "base" %}{% block body %}
<h2>{{ title }}</h2>
<p>{{ t('brief_help') }}</p>
{% if note %}<p id="brief-note" class="warning">{{ note }}</p>{% endif %}
{% if problems %}<section id="brief-problems" class="rejected"><h3>{{ t('brief_refused') }}</h3>
<ul>{% for p in problems %}<li class="problem">{{ p }}</li>{% endfor %}</ul></section>{% endif %}
{% if checked %}<section id="brief-ok" class="approved"><h3>{{ t('brief_ok') }}</h3>
{% set b = checked.brief %}<p><strong id="brief-key">{{ b.partition_key }}</strong>: {{
 b.character.name }} · {{ b.shots|length }} {{ t('shots')|lower }} · {{ plain(b.duration_s)
 }} s · {{ b.video.model }} · {{ tier_name(b.video.tier) }}</p>
<p id="brief-file">{{ t('brief_replaces' if checked.replaces else 'brief_new_file') }}
 <code>{{ checked.where }}</code></p>
<p id="brief-run">{{ t('brief_run_references' if checked.brief.approval.references == 'required'
 else 'brief_run_chain') }}{% if price %} {{ price_of(price) }}{% endif %}</p>
{% if prices_problem %}<p class="warning" id="prices-unavailable">{{ t('prices_unavailable') }}:
{{ prices_problem }}</p>{% endif %}
{% if licence_warnings %}<h4>{{ t('licence_to_confirm') }}</h4><ul id="brief-licences">{%
 for w in licence_warnings %}<li class="warning">{{ w }}</li>{% endfor %}</ul>{% endif %}
{% if notes %}<ul id="brief-notes">{% for n in notes %}<li{% if n.warning %} class="warning"{%
 endif %}>{{ n.line }}</li>{% endfor %}</ul>{% endif %}</section>{% endif %}
<form method="post" action="/briefs" id="brief-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="file" value="{{ file }}">
<p><label>{{ t('brief_load_file') }} <input type="file" id="brief-upload" accept=".yaml,.yml">
</label></p>
<textarea name="text" id="brief-text" rows="20" spellcheck="false" required
 style="width:100%;font-family:monospace">{{ text }}</textarea>
<p><label>{{ t('who') }} <input name="who" id="brief-who" value="{{ who }}" size="10"></label>
<button type="submit" name="action" value="check" id="check-brief">{{ t('check_brief')
 }}</button>{% if checked %} <button type="submit" name="action" value="save" id="save-brief">{{
 t('save_brief') }}</button>{% endif %}</p></form>
<script>
(function () {
  var area = document.getElementById("brief-text"), save = document.getElementById("save-brief");
  var checkedText = area.value;
  area.addEventListener("input", function () {
    if (save) { save.hidden = area.value !== checkedText; }
  });
  document.getElementById("brief-upload").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) { return; }
    file.text().then(function (body) {
      area.value = body;
      area.dispatchEvent(new Event("input"));
    });
  });
})();
</script>{% endblock %}"""

LOGIN = """{% extends "base" %}{% block body %}
<h2>{{ t('login') }}</h2>{% if bad %}<p class="rejected">{{ t('bad_token') }}</p>{% endif %}
<form method="post" action="/login"><input type="hidden" name="next" value="{{ next }}">
<label>{{ t('token') }} <input name="token" type="password" required></label>
<button type="submit">{{ t('login') }}</button></form>{% endblock %}"""


def review_form_html(t, client: str, character: str, who: str, csrf: str):
    """The Approve / Reject form of one gate's version (a Jinja global)."""
    from markupsafe import Markup, escape

    def form(gate: str, version: str) -> Markup:
        return Markup(
            f'<form method="post" action="/c/{escape(client)}/{escape(character)}/review" '
            f'class="review" data-gate="{escape(gate)}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="gate" value="{escape(gate)}">'
            f'<input type="hidden" name="version" value="{escape(version)}">'
            f'<label>{escape(t("who"))} <input name="who" required value="{escape(who)}" '
            f'size="10"></label> <label>{escape(t("note"))} <input name="note" size="30"></label>'
            f' <button type="submit" name="decision" value="approved" id="approve-{escape(gate)}">'
            f"{escape(t('approve'))}</button>"
            f' <button type="submit" name="decision" value="rejected" id="reject-{escape(gate)}">'
            f"{escape(t('reject'))}</button></form>"
        )

    return form


SHARE = """{% extends "base" %}{% block body %}
<h2 id="share-title">{{ t('share_title') }}: {{ client }}</h2>
<p>{{ t('share_intro') }}</p>
{% for cut in cuts %}<section class="cut" data-character="{{ cut.ref.character }}"
 data-version="{{ cut.ref.version }}">
<h3>{{ cut.ref.character }} <code>{{ cut.ref.version }}</code>
<span class="badge">{{ t('approved') if cut.approved else t('ready') }}</span></h3>
<div class="grid">{% for f in cut.formats %}<figure class="card">
<video controls preload="metadata" poster="{{ base }}/files/{{ cut.ref.character }}/{{
 cut.ref.version }}/{{ f.poster }}" src="{{ base }}/files/{{ cut.ref.character }}/{{
 cut.ref.version }}/{{ f.file }}"></video><figcaption>{{ f.aspect }}</figcaption></figure>
{% endfor %}</div>
<table><tr><th>{{ t('shot') }}</th><th>{{ t('starts_at') }}</th><th>{{ t('comments') }}</th></tr>
{% for s in cut.shots %}<tr class="shot" data-shot="{{ s.id }}"><td>{{ s.id }}</td>
<td>{{ num(s.start_s, 2) }} s</td><td><ul>{% for c in comments[cut.ref.character] if c.shot ==
 s.id and c.version == cut.ref.version %}<li class="comment">{{ num(c.at_s, 2) }} s · {{ c.who
 }}: {{ c.text }}</li>{% endfor %}</ul></td></tr>{% endfor %}</table>
<form method="post" action="{{ base }}/comment" class="comment-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="character" value="{{ cut.ref.character }}">
<input type="hidden" name="version" value="{{ cut.ref.version }}">
<label>{{ t('shot') }} <select name="shot">{% for s in cut.shots %}<option>{{ s.id }}</option>
{% endfor %}</select></label>
<label>{{ t('at_seconds') }} <input name="at_s" type="number" min="0" step="0.1" value="0"></label>
<label>{{ t('who') }} <input name="who" required size="12"></label>
<label>{{ t('comment') }} <input name="text" required size="40"></label>
<button type="submit">{{ t('send_comment') }}</button></form></section>
{% else %}<p id="no-cuts">{{ t('no_cut') }}</p>{% endfor %}
{% endblock %}"""

ENV = Environment(
    loader=DictLoader(
        {
            "base": BASE,
            "home": HOME,
            "client": CLIENT,
            "character": '{% from "macros" import badge, score, price_of, illustrative_note, '
            "reroll_voice, run_form with context %}" + CHARACTER,
            "macros": MACROS,
            "login": LOGIN,
            "brief": '{% from "macros" import price_of with context %}' + BRIEF,
            "progress": PROGRESS,
            "poll": POLL,
            "compare": COMPARE,
            "report": REPORT,
            "share": SHARE,
        }
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
