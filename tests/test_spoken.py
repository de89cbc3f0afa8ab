"""A line as the voice says it: figures, units and abbreviations in words, for Brazilian Portuguese.

What a doctor says in exam-prep videos: doses, vital signs, intervals, percentages. The readings
below are how a Brazilian physician reads them aloud.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import EXAMPLES, small_brief, write_brief

from pipeline.cli import main
from resources.domain.brief import BriefError, brief_notes, load_brief
from resources.domain.speech import line_error_rate, speech_seconds
from resources.domain.spoken import cardinal, ordinal, roman_value, said, unread

READINGS = {
    "A dose é 2,5 mg/kg de 8/8h, por 7 dias (máx. 4 g/dia).": (
        "A dose é dois vírgula cinco miligramas por quilo de oito em oito horas, por sete dias "
        "(máximo quatro gramas por dia)."
    ),
    "PA 90x60 mmHg, FC 120 bpm, FR 28 irpm, T 38,5 °C.": (
        "PA noventa por sessenta milímetros de mercúrio, FC cento e vinte batimentos por minuto, "
        "FR vinte e oito incursões respiratórias por minuto, T trinta e oito vírgula cinco graus "
        "Celsius."
    ),
    "Tome 500 mg 3x ao dia.": "Tome quinhentos miligramas três vezes ao dia.",
    "Saturação de 92%.": "Saturação de noventa e dois por cento.",
    "Hidratar com 1.500 mL em 24 h.": (
        "Hidratar com mil e quinhentos mililitros em vinte e quatro horas."
    ),
    "A Dra. Ana explica o 1º caso e a 2ª questão.": (
        "A doutora Ana explica o primeiro caso e a segunda questão."
    ),
    "Foram 2 doses em 21 semanas, 1 hora por dia.": (
        "Foram duas doses em vinte e uma semanas, uma hora por dia."
    ),
    "Às 14h30 a glicemia era 250 mg/dL.": (
        "Às catorze horas e trinta minutos a glicemia era duzentos e cinquenta miligramas por "
        "decilitro."
    ),
    "Nódulo de 3x2 cm.": "Nódulo de três por dois centímetros.",
    "Jejum da 0h15 à 1h01.": "Jejum da zero hora e quinze minutos à uma hora e um minuto.",
    "Insulina: 10 U, depois 200 UI.": (
        "Insulina: dez unidades, depois duzentas unidades internacionais."
    ),
    "Adrenalina 0,05 mg/kg.": "Adrenalina zero vírgula zero cinco miligramas por quilo.",
    "Diurese de 0,5 mL/kg/h.": "Diurese de zero vírgula cinco mililitros por quilo por hora.",
    "Hipotermia: -3 °C.": "Hipotermia: menos três graus Celsius.",
    "1 mg, 1 g e 1 UI": "um miligrama, um grama e uma unidade internacional",
    "Dipirona de 6/6 horas.": "Dipirona de seis em seis horas.",
    "Em 2026, 1.000.000 de casos.": "Em dois mil e vinte e seis, um milhão de casos.",
    "Ela tem 40.": "Ela tem quarenta.",
    "A consulta custa R$ 1.234,56; o exame, R$ 0,50; a dose, US$ 3.": (
        "A consulta custa mil duzentos e trinta e quatro reais e cinquenta e seis centavos; o "
        "exame, cinquenta centavos; a dose, três dólares."
    ),
    "R$ 1,00 ou R$ 2.000.000": "um real ou dois milhões de reais",
    # A case as a doctor presents it: pressures, comparisons, ranges, fractions, dilutions.
    "PA > 140/90 mmHg, FC ≥ 100 bpm e glicemia < 70 mg/dL.": (
        "PA maior que cento e quarenta por noventa milímetros de mercúrio, FC maior ou igual a cem "
        "batimentos por minuto e glicemia menor que setenta miligramas por decilitro."
    ),
    "PA 12/8, PA: 120/80mmHg.": (
        "PA doze por oito, PA: cento e vinte por oitenta milímetros de mercúrio."
    ),
    "Amoxicilina 10-20 mg/kg/dia por 7–10 dias, de 2 a 4 h.": (
        "Amoxicilina dez a vinte miligramas por quilo por dia por sete a dez dias, de duas a "
        "quatro horas."
    ),
    "Dar 1/2 comprimido, 1/3 da dose e 2/3 do volume.": (
        "Dar meio comprimido, um terço da dose e dois terços do volume."
    ),
    "Adrenalina 1:1000, não 1:10.000.": "Adrenalina um para mil, não um para dez mil.",
    "Creatinina 1.2 mg/dL, 0.25 mg, 1.200 mL.": (
        "Creatinina um vírgula dois miligramas por decilitro, zero vírgula vinte e cinco "
        "miligramas, mil e duzentos mililitros."
    ),
    "Internada no dia 1/3, alta em 12/05/2026, às 14:30; jejum até 8:00.": (
        "Internada no dia primeiro de março, alta em doze de maio de dois mil e vinte e seis, às "
        "catorze horas e trinta minutos; jejum até oito horas."
    ),
    "Hb 12 ± 2 g/dL; β-bloqueador, βHCG e γ-GT.": (
        "Hb doze mais ou menos dois gramas por decilitro; beta-bloqueador, beta HCG e gama-GT."
    ),
    "Acuidade 20/20 às 14h00.": "Acuidade vinte barra vinte às catorze horas.",
    "Dor 7/10, força grau 4/5; retorno no dia 7/10.": (
        "Dor sete de dez, força grau quatro de cinco; retorno no dia sete de outubro."
    ),
    "Plaquetas 80.000/mm³; TFG 30 mL/min/1,73 m²; soro a 30 gotas/min.": (
        "Plaquetas oitenta mil por milímetro cúbico; TFG trinta mililitros por minuto por um "
        "vírgula setenta e três metros quadrados; soro a trinta gotas por minuto."
    ),
    "Apgar 8/9, 3.250 g, 1m70; a consulta custa R$ 2.50.": (
        "Apgar oito e nove, três mil duzentos e cinquenta gramas, um metro e setenta; a consulta "
        "custa dois reais e cinquenta centavos."
    ),
    "Tomar 1x/dia, 2x/semana, 1x ao dia.": (
        "Tomar uma vez por dia, duas vezes por semana, uma vez ao dia."
    ),
    # A date year first is a date, not two ranges; "=", "~", "≈" and "≠" before a figure.
    "Alta em 2026-12-07, retorno em 2027-01-01; 2-3 vezes.": (
        "Alta em sete de dezembro de dois mil e vinte e seis, retorno em primeiro de janeiro de "
        "dois mil e vinte e sete; duas a três vezes."
    ),
    # The noun after a pair of numbers sets the first one's gender too.
    "Por 2 a 4 semanas, 1 ou 2 doses, 2 e 3 gotas; 2 a 4 dias.": (
        "Por duas a quatro semanas, uma ou duas doses, duas e três gotas; dois a quatro dias."
    ),
    "IMC = 32 kg/m², ~ 50% dos casos, PA ≈ 120/80 mmHg, Na ≠ 140.": (
        "IMC igual a trinta e dois quilos por metro quadrado, cerca de cinquenta por cento dos "
        "casos, PA aproximadamente cento e vinte por oitenta milímetros de mercúrio, Na "
        "diferente de cento e quarenta."
    ),
    # A mascot's emoji: the voice has no word for them (the subtitles keep them).
    "Oi! 😀 Eu sou o Pip 👍🏽, até mais ❤️": "Oi! Eu sou o Pip, até mais",
    "🍎 Maçã é saúde! 🎉": "Maçã é saúde!",
    # A Roman numeral after a class, type, grade or stage is its cardinal, as doctors say it,
    # with a subclass letter by its name; joined numerals keep their word ("-": "a", "/": "ou").
    "Classe III da NYHA, DM tipo II, Killip IV, fator Xa, graus I e II, estágio IIIA.": (
        "Classe três da NYHA, DM tipo dois, Killip quatro, fator dez A, graus um e dois, "
        "estágio três A."
    ),
    "Recomendação classe IIb; classes II-III ou III/IV; Mobitz II; fase Ib; tipo XIV.": (
        "Recomendação classe dois bê; classes dois a três ou três ou quatro; Mobitz dois; "
        "fase um bê; tipo catorze."
    ),
    # A century or a chapter: the ordinal up to ten, the cardinal above.
    "No século XXI, desde o século V; capítulo IX.": (
        "No século vinte e um, desde o século quinto; capítulo nono."
    ),
    "Sintomas e/ou sinais; Johnson & Johnson.": "Sintomas e ou sinais; Johnson e Johnson.",
    # A Greek letter before a figure: the figure is read too.
    "α1-antitripsina e β2-agonista; βHCG.": "alfa um-antitripsina e beta dois-agonista; beta HCG.",
    # Counts in scientific notation, per microlitre; cells and platelets are feminine.
    "Plaquetas 50 x 10³/µL; hemácias 4,5 x 10⁶/µL; 250 x 10³ plaquetas; 2 x 10^5 UFC.": (
        "Plaquetas cinquenta mil por microlitro; hemácias quatro vírgula cinco milhões por "
        "microlitro; duzentas e cinquenta mil plaquetas; dois vezes dez elevado a cinco UFC."
    ),
    "CD4 < 200 células/mm³; TSH 0,01 µUI/mL; 1,5x o limite; 1 x 10^6.": (
        "CD4 menor que duzentas células por milímetro cúbico; TSH zero vírgula zero um "
        "microunidades internacionais por mililitro; uma vírgula cinco vezes o limite; um milhão."
    ),
    # A gravida's history; "+" between spaced terms; "c/" and "s/" before a word.
    "G3P2A1, IG 32 semanas + 4 dias; G1P0. Dor c/ irradiação, s/ febre.": (
        "gesta três, para dois, aborto um, IG trinta e duas semanas mais quatro dias; gesta um, "
        "para zero. Dor com irradiação, sem febre."
    ),
    # Fraction signs, in the gender of the noun after them; money in thousands and millions; a
    # prescription's shorthand.
    "Tome ½ comprimido, 1 ½ colher, ¾ do volume; 2 cp de 12/12h, 1 amp, 20 gts.": (
        "Tome meio comprimido, uma e meia colher, três quartos do volume; dois comprimidos de doze "
        "em doze horas, uma ampola, vinte gotas."
    ),
    "Custa R$ 50 mil, US$ 2 milhões, R$ 1 mil ou R$ 1,5 milhão.": (
        "Custa cinquenta mil reais, dois milhões de dólares, mil reais ou um vírgula cinco milhão "
        "de reais."
    ),
    # Round the clock, unless it is a day.
    "Plantão 24/7; alta no dia 24/7.": (
        "Plantão vinte e quatro por sete; alta no dia vinte e quatro de julho."
    ),
    # ECG leads; "DI" is an acronym too (diabetes insipidus) and stays.
    "Supra de ST em V1-V4 e DII, DIII e aVF; infra em aVL e V5–V6; DI central.": (
        "Supra de ST em vê um a vê quatro e dê dois, dê três e a vê efe; infra em a vê ele e vê "
        "cinco a vê seis; DI central."
    ),
    # Findings graded in crosses; Roman numerals after a classification's eponym.
    "Proteinúria 3+, reflexos 2+/4+, sopro 1+/6+; Gustilo IIIB, Forrest IIa, Le Fort II.": (
        "Proteinúria três cruzes, reflexos duas cruzes em quatro, sopro uma cruz em seis; Gustilo "
        "três bê, Forrest dois A, Le Fort dois."
    ),
}


@pytest.mark.parametrize("line", READINGS)
def test_a_doctors_figures_are_read_as_a_doctor_reads_them(line):
    assert said(line, "pt-BR") == READINGS[line]


@pytest.mark.parametrize(
    "line",
    [
        "Olá! Eu sou a doutora Ana.",  # the examples' lines: nothing to write out
        "Veja esta lesão.",
        "Até a próxima!",
        "5 meses depois",  # "m" is metres only as a word of its own
        "Gestação de 3 meses.",
        # Letters, not numerals: C, D, L and M are never read as Roman; X only after a noun
        # that numbers with it.
        "Vitamina C e raio X; Child-Pugh classe C; dissecção tipo A; cromossomo X.",
        "Tipo IIII e classe VV não são números.",
        "K+ e Na+; HCO3-; 1,2,3.",  # a list of digits with no spaces is not split into decimals
    ],
)
def test_words_stay_as_written(line):
    expected = line.replace("5 meses", "cinco meses").replace("3 meses", "três meses")
    assert said(line, "pt-BR") == expected


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("I", 1), ("IV", 4), ("IX", 9), ("XIV", 14), ("XIX", 19), ("XXI", 21), ("XXXIX", 39)],
)
def test_roman_numerals(numeral, value):
    assert roman_value(numeral) == value


def test_what_a_reading_holds_that_the_voice_has_no_words_for():
    reading = said(
        "FC ~ 110 bpm → taquicardia • veja www.acme.com.br ou ana@acme.com #dica K+", "pt-BR"
    )
    assert unread(reading) == ["www.acme.com.br", "ana@acme.com", "→", "•", "#", "+"]
    assert unread(said("Dose de 10 mg/kg, 50% (≥ 2 vezes)! Até já — né?", "pt-BR")) == []
    assert unread("Os dados *importantes* e o resto / o todo ≥ dois") == ["*", "/", "≥"]
    assert unread(said("⅛ da dose e ½ comprimido", "pt-BR")) == ["⅛"]


def test_validate_warns_of_what_the_voice_has_no_words_for_naming_the_field(tmp_path, capsys):
    from pipeline.settings import Settings

    shots = [
        {"id": "a", "prompt": "p", "line": "Taquicardia → choque."},
        {"id": "b", "prompt": "p", "line": "Tudo → certo.", "say": "Tudo certo."},
        {"id": "c", "prompt": "p", "line": "Veja o site.", "say": "Veja www.acme.com.br."},
        {"id": "d", "prompt": "p", "line": "Classe III da NYHA."},
    ]
    path = write_brief(tmp_path, small_brief(shots=shots))
    assert main(["validate", str(path)]) == 0
    warned = [line for line in capsys.readouterr().out.splitlines() if "no words" in line]
    assert warned == [
        f"{path}: warning: shots[0].line: the voice has no words for '→': the voice engine "
        "reads them its own way, or skips them; write them out, or give shots[0].say",
        f"{path}: warning: shots[2].say: the voice has no words for 'www.acme.com.br': the "
        "voice engine reads them its own way, or skips them; write them out",
    ]
    brief = load_brief(path)
    notes = brief_notes(brief, Settings.from_env().prompt_warnings(brief, "pt-BR"), "pt-BR")
    assert [n.line for n in notes if n.warning and "palavras" in n.line] == [
        "shots[0].line: a voz não tem palavras para '→': o motor de voz as lê a seu modo, ou as "
        "omite; escreva-as por extenso ou use shots[0].say",
        "shots[2].say: a voz não tem palavras para 'www.acme.com.br': o motor de voz as lê a seu "
        "modo, ou as omite; escreva-as por extenso",
    ]


def test_a_date_keeps_the_word_after_it():
    # The unit a pressure may take ("mmHg") was matched after a date too, and dropped with it.
    assert said("Em 12/05/2026 mmHg", "pt-BR") == "Em doze de maio de dois mil e vinte e seis mmHg"


@pytest.mark.parametrize("line", [*READINGS.values(), "cinco meses", "mil e uma noites"])
def test_a_reading_read_again_is_unchanged(line):
    assert said(line, "pt-BR") == line


# What producers write in a line, figures, signs and words, to be shuffled together.
_PIECES = """1 2 3 12 24 7 50 1,5 2,5 0,01 1.500 10 x X × 10³ 10^6 ½ ¼ + / - – : , . ; % mg mL kg µL
    cp gts h min R$ US$ mil milhões classe tipo grau III IIb IV XXI século DII aVF V1 V4 G3P2A1
    2+/4+ 3+ c/ s/ e/ou & → • # * www.a.com a@b.com dia de a até ou e semanas vezes células colher
    ≥ < ~ = ± β α 2026-12-07 12/05/2026 8/8h 14h30 14:30 1:1000 PA 140/90 mmHg 1m70 1º 2ª Dra.
    máx. 😀""".split()


def test_any_line_of_figures_signs_and_words_is_read_once_and_for_all():
    """Shuffled pieces (5,000 lines, a fixed seed): no rule fails, and the reading read again is
    the same, so no rule leaves behind something another would read differently (a date after an
    amount of money, a numeral an emoji stood before, a digit after a Greek letter)."""
    import random

    shuffle = random.Random(3)
    for _ in range(5000):
        line = " ".join(shuffle.choice(_PIECES) for _ in range(shuffle.randint(1, 8)))
        reading = said(line, "pt-BR")
        assert said(reading, "pt-BR") == reading, line


@pytest.mark.parametrize(
    ("n", "masculine", "feminine"),
    [
        (0, "zero", "zero"),
        (1, "um", "uma"),
        (2, "dois", "duas"),
        (16, "dezesseis", "dezesseis"),
        (21, "vinte e um", "vinte e uma"),
        (100, "cem", "cem"),
        (101, "cento e um", "cento e uma"),
        (222, "duzentos e vinte e dois", "duzentas e vinte e duas"),
        (1000, "mil", "mil"),
        (1001, "mil e um", "mil e uma"),
        (1100, "mil e cem", "mil e cem"),
        (1234, "mil duzentos e trinta e quatro", "mil duzentas e trinta e quatro"),
        (2005, "dois mil e cinco", "duas mil e cinco"),
        (2300, "dois mil e trezentos", "duas mil e trezentas"),
        (1_500_000, "um milhão e quinhentos mil", "um milhão e quinhentas mil"),
        (2_000_001, "dois milhões e um", "dois milhões e uma"),
        (-7, "menos sete", "menos sete"),
        (
            10**15,
            "um zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero",
            "um zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero",
        ),
    ],
)
def test_cardinals_in_both_genders(n, masculine, feminine):
    assert (cardinal(n), cardinal(n, feminine=True)) == (masculine, feminine)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "primeiro"),
        (10, "décimo"),
        (21, "vigésimo primeiro"),
        (122, "centésimo vigésimo segundo"),
        (300, "trecentésimo"),
    ],  # fmt: skip
)
def test_ordinals(n, words):
    assert ordinal(n) == words
    assert ordinal(n, feminine=True) == words.replace("o ", "a ").removesuffix("o") + "a"


def test_a_transcript_that_writes_figures_matches_a_script_that_says_them():
    assert line_error_rate("Tome 500 mg.", "Tome quinhentos miligramas.", "pt-BR") == 0.0
    assert line_error_rate("Tome quinhentos miligramas.", "tome 500 mg", "pt-BR") == 0.0
    assert line_error_rate("Tome 500 mg.", "Tome 600 mg.", "pt-BR") > 0.0
    # A transcript that writes a grade in crosses or a count as digits.
    assert (
        line_error_rate(
            "Proteinúria 2+, plaquetas 50 x 10³/µL.",
            "proteinúria 2 cruzes, plaquetas 50 mil por microlitro",
            "pt-BR",
        )
        == 0.0
    )


def _load(tmp_path, shot: dict):
    return load_brief(write_brief(tmp_path, small_brief(shots=[shot])))


def test_the_fit_check_counts_the_figures_as_spoken(tmp_path):
    # Four syllables as written (the vowel groups of "Tome ... mg ... ao dia": digits have none);
    # 14 as spoken: more than a 2 s shot holds (6 after lead-in and tail).
    shot = {"id": "dose", "prompt": "p", "duration_s": 2.0, "line": "Tome 500 mg 3x ao dia."}
    with pytest.raises(BriefError) as caught:
        _load(tmp_path, shot)
    (problem,) = caught.value.problems
    assert problem.startswith(
        "shots[0].line: shot 'dose': the line needs 14 syllables, about 2.8 s"
    )
    shot["duration_s"] = 4.0
    assert _load(tmp_path, shot).shots[0].spoken("pt-BR") == READINGS["Tome 500 mg 3x ao dia."]


def test_a_pressure_is_counted_as_its_reading_not_as_its_digits(tmp_path):
    # "PA 140/90 mmHg." was counted as "PA cento e quarenta/90 mmHg.": the second figure and the
    # unit were vowel-less. Said in full it is 19 syllables, 3.8 s: more than a 3 s shot holds.
    shot = {"id": "pa", "prompt": "p", "duration_s": 3.0, "line": "PA 140/90 mmHg."}
    with pytest.raises(BriefError) as caught:
        _load(tmp_path, shot)
    (problem,) = caught.value.problems
    assert problem.startswith("shots[0].line: shot 'pa': the line needs 19 syllables")
    shot["duration_s"] = 5.0
    assert _load(tmp_path, shot).shots[0].spoken("pt-BR") == (
        "PA cento e quarenta por noventa milímetros de mercúrio."
    )


def test_a_shot_timed_by_its_line_is_timed_by_its_reading(tmp_path):
    brief = _load(tmp_path, {"id": "dose", "prompt": "p", "line": "Tome 500 mg 3x ao dia."})
    seconds = speech_seconds(READINGS["Tome 500 mg 3x ao dia."], "pt-BR")
    assert seconds == pytest.approx(14 / 5)
    assert brief.estimated().shots[0].duration_s == pytest.approx(0.3 + seconds + 0.5)


def test_say_replaces_the_reading_and_keeps_the_line(tmp_path):
    shot = {"id": "pa", "prompt": "p", "line": "PA 90x60 mmHg.", "say": "Pressão de 90 por 60."}
    brief = _load(tmp_path, shot)
    assert brief.shots[0].line == "PA 90x60 mmHg."
    assert brief.shots[0].spoken("pt-BR") == "Pressão de noventa por sessenta."


def test_say_without_a_line_or_with_nothing_to_say_is_one_line_naming_the_field(tmp_path):
    with pytest.raises(BriefError) as caught:
        _load(tmp_path, {"id": "a", "prompt": "p", "duration_s": 1, "say": "olá"})
    assert caught.value.problems == [
        "shots[0]: `say` is how the voice reads the shot's `line`: write the `line` too"
    ]
    with pytest.raises(BriefError) as caught:
        _load(tmp_path, {"id": "a", "prompt": "p", "line": "Olá.", "say": "?!"})
    (problem,) = caught.value.problems
    assert problem.startswith("shots[0].say: no word to speak")


def test_a_brief_without_say_keeps_its_version(tmp_path):
    data = yaml.safe_load((EXAMPLES / "acme-health-dr-ana.yaml").read_text())
    plain = load_brief(write_brief(tmp_path / "a", data))
    assert '"say"' not in plain.canonical_json()
    data["shots"][0]["say"] = data["shots"][0]["line"]
    assert load_brief(write_brief(tmp_path / "b", data)).content_hash() != plain.content_hash()


def test_validate_shows_how_each_line_with_figures_is_said(tmp_path, capsys):
    shots = [
        {"id": "dose", "prompt": "p", "line": "Tome 500 mg 3x ao dia."},
        {"id": "oi", "prompt": "p", "line": "Olá!"},
    ]
    path = write_brief(tmp_path, small_brief(shots=shots))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    said_lines = [line for line in out if "said as" in line]
    assert said_lines == [f'{path}: shots[0].line: said as "{READINGS["Tome 500 mg 3x ao dia."]}"']


def test_say_without_a_line_is_refused_in_portuguese_too(tmp_path):
    with pytest.raises(BriefError) as caught:
        _load(tmp_path, {"id": "a", "prompt": "p", "duration_s": 1, "say": "olá"})
    assert caught.value.problems_pt == [
        "shots[0]: `say` é como a voz lê a `line` da cena: escreva a `line` também"
    ]


def test_a_glossary_says_whole_words_only_longest_first_and_once():
    glossary = {"PA": "pressão arterial", "PAS": "pressão arterial sistólica", "FC": "f c"}
    line = "PA de 120 e PAS alta; PAPA e FCs ficam."
    assert said(line, "pt-BR", glossary) == (
        "pressão arterial de cento e vinte e pressão arterial sistólica alta; PAPA e FCs ficam."
    )
    assert said("IAM", "pt-BR", {"IAM": "infarto de 1 vaso"}) == "infarto de um vaso"
    # A numeral is read by the noun before it, however the glossary says the noun.
    assert said("NYHA III e classe IV", "pt-BR", {"NYHA": "nía", "classe": "classe funcional"}) == (
        "nía três e classe funcional quatro"
    )


def _glossary_brief(tmp_path, say: dict, shots: list[dict] | None = None) -> dict:
    shots = shots or [{"id": "pa", "prompt": "p", "line": "PA 90x60 mmHg.", "duration_s": 5}]
    return small_brief(shots=shots, audio={"say": say})


def test_the_briefs_glossary_is_counted_spoken_and_shown_and_say_still_wins(tmp_path, capsys):
    say = {"PA": "pressão arterial", "FC": "frequência cardíaca"}
    shots = [
        {"id": "pa", "prompt": "p", "line": "PA 90x60 mmHg."},
        {"id": "fc", "prompt": "p", "line": "FC 120 bpm.", "duration_s": 5},
        {"id": "own", "prompt": "p", "line": "PA baixa.", "say": "A PA está baixa."},
    ]
    path = write_brief(tmp_path, _glossary_brief(tmp_path, say, shots))
    brief = load_brief(path)
    reading = "pressão arterial noventa por sessenta milímetros de mercúrio."
    heart = "frequência cardíaca cento e vinte batimentos por minuto."
    assert [brief.spoken(s) for s in brief.shots] == [reading, heart, "A PA está baixa."]
    seconds = speech_seconds(reading, "pt-BR")
    assert brief.estimated().shots[0].duration_s == pytest.approx(0.3 + seconds + 0.5)
    assert main(["validate", str(path)]) == 0
    assert f'{path}: shots[0].line: said as "{reading}"' in capsys.readouterr().out.splitlines()


def test_a_glossary_term_with_nothing_to_say_is_refused_naming_the_field(tmp_path):
    for say in ({"PA": "  "}, {"?!": "nada"}, {"PA": "x" * 301}):
        with pytest.raises(BriefError) as caught:
            load_brief(write_brief(tmp_path, _glossary_brief(tmp_path, say)))
        (problem,) = caught.value.problems
        assert problem.startswith("audio.say: term "), problem


def test_the_client_profiles_glossary_fills_the_terms_a_brief_leaves_out(tmp_path):
    from resources.brief_files import read_entry

    profile = tmp_path / "clients" / "acme-health" / "client.yaml"
    profile.parent.mkdir(parents=True)
    profile.write_text('say: {PA: "pressão arterial", FC: "frequência cardíaca"}\n')
    data = _glossary_brief(tmp_path, {"FC": "batimento"})
    entry = read_entry(write_brief(tmp_path, data), follow_symlinks=False)
    assert entry.brief.audio.say == {"PA": "pressão arterial", "FC": "batimento"}
    assert entry.brief.spoken(entry.brief.shots[0]).startswith("pressão arterial noventa")
    alone = load_brief(write_brief(tmp_path / "alone", data))  # the same brief, no profile
    assert alone.content_hash() != entry.brief.content_hash()  # the readings are in its version
    profile.write_text("say: {PA: 3}\n")
    (problem,) = read_entry(tmp_path / "brief.yaml", follow_symlinks=False).error.problems
    assert problem.startswith("say.PA: ")


def test_a_brief_with_sound_and_no_glossary_keeps_its_version(tmp_path):
    data = small_brief(audio={"loudness": -23})
    assert '"say"' not in load_brief(write_brief(tmp_path, data)).canonical_json()


def test_the_fit_check_counts_the_glossarys_words(tmp_path):
    shot = {"id": "fc", "prompt": "p", "line": "FC 120 bpm.", "duration_s": 4}
    assert load_brief(write_brief(tmp_path / "a", small_brief(shots=[shot])))  # 13 syllables
    with pytest.raises(BriefError) as caught:
        load_brief(
            write_brief(
                tmp_path / "b", _glossary_brief(tmp_path, {"FC": "frequência cardíaca"}, [shot])
            )
        )
    (problem,) = caught.value.problems
    assert "needs 19 syllables" in problem and "hold 16" in problem
