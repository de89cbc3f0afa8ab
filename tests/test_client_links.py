"""Clients' review links (resources/domain/review.py): signed, expiring, revocable; a tampered,
expired, revoked or never-issued link opens nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from resources.domain.artifacts import ArtifactRef
from resources.domain.review import (
    ReviewError,
    comments_of,
    issue_link,
    link_client,
    record_comment,
    revoke_link,
)
from resources.storage.artifact_store import ArtifactStore

SECRET = "s3cr3t-for-links"
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(root=str(tmp_path))


def test_a_link_opens_its_client_until_it_expires(store):
    token, record = issue_link(store, SECRET, "acme-health", 7, now=NOW)
    assert link_client(store, SECRET, token, now=NOW + dt.timedelta(days=6)) == "acme-health"
    with pytest.raises(ReviewError, match="expired"):
        link_client(store, SECRET, token, now=NOW + dt.timedelta(days=7))
    assert record["expires"] == int((NOW + dt.timedelta(days=7)).timestamp())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("acme-health", "beta-clinic", 1),  # another client
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # the signature
        lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) + 86400), 1),  # longer
    ],
)
def test_a_tampered_link_is_refused(store, tamper):
    token, _ = issue_link(store, SECRET, "acme-health", 7, now=NOW)
    with pytest.raises(ReviewError, match="altered"):
        link_client(store, SECRET, tamper(token), now=NOW)


def test_a_revoked_or_never_issued_link_is_refused(store, tmp_path):
    token, record = issue_link(store, SECRET, "acme-health", 7, now=NOW)
    other = ArtifactStore(root=str(tmp_path / "elsewhere"))
    with pytest.raises(ReviewError, match="not issued"):
        link_client(other, SECRET, token, now=NOW)
    revoke_link(store, "acme-health", record["nonce"], "marina")
    with pytest.raises(ReviewError, match="revoked"):
        link_client(store, SECRET, token, now=NOW)
    with pytest.raises(ReviewError, match="altered"):
        link_client(store, "another-secret", token, now=NOW)


def test_comments_are_time_coded_records_per_shot(store):
    issue_link(store, SECRET, "acme-health", 7, now=NOW)
    ref = ArtifactRef("acme-health", "dr-ana", "deliverables", "0123456789abcdef")
    record_comment(store, ref, shot="intro", at_s=1.25, text="Mais luz no rosto", who="Dra. Ana")
    (found,) = comments_of(store, "acme-health", "dr-ana")
    assert (found["shot"], found["at_s"], found["text"], found["who"]) == (
        "intro", 1.25, "Mais luz no rosto", "Dra. Ana"
    )  # fmt: skip
    with pytest.raises(ReviewError):
        record_comment(store, ref, shot="intro", at_s=-1, text="x", who="y")
    assert store.characters("acme-health") == ["dr-ana"]  # link records are no character


def test_the_cli_issues_and_revokes_a_link_in_the_root_it_is_given(tmp_path, monkeypatch, capsys):
    """`client-link --root` works on the store it names, as `package` and `lineage` do; without
    a secret it says which setting to set, in one line."""
    from pipeline.cli import main
    from pipeline.settings import ENV_CLIENT_LINK_SECRET

    root = tmp_path / "artifacts"
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "elsewhere"))
    monkeypatch.delenv(ENV_CLIENT_LINK_SECRET, raising=False)
    assert main(["client-link", "acme-health", "--root", str(root)]) == 1
    assert capsys.readouterr().err == f"set {ENV_CLIENT_LINK_SECRET} to sign client links\n"
    monkeypatch.setenv(ENV_CLIENT_LINK_SECRET, SECRET)
    assert main(["client-link", "acme-health", "--days", "3", "--root", str(root)]) == 0
    url, nonce = re.fullmatch(
        r"http://127\.0\.0\.1:8500/share/(\S+)  \(link (\w+), expires at \d+\)\n",
        capsys.readouterr().out,
    ).groups()
    store = ArtifactStore(root=str(root))
    assert link_client(store, SECRET, url) == "acme-health"
    assert not (tmp_path / "elsewhere").exists()  # nothing written outside the root given
    assert main(["client-link", "acme-health", "--revoke", nonce, "--root", str(root)]) == 0
    with pytest.raises(ReviewError, match="revoked"):
        link_client(store, SECRET, url)


def test_every_refusal_a_client_can_meet_reads_in_portuguese(store, tmp_path):
    """Each refusal the link page answers with, raised by the code itself, has its pt-BR words."""
    from pipeline.review.i18n import refusal
    from pipeline.review.routes.share import seconds_of

    token, record = issue_link(store, SECRET, "acme-health", 7, now=NOW)
    other = ArtifactStore(root=str(tmp_path / "other"))
    ref = ArtifactRef("acme-health", "dr-ana", "deliverables", "0123456789abcdef")
    raised = []
    for attempt in (
        lambda: link_client(store, SECRET, "not-a-link", now=NOW),
        lambda: link_client(store, SECRET, token[:-1] + "x", now=NOW),
        lambda: link_client(store, SECRET, token, now=NOW + dt.timedelta(days=8)),
        lambda: link_client(other, SECRET, token, now=NOW),
        lambda: (
            revoke_link(store, "acme-health", record["nonce"], "x"),
            link_client(store, SECRET, token, now=NOW),
        ),
        lambda: record_comment(store, ref, shot="a", at_s=1.0, text="", who="Bia"),
        lambda: record_comment(store, ref, shot="a", at_s=1.0, text="ok", who=""),
        lambda: record_comment(store, ref, shot="a", at_s=-1.0, text="ok", who="Bia"),
        lambda: seconds_of("dois"),
    ):
        with pytest.raises(ReviewError) as caught:
            attempt()
        raised.append(str(caught.value))
    assert len(set(raised)) == len(raised)  # each a different refusal
    said_by_the_page = [
        "no such shot in this link's cuts",
        "client review links are not enabled here",
    ]
    for message in [*raised, *said_by_the_page]:
        pt = refusal(message, "pt-BR")
        assert pt.startswith("recusado: ") and pt.endswith(f"(refused: {message})"), message
        assert refusal(message, "en") == f"refused: {message}"


def test_a_producer_issues_and_revokes_a_client_link_from_the_review_app(tmp_path):
    """The client's page issues a link (its URL shown once, at the app's address) and lists
    every link with a revoke button; the same decisions as `client-link` (pipeline.decisions),
    with one-line refusals for a bad number of days, an unknown link, a client with nothing in
    the store, a missing signing secret, and a form without its csrf token."""
    import html
    from dataclasses import replace

    from review_support import config_for, get, post, serve

    from pipeline.settings import Settings

    root = tmp_path / "artifacts"
    (root / "acme-health" / "dr-ana").mkdir(parents=True)
    settings = replace(Settings(), root=str(root), client_link_secret=SECRET)
    with serve(config_for(settings)) as url:
        page = get(f"{url}/c/acme-health?lang=en")[2].decode()
        assert 'id="issue-link"' in page and 'id="links"' not in page

        status, _, body = post(f"{url}/c/acme-health/_links?lang=en", {"days": "3"})
        issued = body.decode()
        assert status == 200 and "it is not shown again" in issued
        link = html.unescape(
            re.search(r'id="issued-url" readonly style="width:100%" value="([^"]+)"', issued)[1]
        )
        assert link.startswith(f"{url}/share/acme-health.")
        token = link.rsplit("/", 1)[1]
        assert get(link)[0] == 200
        store = ArtifactStore(root=str(root))
        assert link_client(store, SECRET, token) == "acme-health"
        (nonce,) = re.findall(r'<tr class="link" data-nonce="([0-9a-f]{16})">', issued)
        listed = get(f"{url}/c/acme-health?lang=en")[2].decode()
        assert nonce in listed and token not in listed and 'id="issued-url"' not in listed

        refusals = {
            "days": post(f"{url}/c/acme-health/_links", {"days": "120"}),
            "text": post(f"{url}/c/acme-health/_links", {"days": "soon"}),
            "nobody": post(f"{url}/c/beta-clinic/_links", {"days": "3"}),
            "who": post(f"{url}/c/acme-health/_links/{nonce}/revoke", {"who": " "}),
            "unknown": post(f"{url}/c/acme-health/_links/{'0' * 16}/revoke", {"who": "ana"}),
            "csrf": post(f"{url}/c/acme-health/_links", {"days": "3"}, csrf=False),
        }
        status, headers, _ = post(f"{url}/c/acme-health/_links/{nonce}/revoke", {"who": "marina"})
        assert status == 303 and headers["location"].startswith("/c/acme-health?flash=")
        assert get(link)[0] != 200
        with pytest.raises(ReviewError, match="revoked"):
            link_client(store, SECRET, token)
        after = get(f"{url}/c/acme-health?lang=en")[2].decode()
        assert "revoked by marina" in after and "/revoke" not in after
    said = {k: (s, b.decode().strip()) for k, (s, _, b) in refusals.items()}
    assert said["days"] == (400, "a client link lasts more than 0 and at most 90 days (got 120)")
    assert said["text"] == (400, "days: 'soon' is not a number of days")
    assert said["nobody"] == (400, "no client 'beta-clinic' in the store")
    assert said["who"] == (400, "who: say who revokes the link")
    assert said["unknown"] == (400, f"no link {'0' * 16} for acme-health")
    assert said["csrf"][0] == 403

    unsigned = replace(settings, client_link_secret=None)
    with serve(config_for(unsigned)) as url:
        assert 'id="links-unsigned"' in get(f"{url}/c/acme-health")[2].decode()
        status, _, body = post(f"{url}/c/acme-health/_links", {"days": "3"})
    assert (status, body.decode()) == (
        400,
        "set CHARACTER_VIDEO_CLIENT_LINK_SECRET to sign client links",
    )
