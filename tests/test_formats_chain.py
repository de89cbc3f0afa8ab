"""deliverable.formats through the chain: one deliverables version holds every format, cut from
the same shots with the same soundtrack, each with its poster and its framing per shot."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile

import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models
from review_support import KEY, config_for, get, post, review_settings, serve
from sound_support import write_music

from assets.stages.client_package import deliverable_ref, package_deliverable
from pipeline.decisions import review_gate
from resources.domain.lineage import deliverables_of, format_text
from resources.media.video_io import probe_video
from resources.sound.master import decode_audio
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # whole-chain materializations

FORMATS = ["16:9", "9:16", "1:1"]
LONG = "she nods " + " ".join(f"slowly{i} and warmly" for i in range(30))


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    root, inbox = base / "artifacts", base / "inbox"
    write_music(inbox / "trilha.wav")
    data = quick_brief(
        # A prompt longer than HunyuanVideo's CLIP encoder reads: the review page warns.
        shots=[{"id": "hello", "prompt": LONG, "duration_s": 0.5, "seed": 1}],
        deliverable={"resolution": [320, 180], "formats": FORMATS},
        audio={"music": {"file": "trilha.wav", "licence": "composed for the test, CC0"}},
    )
    instance = DagsterInstance.ephemeral()
    models = shared_models(tmp_path_factory)
    run_quick_chain(instance, inbox, root, data, models=models)
    store = ArtifactStore(root=str(root))
    ref = store.current("acme-health", "dr-ana", "deliverables")
    versions = store.versions("acme-health", "dr-ana", "deliverables")
    settings = review_settings(root, inbox, models)
    with serve(config_for(settings)) as url:
        pages = {lang: get(f"{url}/c/{KEY}?lang={lang}")[2].decode() for lang in ("pt", "en")}
        tall = get(f"{url}/files/{KEY}/deliverables/{ref.version}/final-9x16.mp4?download=1")
    return store.path(ref), store.manifest(ref), versions, pages, tall


@pytest.fixture(scope="module")
def package(cut, tmp_path_factory):
    """The client package before and after the cut's approval, through the review app."""
    folder = cut[0]
    root = folder.parents[3]
    store = ArtifactStore(root=str(root))
    settings = review_settings(root, root.parent / "inbox", shared_models(tmp_path_factory))
    found = {}
    with serve(config_for(settings)) as url:
        for name in ("before", "approved"):
            if name == "approved":
                review_gate(store, *KEY.split("/"), "cut", "approved", who="Marina")
            status, headers, _ = post(f"{url}/c/{KEY}/package", {"version": folder.name})
            assert status == 303, headers
            status, _, body = get(url + headers["location"])
            assert status == 200
            found[name] = body
    return found


def test_one_version_holds_every_format_at_its_size(cut) -> None:
    folder, manifest, versions, *_ = cut
    assert len(versions) == 1
    sizes = {
        f["aspect"]: (probe_video(folder / f["file"]).width, probe_video(folder / f["file"]).height)
        for f in manifest["formats"]
    }
    assert sizes == {"16:9": (320, 180), "9:16": (180, 320), "1:1": (180, 180)}
    assert manifest["final"] == "final.mp4" and manifest["formats"][0]["primary"] is True
    frames = {probe_video(folder / f["file"]).frame_count for f in manifest["formats"]}
    assert frames == {12}  # the same half-second shot in each


def test_every_format_carries_the_same_soundtrack_and_its_own_poster(cut) -> None:
    folder, manifest, *_ = cut
    tracks = [decode_audio(folder / f["file"])[0] for f in manifest["formats"]]
    assert all(len(t) == len(tracks[0]) and (t == tracks[0]).all() for t in tracks)
    assert abs(tracks[0]).max() > 0.01
    files = {f["path"] for f in manifest["files"]}
    assert {f["poster"] for f in manifest["formats"]} <= files
    assert {f["file"] for f in manifest["formats"]} <= files
    assert not any("partial" in name for name in files)


