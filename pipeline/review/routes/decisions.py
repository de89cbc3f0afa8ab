"""The producer's forms: approve or reject a gate, re-roll or promote a shot, re-roll a line's
voice, accept an off-model shot or a line outside its limits, stop a run or run the chain again
after one failed, issue or revoke a client's review link (pipeline.decisions).

Each checks the form's csrf token, records the decision, starts the chain where it goes on, and
sends the browser back to the character's page; a decision that cannot be recorded is a 400
with the reason.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pipeline.decisions import (
    DecisionError,
    accept_line,
    accept_shot,
    issue_client_link,
    reroll_line,
    reroll_shot,
    restart_character,
    review_gate,
    revoke_client_link,
)
from pipeline.review.config import config_of
from pipeline.review.render import back_to, back_to_character, form_of
from pipeline.review.routes.pages import client_view, run_view_of
from pipeline.review.runs import start_run, stop_run
from pipeline.review.security import csrf_refusal
from resources.domain.artifacts import ArtifactError
from resources.domain.review import APPROVED


def review(request: Request) -> Response:
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    decision = form.get("decision", "")
    try:
        review_gate(
            config.store,
            p["client"],
            p["character"],
            form.get("gate", ""),
            decision,
            who=form.get("who", ""),
            note=form.get("note", ""),
            version=form.get("version", ""),
        )
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    started = decision == APPROVED and start_run(config, p["client"], p["character"], "approve")
    return back_to_character(request, "run_started" if started else "recorded", form.get("who", ""))


def reroll(request: Request) -> Response:
    """A shot's re-roll or promotion, or (with the `line` field) its line's voice re-roll."""
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    line = bool(form.get("line", ""))
    asked = {
        "seed": form.get("seed", ""),
        "who": form.get("who", "").strip() or "producer",
        **({} if line else {"tier": form.get("tier", "")}),
    }
    try:
        (reroll_line if line else reroll_shot)(
            config.store, p["client"], p["character"], form.get("shot", ""), **asked
        )
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    started = start_run(config, p["client"], p["character"], "reroll-line" if line else "reroll")
    return back_to_character(request, "run_started" if started else "recorded", form.get("who", ""))


def stop(request: Request) -> Response:
    """Stop the character's run in flight (a wrong brief, a tier too dear): what it finished is
    kept and reused by the next run; who stopped it is recorded."""
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    who = form.get("who", "").strip()
    try:
        stop_run(config_of(request), p["client"], p["character"], who)
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    return back_to_character(request, "run_stopped_by_you", who)


def restart(request: Request) -> Response:
    """Run the chain again after the character's last run failed, was stopped or went silent:
    what it finished is reused (a failed shot renders again, every other is kept); who asked is
    recorded."""
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    who = form.get("who", "").strip()
    if not config.launch:
        return PlainTextResponse("this review app starts no runs (launch is off)", status_code=400)
    view = run_view_of(config, p["client"], p["character"])
    try:
        restart_character(
            config.store,
            p["client"],
            p["character"],
            who=who,
            ended=view.ended,
            in_flight=view.alive,
            start=lambda: start_run(config, p["client"], p["character"], "restart"),
        )
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    return back_to_character(request, "run_started", who)


VIA = "review app"  # where an acceptance made here says it was made


def accept(request: Request) -> Response:
    """Accept a shot no attempt of which reached the identity limit (or, with the `line` field,
    a line outside its limits) for the cut, whatever its scores; the chain goes on to the cut."""
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    line, who = bool(form.get("line", "")), form.get("who", "").strip()
    try:
        if not who:
            raise DecisionError("who: say who accepts it (it is recorded with the cut)")
        (accept_line if line else accept_shot)(
            config.store, p["client"], p["character"], form.get("shot", ""), by=who, via=VIA
        )
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    started = start_run(config, p["client"], p["character"], "accept-line" if line else "accept")
    return back_to_character(request, "run_started" if started else "recorded", who)


def issue_link(request: Request) -> Response:
    """A new review link for the client: their page again, with the link's URL shown once (at
    the address producers reach the app by, CHARACTER_VIDEO_REVIEW_URL, else this request's)."""
    client = request.path_params["client"]
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    try:
        if not config.store.characters(client):
            raise DecisionError(f"no client {client!r} in the store")
        url, _ = issue_client_link(
            config.store,
            config.settings.client_link_secret,
            client,
            form.get("days", ""),
            base_url=config.settings.review_url or str(request.base_url),
        )
    except (DecisionError, ArtifactError) as error:
        return PlainTextResponse(str(error), status_code=400)
    return client_view(request, client, issued=url)


def revoke_link(request: Request) -> Response:
    """Revoke one of the client's links for good; back to their page."""
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    who = form.get("who", "")
    try:
        revoke_client_link(config_of(request).store, p["client"], p["nonce"], by=who)
    except DecisionError as error:
        return PlainTextResponse(str(error), status_code=400)
    return back_to(request, f"/c/{p['client']}", "link_revoked", who.strip())
