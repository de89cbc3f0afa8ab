"""Model licences and their conditions, as data; the studio's facts they are checked against.

Every registry entry names its licence by `licence` (a key of `LICENCES`); what that licence asks
of a studio is here once: territories where it does not apply, an annual-revenue or monthly-user
threshold above which a separate licence is needed, whether paid work is excluded, attribution,
use restrictions, and what is not known yet (`unknown`: each item says what to check). The facts
were read from the licence texts and model cards cited beside each entry and from the studio's
notes (shared/reference/models-and-sound-2026.md, holocine.md), December 2026.

`conditions_broken` says which conditions a studio's facts break; `resources/domain/licence_check`
applies it to the models a brief chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RevenueBand = Literal["under_1m", "1m_10m", "over_10m"]
# Annual revenue (US$) each band spans: [low, high).
REVENUE_BANDS: dict[str, tuple[int, float]] = {
    "under_1m": (0, 1_000_000),
    "1m_10m": (1_000_000, 10_000_000),
    "over_10m": (10_000_000, float("inf")),
}

# The 27 member states of the European Union (ISO 3166-1 alpha-2), 2026.
EU: tuple[str, ...] = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)  # fmt: skip


@dataclass(frozen=True)
class Licence:
    """What one licence asks of a studio that uses a model under it."""

    name: str
    source: str  # where the facts below were read
    non_commercial: bool = False  # no paid work without a separate licence from the authors
    # ISO 3166-1 alpha-2 codes where the licence does not apply: the studio may neither operate
    # there nor show the output there.
    excluded_territories: tuple[str, ...] = ()
    # Above this annual revenue (US$) of the studio, a paid licence from the authors is needed.
    revenue_limit_usd: int | None = None
    # Above this many monthly users of the licensee's products or services, a separate licence.
    monthly_users_limit: int | None = None
    attribution: str = ""  # what must be credited or kept ("" none)
    use_restrictions: str = ""  # an acceptable-use policy the use must follow ("" none)
    registration: str = ""  # commercial use only after registering with the authors
    # Facts not established: each item names what to check. Never read as "no condition".
    unknown: tuple[str, ...] = ()

    @property
    def paid_work(self) -> str:
        """'no' (non-commercial), 'conditional' (paid work on conditions) or 'yes'."""
        if self.non_commercial:
            return "no"
        conditional = (
            self.excluded_territories
            or self.revenue_limit_usd
            or self.monthly_users_limit
            or self.registration
            or self.unknown
        )
        return "conditional" if conditional else "yes"

    def conditions(self) -> list[str]:
        """Each condition in one short English phrase, in a fixed order (docs, reports)."""
        found = []
        if self.non_commercial:
            found.append("non-commercial: no paid work")
        if self.excluded_territories:
            found.append(f"not in {territories_text(self.excluded_territories)}")
        if self.revenue_limit_usd:
            found.append(f"paid licence above US${self.revenue_limit_usd / 1e6:g}M annual revenue")
        if self.monthly_users_limit:
            found.append(f"separate licence above {self.monthly_users_limit:,} monthly users")
        if self.registration:
            found.append(self.registration)
        if self.attribution:
            found.append(f"attribution: {self.attribution}")
        if self.use_restrictions:
            found.append(f"use restrictions: {self.use_restrictions}")
        found += [f"unknown: {u}" for u in self.unknown]
        return found

    def record(self) -> dict[str, Any]:
        """The licence as a manifest, the lineage and the client report keep it."""
        return {
            "licence": self.name,
            "paid_work": self.paid_work,
            "non_commercial": self.non_commercial,
            "excluded_territories": list(self.excluded_territories),
            "paid_licence_above_usd": self.revenue_limit_usd,
            "monthly_users_limit": self.monthly_users_limit,
            "attribution": self.attribution,
            "use_restrictions": self.use_restrictions,
            "registration": self.registration,
            "unknown": list(self.unknown),
            "terms": "; ".join(self.conditions()) or "no conditions beyond the notice",
            "source": self.source,
        }


PAID_WORK_PT = {"yes": "sim", "no": "não", "conditional": "com condições", "unknown": "a verificar"}


def terms_pt(record: dict[str, Any]) -> str:
    """A licence record's conditions in Portuguese, for the client's report and package: each
    free-text condition through `TEXT_PT` (a record's text it does not hold stays as written)."""
    found = []
    if record.get("non_commercial"):
        found.append("não comercial: sem trabalho pago")
    if record.get("excluded_territories"):
        found.append(f"não vale em: {territories_pt(tuple(record['excluded_territories']))}")
    if record.get("paid_licence_above_usd"):
        limit = usd_millions_pt(record["paid_licence_above_usd"])
        found.append(f"licença paga acima de {limit} de receita anual")
    if record.get("monthly_users_limit"):
        users = f"{record['monthly_users_limit']:,}".replace(",", ".")
        found.append(f"licença à parte acima de {users} usuários por mês")
    if record.get("registration"):
        found.append(text_pt(record["registration"]))
    if record.get("attribution"):
        found.append(f"atribuição: {text_pt(record['attribution'])}")
    if record.get("use_restrictions"):
        found.append(f"restrições de uso: {text_pt(record['use_restrictions'])}")
    found += [f"a verificar: {text_pt(u)}" for u in record.get("unknown", [])]
    return "; ".join(found) or "sem condições além do aviso de licença"


def text_pt(text: str) -> str:
    """A licence's free-text condition in Portuguese (`TEXT_PT`), or as written."""
    return TEXT_PT.get(text, text)


def territories_pt(codes: tuple[str, ...]) -> str:
    """'UE, GB, KR' for a list holding all of the EU; the codes otherwise."""
    return territories_text(codes).replace("the EU", "UE")


def usd_millions_pt(amount: float) -> str:
    """'US$ 10 mi'."""
    return f"US$ {amount / 1e6:g} mi".replace(".", ",")


def territories_text(codes: tuple[str, ...]) -> str:
    """'the EU, GB, KR' for a list holding all of the EU; the codes otherwise."""
    rest = [c for c in codes if c not in EU]
    return ", ".join((["the EU"] if set(EU) <= set(codes) else []) + rest)


_KEEP_NOTICE = "keep the licence and copyright notice when redistributing the weights"
_NOT_READ = "the licence tag of the adapter's model card (not read here)"

# Every free-text condition below, in Portuguese, for the producer's review app and the client's
# report and package (tests/test_licences.py checks that each one has its line here).
TEXT_PT: dict[str, str] = {
    _KEEP_NOTICE: "manter a licença e o aviso de copyright ao redistribuir os pesos",
    _NOT_READ: "a licença indicada no cartão do modelo do adaptador (não lido aqui)",
    "a Notice file with Tencent's notice on any distribution of the weights": (
        "um arquivo Notice com o aviso da Tencent em toda distribuição dos pesos"
    ),
    "Tencent's Acceptable Use Policy (Exhibit A); output may not improve other AI models": (
        "a Política de Uso Aceitável da Tencent (Anexo A); o resultado não pode ser usado para "
        "melhorar outros modelos de IA"
    ),
    "keep the licence with any distribution of the weights or derivatives": (
        "manter a licença em toda distribuição dos pesos ou de derivados"
    ),
    "the licence's use restrictions and its terms for the Gemma 3 text encoder shipped in the "
    "pipeline folder (Gemma Terms of Use): read both files of the pinned revision": (
        "as restrições de uso da licença e os termos do codificador de texto Gemma 3 que vem na "
        "pasta do pipeline (Termos de Uso do Gemma): ler os dois arquivos da revisão fixada"
    ),
    "the licence's use-based restrictions (harm to people, unlawful content)": (
        "as restrições de uso da licença (dano a pessoas, conteúdo ilegal)"
    ),
    "whether commercial use has a revenue threshold: read the LICENSE file of the pinned "
    "revision (older 0.9 checkpoints were OpenRAIL-M)": (
        "se o uso comercial tem limite de receita: ler o arquivo LICENSE da revisão fixada (os "
        "checkpoints 0.9 mais antigos eram OpenRAIL-M)"
    ),
    "commercial use only after registering for the basic commercial licence "
    "(open.bigmodel.cn/mla/form)": (
        "uso comercial só depois de registrar a licença comercial básica "
        "(open.bigmodel.cn/mla/form)"
    ),
    "whether the studio has registered for the basic commercial licence": (
        "se o estúdio registrou a licença comercial básica"
    ),
    "credit the authors; share adaptations under the same licence": (
        "dar crédito aos autores; compartilhar adaptações sob a mesma licença"
    ),
    "keep the licence, and pass its use restrictions on, when distributing": (
        "manter a licença, e repassar suas restrições de uso, ao distribuir"
    ),
    "Attachment A (no unlawful, harmful, deceptive or discriminatory use)": (
        "Anexo A (nenhum uso ilegal, danoso, enganoso ou discriminatório)"
    ),
    "written terms for publishing and monetising generated music "
    "(ace-step/ACE-Step-1.5#1256, #1364)": (
        "termos escritos para publicar e monetizar a música gerada "
        "(ace-step/ACE-Step-1.5#1256, #1364)"
    ),
    "the licence of microsoft/wavlm-base-plus-sv's model card at the pinned revision": (
        "a licença do cartão do modelo microsoft/wavlm-base-plus-sv na revisão fixada"
    ),
}

APACHE_2 = Licence(
    name="Apache-2.0",
    source="apache.org/licenses/LICENSE-2.0 (section 4: redistribution keeps the notices)",
    attribution=_KEEP_NOTICE,
)
MIT = Licence(
    name="MIT",
    source="opensource.org/license/mit (the notice travels with copies of the software)",
    attribution=_KEEP_NOTICE,
)
BSD_3 = Licence(
    name="BSD-3-Clause",
    source="xinntao/Real-ESRGAN LICENSE (BSD 3-Clause)",
    attribution=_KEEP_NOTICE,
)
# Tencent Hunyuan Community License (tencent/HunyuanVideo LICENSE, updated in commit a4ed25a to
# exclude the United Kingdom and South Korea besides the EU): "does not apply in the European
# Union, United Kingdom and South Korea" (Territory, 1.l); section 4: above 100 million monthly
# active users of the licensee's products, a licence from Tencent; section 5: the Acceptable Use
# Policy (Exhibit A), and no use of its output to improve another AI model; distributions carry
# a Notice file.
HUNYUAN_COMMUNITY = Licence(
    name="Tencent Hunyuan Community License",
    source="huggingface.co/tencent/HunyuanVideo LICENSE (commit a4ed25a); "
    "shared/reference/models-and-sound-2026.md",
    excluded_territories=(*EU, "GB", "KR"),
    monthly_users_limit=100_000_000,
    attribution="a Notice file with Tencent's notice on any distribution of the weights",
    use_restrictions="Tencent's Acceptable Use Policy (Exhibit A); output may not improve "
    "other AI models",
)
# LTX-2 Community License Agreement (Lightricks/LTX-2 LICENSE, dated 5 January 2026; scancode
# licensedb `ltx-2-cla-2026`): free for entities under US$10M annual revenue, a paid licence above.
LTX2_COMMUNITY = Licence(
    name="LTX-2 Community License",
    source="github.com/Lightricks/LTX-2 LICENSE (2026-01-05); "
    "shared/reference/models-and-sound-2026.md",
    revenue_limit_usd=10_000_000,
    attribution="keep the licence with any distribution of the weights or derivatives",
    unknown=(
        "the licence's use restrictions and its terms for the Gemma 3 text encoder shipped in "
        "the pipeline folder (Gemma Terms of Use): read both files of the pinned revision",
    ),
)
# LTXV Open Weights License (Lightricks/LTX-Video, the 0.9.x line; text of 2025-05-05): defines
# Harm and restricts uses; whether it sets a revenue threshold was not established here.
LTXV_OPEN_WEIGHTS = Licence(
    name="LTX-Video Open Weights License",
    source="Lightricks/LTX-Video LICENSE (LTXV Open Weights License, 2025-05-05)",
    attribution="keep the licence with any distribution of the weights or derivatives",
    use_restrictions="the licence's use-based restrictions (harm to people, unlawful content)",
    unknown=(
        "whether commercial use has a revenue threshold: read the LICENSE file of the pinned "
        "revision (older 0.9 checkpoints were OpenRAIL-M)",
    ),
)
# The CogVideoX License (THUDM/CogVideoX-5b LICENSE): academic use free; commercial use after
# registering for the free basic commercial licence, at most 1 million service visits a month.
COGVIDEOX = Licence(
    name="CogVideoX License",
    source="huggingface.co/THUDM/CogVideoX-5b LICENSE, section 2",
    monthly_users_limit=1_000_000,
    registration="commercial use only after registering for the basic commercial licence "
    "(open.bigmodel.cn/mla/form)",
    unknown=("whether the studio has registered for the basic commercial licence",),
)
# HoloCine (hlwang06/HoloCine): CC BY-NC-SA 4.0 (shared/reference/holocine.md).
CC_BY_NC_SA_4 = Licence(
    name="CC BY-NC-SA 4.0",
    source="creativecommons.org/licenses/by-nc-sa/4.0; shared/reference/holocine.md",
    non_commercial=True,
    attribution="credit the authors; share adaptations under the same licence",
)
# SDXL base 1.0: CreativeML Open RAIL++-M (the model card's licence; Attachment A lists the
# restricted uses, which must be passed on to anyone the model or its output is given to).
OPENRAIL_PP_M = Licence(
    name="CreativeML Open RAIL++-M",
    source="huggingface.co/stabilityai/stable-diffusion-xl-base-1.0 LICENSE.md",
    attribution="keep the licence, and pass its use restrictions on, when distributing",
    use_restrictions="Attachment A (no unlawful, harmful, deceptive or discriminatory use)",
)
# ACE-Step 1.5: the model card declares MIT and that generated music may be used commercially;
# written output terms are still asked for (registry.ACE_STEP.open_questions).
MIT_ACE_STEP = Licence(
    name="MIT (model card)",
    source="huggingface.co/ACE-Step/acestep-v15-xl-turbo-diffusers model card",
    attribution=_KEEP_NOTICE,
    unknown=(
        "written terms for publishing and monetising generated music "
        "(ace-step/ACE-Step-1.5#1256, #1364)",
    ),
)
# WavLM: microsoft/unilm publishes its code and checkpoints under MIT; the model card of the
# pinned revision was not read offline.
MIT_WAVLM = Licence(
    name="MIT (microsoft/unilm; model card to be checked)",
    source="github.com/microsoft/unilm LICENSE",
    attribution=_KEEP_NOTICE,
    unknown=("the licence of microsoft/wavlm-base-plus-sv's model card at the pinned revision",),
)
# lightx2v's step-distillation LoRAs for Wan (draft tier): derived from Apache-2.0 Wan weights.
APACHE_2_LIGHTX2V = Licence(
    name="Apache-2.0 (lightx2v, to be checked)",
    source="lightx2v's Wan distillation repositories (derived from Apache-2.0 Wan weights)",
    attribution=_KEEP_NOTICE,
    unknown=(_NOT_READ,),
)

LICENCES: dict[str, Licence] = {
    lic.name: lic
    for lic in (
        APACHE_2,
        MIT,
        BSD_3,
        HUNYUAN_COMMUNITY,
        LTX2_COMMUNITY,
        LTXV_OPEN_WEIGHTS,
        COGVIDEOX,
        CC_BY_NC_SA_4,
        OPENRAIL_PP_M,
        MIT_ACE_STEP,
        MIT_WAVLM,
        APACHE_2_LIGHTX2V,
    )
}


def licence(name: str) -> Licence:
    """The licence called `name`, or a KeyError listing the known ones."""
    try:
        return LICENCES[name]
    except KeyError:
        raise KeyError(f"unknown licence {name!r}; known: {', '.join(LICENCES)}") from None


@dataclass(frozen=True)
class StudioFacts:
    """What the studio declares once (pipeline/settings.py): where it works, for whom, its size.

    `revenue_band` None: not declared, so a revenue condition is neither met nor refused (the
    check warns). `audiences` are the countries where the clients show the deliverables.
    """

    country: str = "BR"
    audiences: tuple[str, ...] = ("BR",)
    revenue_band: RevenueBand | None = None
    paid_work: bool = True


@dataclass(frozen=True)
class Breach:
    """A licence condition the studio's facts break (`refused`), or cannot settle (a warning)."""

    condition: str  # non_commercial | territory | revenue | unknown
    text: str  # "excludes audiences in GB (settings CHARACTER_VIDEO_AUDIENCE)"
    refused: bool
    text_pt: str = ""  # the same in Portuguese, for the producer's review app


def conditions_broken(
    lic: Licence, facts: StudioFacts, *, where: dict[str, str] | None = None
) -> list[Breach]:
    """The conditions of `lic` the studio's `facts` break, then those they cannot settle.

    `where` names where each fact was declared (`country`, `audiences`, `revenue_band`,
    `paid_work`: a setting's variable or a brief field), for the producer to change it.
    """
    said = {"country": "country", "audiences": "audiences", "revenue_band": "revenue band"}
    said.update({"paid_work": "paid work"}, **(where or {}))
    found: list[Breach] = []
    if lic.non_commercial and facts.paid_work:
        found.append(
            Breach(
                "non_commercial",
                f"is non-commercial ({said['paid_work']})",
                True,
                f"é não comercial ({said['paid_work']})",
            )
        )
    excluded = set(lic.excluded_territories)
    if facts.country in excluded:
        where_said = f"{facts.country} ({said['country']})"
        found.append(
            Breach(
                "territory",
                f"excludes operation in {where_said}",
                True,
                f"não permite operar em {where_said}",
            )
        )
    shown = [c for c in facts.audiences if c in excluded]
    if shown:
        where_said = f"{', '.join(shown)} ({said['audiences']})"
        found.append(
            Breach(
                "territory",
                f"excludes audiences in {where_said}",
                True,
                f"não permite exibir em {where_said}",
            )
        )
    if lic.revenue_limit_usd is not None:
        limit = f"US${lic.revenue_limit_usd / 1e6:g}M"
        needs = f"needs a paid licence above {limit} annual revenue"
        limit_pt = usd_millions_pt(lic.revenue_limit_usd)
        needs_pt = f"exige licença paga acima de {limit_pt} de receita anual"
        band = said["revenue_band"]
        if facts.revenue_band is None:
            found.append(
                Breach(
                    "revenue",
                    f"{needs}; {band} unset",
                    False,
                    f"{needs_pt}; faixa de receita não informada ({band})",
                )
            )
        else:
            low, high = REVENUE_BANDS[facts.revenue_band]
            if low >= lic.revenue_limit_usd:
                stated = f"({band}: {facts.revenue_band})"
                found.append(Breach("revenue", f"{needs} {stated}", True, f"{needs_pt} {stated}"))
            elif high > lic.revenue_limit_usd:
                found.append(
                    Breach(
                        "revenue",
                        f"{band} {facts.revenue_band} straddles its {limit} limit",
                        False,
                        f"a faixa {facts.revenue_band} ({band}) cruza o limite de {limit_pt}",
                    )
                )
    found += [
        Breach("unknown", f"unknown: {u}", False, f"a verificar: {text_pt(u)}") for u in lic.unknown
    ]
    return found