def test_reframed_formats_record_their_framing_per_shot(cut) -> None:
    _, manifest, *_ = cut
    by_aspect = {f["aspect"]: f for f in manifest["formats"]}
    assert by_aspect["16:9"]["framing"] is None  # the resolution's own format: fitted whole
    for aspect in ("9:16", "1:1"):
        (shot,) = by_aspect[aspect]["framing"]
        assert shot["shot"] == "hello" and shot["mode"] in ("face", "centre")
        assert shot["samples"] >= 1 and shot["centres"]


def test_the_review_page_shows_every_format_and_the_versions_list_names_them(cut) -> None:
    folder, _, versions, pages, tall = cut
    pt, en = pages["pt"], pages["en"]
    assert 'id="final-video"' in pt  # the primary plays as before
    for aspect in ("9:16", "1:1"):
        assert f'data-aspect="{aspect}"' in pt
    assert "formatos: 16:9, 9:16, 1:1" in pt and "formats: 16:9, 9:16, 1:1" in en
    assert "a aprovação vale para todos" in pt and "one approval covers them all" in en
    # The prompt HunyuanVideo's CLIP encoder cuts, named on the page in each language.
    assert "shots[hello].prompt:" in en and "CLIP ViT-L/14 (HunyuanVideo text_encoder_2)" in en
    assert "these words would be cut: &#39;" in en and "estas palavras seriam cortadas" in pt
    status, headers, body = tall
    assert status == 200 and body == (folder / "final-9x16.mp4").read_bytes()


def _zip(body: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(body))


def test_the_package_holds_every_format_its_poster_and_checksums(cut, package) -> None:
    folder, manifest, *_ = cut
    archive = _zip(package["approved"])
    top = "acme-health-dr-ana/"
    names = set(archive.namelist())
    for f in manifest["formats"]:
        assert archive.read(f"{top}video/{f['file']}") == (folder / f["file"]).read_bytes()
        assert f"{top}posters/{f['poster']}" in names
    sums = archive.read(f"{top}SHA256SUMS").decode().splitlines()
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256(archive.read(top + name)).hexdigest() == digest
    assert len(sums) == len(names) - 1


def test_the_summary_says_in_portuguese_what_was_delivered_by_which_models_and_who_approved(
    cut, package
) -> None:
    before = _zip(package["before"]).read("acme-health-dr-ana/LEIA-ME.txt").decode()
    after = _zip(package["approved"]).read("acme-health-dr-ana/LEIA-ME.txt").decode()
    assert "O que foi entregue:" in after and "video/final-9x16.mp4 (9:16): 180x320" in after
    assert "0,50 s, 12 quadros a 24 fps" in after  # the decimal comma of pt-BR
    assert "Modelos e licenças" in after
    hunyuan = "tiny/hunyuan_video@built-in: Tencent Hunyuan Community License (trabalho pago: "
    assert f"{hunyuan}com condições; não vale em: UE, GB, KR;" in after
    assert "a Política de Uso Aceitável da Tencent (Anexo A)" in after
    assert "paid work" not in after and "Acceptable Use" not in after
    assert "nenhuma aprovação registrada" in before
    assert re.search(r"deliverables: aprovado por Marina em \d\d/\d\d/20\d\d \d\d:\d\d UTC", after)


def test_the_same_version_and_approvals_give_the_same_zip_and_lineage_lists_it(cut) -> None:
    folder = cut[0]
    root = folder.parents[3]
    store = ArtifactStore(root=str(root))
    ref = deliverable_ref(store, *KEY.split("/"), folder.name)
    made = package_deliverable(store, ref)
    first = (store.path(made) / "package.zip").read_bytes()
    shutil.rmtree(store.path(made))
    again = package_deliverable(store, ref)
    assert again == made and (store.path(again) / "package.zip").read_bytes() == first
    text = format_text(deliverables_of(store, *KEY.split("/")))
    assert f"client_package    {made.version}" in text
