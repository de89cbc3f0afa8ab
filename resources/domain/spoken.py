"""A line as the voice says it: numbers, units and abbreviations written out in words.

A doctor's lines are full of figures ("2,5 mg/kg de 8/8 h", "PA 90x60 mmHg", "15%"). Written
that way they are right for the subtitles and wrong for everything that measures or makes
speech: vowel groups count "500 mg" as one syllable where the voice says eight ("quinhentos
miligramas"), a voice engine left to guess reads "2,5" and "8/8h" as it likes, and a transcript
that hears "quinhentos" differs from a script that says "500". So the brief's checks, the quote,
the voice engine and the transcript comparison all take `said(line)`; the subtitles keep the line.

What is written out (Brazilian Portuguese):
* amounts of money ("R$ 1.234,56", "US$ 3", "R$ 50 mil");
* integers ("1.500", "-3"), decimals with a comma ("2,5"), percentages ("15%"), ordinals ("1º",
  "2ª"), a number times another ("90x60", "3 x 2 cm": "por") or times a dose ("3x ao dia":
  "vezes");
* a unit after a number, alone or per another ("mg", "mmHg", "mg/kg", "mL/kg/h", "g/dia"), the
  number agreeing with the unit's gender ("2 h": "duas horas");
* an interval of hours ("8/8 h": "de oito em oito horas") and a clock time ("14h30", "14:30");
* a blood pressure ("140/90 mmHg", "PA 12/8": "doze por oito"), a fraction ("1/3": "um terço";
  after "dia" it is a date), a date ("12/05/2026": "doze de maio de dois mil e vinte e seis";
  "2026-05-12" too), a dilution ("1:1000": "um para mil"; "1:30" too, "14:30" is a clock), a
  range ("10-20 mg", "2 a 4 h": "duas a quatro horas") and a comparison ("< 70", "≥ 100", "± 2",
  "= 32", "~ 50%", "≈ 3");
* a decimal written with a point ("1.2 mg/dL": "um vírgula dois"; "1.200" stays a thousand), a
  height ("1m70": "um metro e setenta") and an Apgar ("Apgar 8/9": "oito e nove");
* Greek letters ("β-bloqueador": "beta-bloqueador");
* a Roman numeral after a class, type, grade or stage ("classe III da NYHA", "tipo II", "fator
  Xa": "três", "dois", "dez A") or after a century or chapter ("século V": "quinto");
* a fraction sign ("½ comprimido": "meio comprimido"), a prescription's shorthand ("2 cp",
  "1 amp", "20 gts");
* a count in scientific notation ("50 x 10³/µL": "cinquenta mil por microlitro"), a gravida's
  history ("G3P2A1": "gesta três, para dois, aborto um"), crosses ("3+", "2+/4+": "três
  cruzes", "duas cruzes em quatro"), ECG leads ("DII", "aVF", "V1-V4") and a spaced "+"
  ("mais");
* a few abbreviations with their dot ("Dra.", "máx.", "aprox."), "c/", "s/", "e/ou" and "&".

Emoji and other pictographs ("😀", "👍🏽", "❤️", "⭐") are left out: the voice has no word for
them. Anything else is left as written; `unread` names what of it the voice has no words for
(arrows, "#", "+", addresses), and `validate` warns of it. Acronyms and names are said as a
glossary says (`audio.say` in the brief, `say` in the client's profile: {"PA": "pressão
arterial"}), and a reading the producer does not want is replaced for one shot (`shots[].say`):
the voice says that instead, and the subtitles still show `line`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

_UNITS = (
    "zero um dois três quatro cinco seis sete oito nove dez onze doze treze catorze quinze "
    "dezesseis dezessete dezoito dezenove"
).split()
_TENS = "_ _ vinte trinta quarenta cinquenta sessenta setenta oitenta noventa".split()
_HUNDREDS = (
    "_ cento duzentos trezentos quatrocentos quinhentos seiscentos setecentos oitocentos novecentos"
).split()
# (singular, plural) of each power of a thousand above the thousands, which are masculine nouns.
_SCALES = (("milhão", "milhões"), ("bilhão", "bilhões"), ("trilhão", "trilhões"))
_ORDINAL_UNITS = "_ primeir segund terceir quart quint sext sétim oitav non".split()
_ORDINAL_TENS = (
    "_ décim vigésim trigésim quadragésim quinquagésim sexagésim septuagésim octogésim nonagésim"
).split()
_ORDINAL_HUNDREDS = (
    "_ centésim ducentésim trecentésim quadringentésim quingentésim sexcentésim septingentésim "
    "octingentésim noningentésim"
).split()


def _feminine(word: str) -> str:
    if word == "um":
        return "uma"
    if word == "dois":
        return "duas"
    return word[:-2] + "as" if word.endswith("entos") else word


def _below_thousand(n: int, feminine: bool) -> str:
    """The words of 1 <= n <= 999, joined by "e" as spoken ("cento e vinte e três")."""
    if n == 100:
        return "cem"
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    if rest >= 20:
        words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_UNITS[rest % 10])
    elif rest:
        words.append(_UNITS[rest])
    if feminine:
        words = [_feminine(w) for w in words]
    return " e ".join(words)


def cardinal(n: int, feminine: bool = False) -> str:
    """`n` in words: 1500 -> "mil e quinhentos", 2 (feminine) -> "duas"."""
    if n < 0:
        return "menos " + cardinal(-n, feminine)
    if n == 0:
        return "zero"
    if n >= 1000 ** (len(_SCALES) + 2):  # a code or a phone number, not an amount: digit by digit
        return " ".join(_UNITS[int(digit)] for digit in str(n))
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    parts = []
    for power in range(len(groups) - 1, -1, -1):
        group = groups[power]
        if not group:
            continue
        if power == 0:
            words = _below_thousand(group, feminine)
        elif power == 1:  # "mil", not "um mil"; the thousands agree with the noun counted
            words = "mil" if group == 1 else f"{_below_thousand(group, feminine)} mil"
        else:  # "milhão" and above are masculine nouns: "dois milhões de doses"
            singular, plural = _SCALES[power - 2]
            words = f"{_below_thousand(group, False)} {singular if group == 1 else plural}"
        parts.append((group, words))
    # "e" before the last group when it is below a hundred or a round hundred ("mil e cem",
    # "dois mil e cinco", but "mil duzentos e trinta").
    if len(parts) > 1:
        group, words = parts[-1]
        if group < 100 or group % 100 == 0:
            parts[-1] = (group, "e " + words)
    return " ".join(words for _, words in parts)


def ordinal(n: int, feminine: bool = False) -> str:
    """`n`th in words, for 1 <= n <= 999 ("vigésimo primeiro"); the cardinal above."""
    if not 1 <= n <= 999:
        return cardinal(n, feminine)
    end = "a" if feminine else "o"
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        words.append(_ORDINAL_HUNDREDS[hundreds])
    if rest >= 10:
        words.append(_ORDINAL_TENS[rest // 10])
        rest %= 10
    if rest:
        words.append(_ORDINAL_UNITS[rest])
    return " ".join(w + end for w in words)


# A unit after a number: its symbol, its singular and plural, and whether it is feminine.
_UNIT_WORDS: dict[str, tuple[str, str, bool]] = {
    "mg": ("miligrama", "miligramas", False),
    "mcg": ("micrograma", "microgramas", False),
    "µg": ("micrograma", "microgramas", False),
    "μg": ("micrograma", "microgramas", False),
    "ng": ("nanograma", "nanogramas", False),
    "g": ("grama", "gramas", False),
    "kg": ("quilo", "quilos", False),
    "mL": ("mililitro", "mililitros", False),
    "ml": ("mililitro", "mililitros", False),
    "dL": ("decilitro", "decilitros", False),
    "dl": ("decilitro", "decilitros", False),
    "L": ("litro", "litros", False),
    "mmHg": ("milímetro de mercúrio", "milímetros de mercúrio", False),
    "cmH2O": ("centímetro de água", "centímetros de água", False),
    "bpm": ("batimento por minuto", "batimentos por minuto", False),
    "irpm": ("incursão respiratória por minuto", "incursões respiratórias por minuto", True),
    "rpm": ("respiração por minuto", "respirações por minuto", True),
    "mEq": ("miliequivalente", "miliequivalentes", False),
    "mmol": ("milimol", "milimols", False),
    "UI": ("unidade internacional", "unidades internacionais", True),
    "U": ("unidade", "unidades", True),
    "kcal": ("quilocaloria", "quilocalorias", True),
    "mm": ("milímetro", "milímetros", False),
    "cm": ("centímetro", "centímetros", False),
    "m": ("metro", "metros", False),
    "km": ("quilômetro", "quilômetros", False),
    "m²": ("metro quadrado", "metros quadrados", False),
    "mm³": ("milímetro cúbico", "milímetros cúbicos", False),
    "cm³": ("centímetro cúbico", "centímetros cúbicos", False),
    "°C": ("grau Celsius", "graus Celsius", False),
    "ºC": ("grau Celsius", "graus Celsius", False),
    "°": ("grau", "graus", False),  # "1°" is degrees: the ordinal's sign is "º" or "ª"
    "h": ("hora", "horas", True),
    "min": ("minuto", "minutos", False),
    "s": ("segundo", "segundos", False),
    "ms": ("milissegundo", "milissegundos", False),
    "µL": ("microlitro", "microlitros", False),
    "μL": ("microlitro", "microlitros", False),
    "µUI": ("microunidade internacional", "microunidades internacionais", True),
    "μUI": ("microunidade internacional", "microunidades internacionais", True),
    "mUI": ("miliunidade internacional", "miliunidades internacionais", True),
    # a prescription's shorthand ("2 cp", "1 amp", "20 gts")
    "cp": ("comprimido", "comprimidos", False),
    "comp": ("comprimido", "comprimidos", False),
    "amp": ("ampola", "ampolas", True),
    "gt": ("gota", "gotas", True),
    "gts": ("gota", "gotas", True),
}
# What may follow "/" after a unit ("mg/kg", "g/dia", "mL/kg/h"), said in the singular.
_PER_WORDS: dict[str, str] = {
    **{symbol: words[0] for symbol, words in _UNIT_WORDS.items()},
    "dia": "dia",
    "semana": "semana",
    "mês": "mês",
    "ano": "ano",
    "dose": "dose",
}
# Words that make the number before them feminine ("duas vezes", "vinte e duas semanas").
_FEMININE_NOUNS = frozenset(
    """vez vezes hora horas semana semanas dose doses gota gotas cápsula cápsulas ampola ampolas
    unidade unidades pessoa pessoas criança crianças mulher mulheres gestação gestações gestante
    gestantes consulta consultas internação internações questão questões alternativa
    alternativas vítima vítimas camada camadas cirurgia cirurgias lesão lesões célula células
    plaqueta plaquetas hemácia hemácias colônia colônias crise crises convulsão convulsões
    evacuação evacuações mamada mamadas refeição refeições sessão sessões série séries amostra
    amostras vacina vacinas drágea drágeas bolsa bolsas contração contrações fratura fraturas
    costela costelas vértebra vértebras artéria artérias veia veias noite noites colher colheres
    xícara xícaras cruz cruzes""".split()
)
# Abbreviations with their dot, as spoken.
_ABBREVIATIONS: dict[str, str] = {
    "Dr.": "doutor",
    "Dra.": "doutora",
    "Drs.": "doutores",
    "Dras.": "doutoras",
    "Sr.": "senhor",
    "Sra.": "senhora",
    "Prof.": "professor",
    "Profa.": "professora",
    "máx.": "máximo",
    "mín.": "mínimo",
    "aprox.": "aproximadamente",
    "p.ex.": "por exemplo",
    "etc.": "etcétera",
    "vs.": "versus",
    "nº": "número",
    "n°": "número",
    "e/ou": "e ou",
    "&": "e",
    "c/": "com",
    "s/": "sem",
}

# A fraction's denominator: (singular, plural) ("1/2": "meio", "2/3": "dois terços"). Over 5 to
# 10 a doctor gives a score ("dor 7/10", "força 4/5": "sete de dez", "quatro de cinco").
_FRACTIONS: dict[int, tuple[str, str]] = {
    2: ("meio", "meios"),
    3: ("terço", "terços"),
    4: ("quarto", "quartos"),
    100: ("centésimo", "centésimos"),
    1000: ("milésimo", "milésimos"),
}
# A comparison before a number ("glicemia < 70", "FC ≥ 100"), longest sign first.
_COMPARISONS: dict[str, str] = {
    ">=": "maior ou igual a",
    "<=": "menor ou igual a",
    "≥": "maior ou igual a",
    "≤": "menor ou igual a",
    ">": "maior que",
    "<": "menor que",
    "±": "mais ou menos",
    "≠": "diferente de",
    "≈": "aproximadamente",
    "~": "cerca de",
    "=": "igual a",
}
_MONTHS = (
    "_ janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro"
).split()
_GREEK: dict[str, str] = {
    "α": "alfa",
    "β": "beta",
    "γ": "gama",
    "δ": "delta",
    "ε": "épsilon",
    "κ": "capa",
    "λ": "lambda",
    "μ": "mi",
    "σ": "sigma",
    "ω": "ômega",
}

# Nouns a Roman numeral after them numbers, with how it is said: a class, type, grade or stage
# ("classe III da NYHA", "diabetes tipo II", "Killip IV", "fator Xa") by its cardinal, as doctors
# say them; a century or a chapter ("século XXI", "século V") by its ordinal up to ten, its
# cardinal above.
_ROMAN_CARDINAL_AFTER = """tipo tipos classe classes grau graus estágio estágios estádio estádios
    fase fases nível níveis zona zonas categoria categorias fator fatores Killip Mobitz NYHA
    Forrest Fontaine Garden Gustilo Hinchey Mallampati Neer Tanner Fort Fisher Bismuth""".split()
_ROMAN_ORDINAL_AFTER = "século séculos capítulo capítulos".split()
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
# A subclass letter after the numeral ("classe IIb", "estágio IIIA"), by its name.
_LETTER_NAMES = {"a": "A", "b": "bê", "c": "cê"}

_NUMBER = r"\d{1,3}(?:\.\d{3})+(?!\d)(?:,\d+)?|\d+(?:,\d+)?"
_SYMBOLS = "|".join(re.escape(s) for s in sorted(_UNIT_WORDS, key=len, reverse=True))
_PERS = "|".join(re.escape(s) for s in sorted(_PER_WORDS, key=len, reverse=True))
_UNIT = rf"(?:{_SYMBOLS})(?:/(?:{_PERS}))*"
_END = r"(?![\wµμ²°º/])"  # a unit ends its word ("m" is not the start of "mg" or "mais")

# Money: the currency's sign before the amount ("R$ 1.234,56", "US$ 3").
_CURRENCIES: dict[str, tuple[str, str]] = {"R$": ("real", "reais"), "US$": ("dólar", "dólares")}
# An amount of money in thousands, millions or billions ("R$ 50 mil": "cinquenta mil reais";
# "US$ 2 milhões": "dois milhões de dólares").
_CURRENCY = "|".join(re.escape(sign) for sign in _CURRENCIES)
_MONEY_SCALE = re.compile(
    rf"(?<![\w$])({_CURRENCY})\s?({_NUMBER})\s(mil|milhão|milhões|bilhão|bilhões)(?!\w)"
)
# A fraction sign, after a whole number or not ("½ comprimido": "meio comprimido"; "1 ½ colher":
# "uma e meia colher"; "¾": "três quartos").
_FRACTION_SIGNS = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4)}
_FRACTION_SIGN = re.compile(
    r"(?<![\w,./])(?:(\d+)\s?)?([" + "".join(_FRACTION_SIGNS) + r"])(?![\d/])"
)
_MONEY = re.compile(
    rf"(?<![\w$])({_CURRENCY})\s?(\d{{1,3}}(?:\.\d{{3}})+(?!\d)|\d+)(?:,(\d{{2}}))?(?![\d,/])"
)
_ABBREVIATION = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?=\s|$|[,;:!?)])"
)
# "8/8h" and "de 8/8 h" are both "de oito em oito horas".
_INTERVAL = re.compile(r"(?:(?<!\w)de\s+)?(?<![\w,./])(\d{1,2})\s?/\s?\1\s?h(?:oras)?" + _END)
_CLOCK = re.compile(r"(?<![\w,./])([01]?\d|2[0-3])h([0-5]\d)(?!\w)")
# A height in metres and centimetres ("1m70": "um metro e setenta").
_HEIGHT = re.compile(r"(?<![\w,./])(\d)m(\d{2})(?!\w)")
# A decimal point where Portuguese writes a comma ("1.2", "0.25"): never three digits after it,
# which is a thousands dot ("1.200").
_DECIMAL_POINT = re.compile(r"(?<![\w,.])(\d+)\.(\d{1,2}|\d{4,})(?![.,]?\d|\w)")
# A date written year first ("2026-12-07"), before a range takes its hyphens.
_ISO_DATE = re.compile(r"(?<![\w,./-])(\d{4})-(\d{2})-(\d{2})(?![\w-]|[.,]\d)")
# Pictographs the voice has no word for (emoji, with their joiners, skin tones, keycaps and
# presentation selectors; dingbats; stars and arrows of the symbol blocks): left out of what it
# says, with one space beside them. The subtitles keep them (burn_in.undrawable warns).
_PICTOGRAPH = (
    "[\U0001f000-\U0001faff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff"
    "\ufe0e\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
_PICTOGRAPHS = re.compile(f"^{_PICTOGRAPH}+[ \t]*|[ \t]?{_PICTOGRAPH}+")
# "14:30" (a clock) or "1:1000" (a dilution).
_COLON = re.compile(r"(?<![\w,./:])(\d{1,2}):(\d{1,3}(?:\.\d{3})+|\d+)(?![\w:]|,\d)")
# Numbers joined by "/": a blood pressure ("140/90 mmHg"), a fraction ("1/3") or a date
# ("12/05", "12/05/2026").
_SLASH = re.compile(
    r"(?<![\w,./])(\d{1,3})\s?/\s?(\d{1,4})"
    rf"(?:/(\d{{4}}|\d{{2}})(?![\w/]|,\d)|\s?(mmHg|cmH2O){_END}|(?![\w/]|,\d))"
)
# "/" between a word and a number ("mL/min/1,73 m²") or before a unit alone ("80.000/mm³",
# "30 gotas/min", "1x/dia"): "por".
_SLASH_NUMBER = re.compile(r"(?<=[^\W\d_])/(?=\d)")
_PER_ALONE = re.compile(rf"(?<=[\w³²])\s?/({_PERS}){_END}")
_RANGE = re.compile(
    rf"(?<![\w,./])({_NUMBER})\s?(?:[-–]|\s(?:a|até)\s)\s?({_NUMBER})\s?({_UNIT}|%){_END}"
    rf"|(?<![\w,./])({_NUMBER})[-–]({_NUMBER})(?![\w,.]\d|\w)"
)
_GREEK_LETTER = re.compile("([" + "".join(_GREEK) + r"])(\w?)")
# Not the second sign of a pair ("<=", ">="): a sign of its own follows no comparison sign.
_COMPARISON_SIGNS = re.escape("".join(sorted(set("".join(_COMPARISONS)))))
_COMPARISON = re.compile(
    rf"(?<![\w{_COMPARISON_SIGNS}])("
    + "|".join(re.escape(c) for c in _COMPARISONS)
    + r")\s?(?=-?\d)"
)
_TIMES = re.compile(rf"(?<![\w,./])({_NUMBER})\s?[xX×]\s?({_NUMBER})(?:\s?({_UNIT}){_END})?")
_DOSE_TIMES = re.compile(rf"(?<![\w,./])({_NUMBER})\s?[xX×](?=\s|$|[,;.!?)/])")
# A count in scientific notation ("50 x 10³/µL", "4,5 x 10^6"): a thousand, a million, a
# billion and a trillion by name ("cinquenta mil"), another power as "dez elevado a" it.
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_POWER = re.compile(rf"(?<![\w,./])({_NUMBER})\s?[xX×]\s?10(?:\^(\d{{1,2}})|([⁰¹²³⁴⁵⁶⁷⁸⁹]{{1,2}}))")
# A gravida's obstetric history ("G3P2A1": "gesta três, para dois, aborto um").
_GESTA = re.compile(r"(?<!\w)G(\d{1,2})\s?P(\d{1,2})(?:\s?A(\d{1,2}))?(?!\w)")
# A finding graded in crosses ("proteinúria 3+", "reflexos 2+/4+", "sopro 2+/6+": "três
# cruzes", "duas cruzes em quatro").
_CROSSES = re.compile(r"(?<![\w,./+])([1-6])\+(?:/([1-6])\+)?(?![\w+])")
# ECG leads ("DII, DIII e aVF", "V1-V4": "dê dois, dê três e a vê efe", "vê um a vê quatro");
# "DI" is also an acronym (diabetes insipidus) and is left to the glossary.
_LEAD = re.compile(r"(?<!\w)(?:D(II|III)|V([1-6])|aV([RLF]))(?!\w)(?:[-–](?=[DVa]))?")
_LEAD_LETTERS = {"R": "erre", "L": "ele", "F": "efe"}
# "+" between two words or figures, spaced ("32 semanas + 4 dias"): "mais" ("K+" stays).
_PLUS = re.compile(r"(?<=\w) \+ (?=\w)")
_WITH_UNIT = re.compile(rf"(?<![\w,./])(-?)({_NUMBER})\s?({_UNIT}|%){_END}")
_ORDINAL = re.compile(r"(?<![\w,./])(\d{1,3})([ºª])(?!\w)")
# A number alone.
_BARE = re.compile(rf"(?<![\w,./])(-(?=\d))?({_NUMBER})(?!\w|[.,]\d)")
# A Roman numeral of I, V and X (1 to 39: "vitamina C", "raio X" and "Child-Pugh classe C" are
# letters, and no noun is numbered by one), with a subclass letter; several after one noun are
# joined by "e", "ou", "a", "-" or "/" ("graus I e II", "classe II-III").
_ROMAN_NUMERAL = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})(?:[abcABC])?(?!\w)"
_ROMAN_JOIN = r"\s*[-–/]\s*|,\s*|\s+(?:e|ou|a)\s+"
_ROMAN = re.compile(
    r"(?<!\w)(?i:(" + "|".join(_ROMAN_CARDINAL_AFTER + _ROMAN_ORDINAL_AFTER) + r"))\s+"
    rf"({_ROMAN_NUMERAL}(?:(?:{_ROMAN_JOIN}){_ROMAN_NUMERAL})*)"
)
_ROMAN_PART = re.compile(rf"({_ROMAN_NUMERAL})|{_ROMAN_JOIN}")
# A web or e-mail address (not the sentence's stop after it): the voice has no reading for it.
_ADDRESS = re.compile(r"(?<!\w)(?:https?://|www\.)\S*[^\s.,;:!?)]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# The noun after a number, or after the number it is paired with by a word ("2 semanas", "2 a 4
# semanas", "1 ou 2 doses"): looked at, not replaced.
_NOUN_AFTER = re.compile(rf"(?:\s+(?:a|até|ou|e)\s+(?:{_NUMBER}))?\s+(\w+)")


def number_words(number: str, feminine: bool = False) -> str:
    """A number as written in Brazilian Portuguese ("1.500", "2,5", "0,05") in words."""
    whole, _, fraction = number.replace(".", "").partition(",")
    words = cardinal(int(whole), feminine)
    if not fraction:
        return words
    zeros = len(fraction) - len(fraction.lstrip("0"))
    rest = fraction.lstrip("0")
    said = ["zero"] * zeros + ([cardinal(int(rest))] if rest else [])
    return f"{words} vírgula {' '.join(said)}"


def _unit_words(number: str, unit: str) -> tuple[str, bool]:
    """(the unit in words, whether the number before it is feminine): "mg/kg" after "2,5"
    -> ("miligramas por quilo", False); "%" -> ("por cento", False)."""
    if unit == "%":
        return "por cento", False
    head, *pers = unit.split("/")
    singular, plural, feminine = _UNIT_WORDS[head]
    words = singular if number == "1" else plural
    return " ".join([words, *(f"por {_PER_WORDS[p]}" for p in pers)]), feminine


def _money(match: re.Match[str]) -> str:
    """ "R$ 1.234,56" -> "mil duzentos e trinta e quatro reais e cinquenta e seis centavos"."""
    sign, whole, cents = match.groups()
    singular, plural = _CURRENCIES[sign]
    units, hundredths = int(whole.replace(".", "")), int(cents or 0)
    parts = []
    if units or not hundredths:
        # "um milhão de reais": a round million and above takes "de"
        of = " de" if units >= 1_000_000 and units % 1_000_000 == 0 else ""
        parts.append(f"{cardinal(units)}{of} {singular if units == 1 else plural}")
    if hundredths:
        parts.append(f"{cardinal(hundredths)} {'centavo' if hundredths == 1 else 'centavos'}")
    return " e ".join(parts)


def _money_scale(match: re.Match[str]) -> str:
    sign, number, scale = match.groups()
    plural = _CURRENCIES[sign][1]
    amount = scale if number == "1" and scale == "mil" else f"{number_words(number)} {scale}"
    return f"{amount}{'' if scale == 'mil' else ' de'} {plural}"


def _fraction_words(top: int, bottom: int, feminine: bool = False) -> str:
    """`top`/`bottom` in words ("um terço", "dois terços"); a half is "meio", or "meia" before a
    feminine noun."""
    if bottom == 2:
        return "meia" if feminine else "meio"
    singular, plural = _FRACTIONS[bottom]
    return f"{cardinal(top)} {singular if top == 1 else plural}"


def _fraction_sign(match: re.Match[str]) -> str:
    whole, sign = match.groups()
    feminine = _before_feminine(match)
    part = _fraction_words(*_FRACTION_SIGNS[sign], feminine)
    return f"{cardinal(int(whole), feminine)} e {part}" if whole else part


def _with_unit(match: re.Match[str]) -> str:
    sign, number, unit = match.groups()
    words, feminine = _unit_words(number, unit)
    return f"{'menos ' if sign else ''}{number_words(number, feminine)} {words}"


def _pair(first: str, joined_by: str, second: str, unit: str | None = None) -> str:
    """Two numbers joined by a word, then the unit they share, both numbers in its gender:
    ("2", "a", "4", "h") -> "duas a quatro horas"; ("90", "por", "60") -> "noventa por sessenta"."""
    if unit is None:
        return f"{number_words(first)} {joined_by} {number_words(second)}"
    words, feminine = _unit_words(second, unit)
    return f"{number_words(first, feminine)} {joined_by} {number_words(second, feminine)} {words}"


def _times(match: re.Match[str]) -> str:
    return _pair(match[1], "por", match[2], match[3])


def _hours(match: re.Match[str]) -> str:
    """The hours a match's first group counts, in words ("hora" is feminine: "duas")."""
    return cardinal(int(match.group(1)), feminine=True)


def _clock(match: re.Match[str]) -> str:
    """ "14h30" -> "catorze horas e trinta minutos"; "1h01" -> "uma hora e um minuto"."""
    return _clock_words(int(match.group(1)), int(match.group(2)))


def _clock_words(hours: int, minutes: int) -> str:
    """ "catorze horas e trinta minutos"; "uma hora"; "zero hora e um minuto"."""
    hour = "hora" if hours < 2 else "horas"  # "zero hora", "uma hora"
    words = f"{cardinal(hours, feminine=True)} {hour}"
    if minutes:
        words += f" e {cardinal(minutes)} {'minuto' if minutes == 1 else 'minutos'}"
    return words


def _height(match: re.Match[str]) -> str:
    """ "1m70" -> "um metro e setenta"."""
    metres, centimetres = int(match.group(1)), int(match.group(2))
    return f"{cardinal(metres)} {'metro' if metres == 1 else 'metros'} e {cardinal(centimetres)}"


def _colon(match: re.Match[str]) -> str:
    """ "14:30" a clock; "1:1000" (one to anything but "00", or no clock) a dilution."""
    first, second = match.groups()
    hours, minutes = int(first), int(second.replace(".", ""))
    if len(second) == 2 and hours <= 24 and minutes <= 59 and (hours != 1 or minutes == 0):
        return _clock_words(hours, minutes)
    return f"{number_words(first)} para {number_words(second)}"


def _slash(match: re.Match[str]) -> str:
    """ "140/90" a pressure (the first at least 50 and above the second, a pressure's unit
    after it, or "PA" before it: "PA 12/8"); "2/3" a fraction (a known denominator, not after
    "dia"); "Apgar 8/9" two scores; "7/10" a score; "24/7" round the clock ("vinte e quatro por
    sete"; "dia 24/7" a date); "12/05" or "1/3/2026" a date; anything else as "barra"
    ("20/20")."""
    first, second, year, unit = match.groups()
    top, bottom = int(first), int(second)
    before = [w.strip(":").lower() for w in match.string[: match.start()].split()[-1:]]
    if year is None:
        if unit or (top >= 50 and top > bottom) or before in (["pa"], ["arterial"]):
            return _pair(first, "por", second, unit)
        if before == ["apgar"]:  # at the 1st and the 5th minute
            return _pair(first, "e", second)
        if before != ["dia"] and (top, bottom) == (24, 7):
            return _pair(first, "por", second)
        if before != ["dia"] and 0 < top < bottom and bottom in _FRACTIONS:
            return _fraction_words(top, bottom)
        if before != ["dia"] and 0 < top <= bottom and 5 <= bottom <= 10:
            return _pair(first, "de", second)  # a score
    if 1 <= top <= 31 and 1 <= bottom <= 12:
        return _date(top, bottom, int(year) if year else None)
    return " barra ".join(number_words(n) for n in (first, second, year) if n)


def _date(day: int, month: int, year: int | None) -> str:
    """ "primeiro de março", "doze de maio de dois mil e vinte e seis"."""
    words = f"{'primeiro' if day == 1 else cardinal(day)} de {_MONTHS[month]}"
    return f"{words} de {cardinal(year)}" if year is not None else words


def _iso_date(match: re.Match[str]) -> str:
    """ "2026-12-07" -> "sete de dezembro de dois mil e vinte e seis"; anything that is not a
    day of a month is said number by number ("2026-13-40")."""
    year, month, day = (int(n) for n in match.groups())
    if 1 <= month <= 12 and 1 <= day <= 31:
        return _date(day, month, year)
    return " ".join(number_words(n) for n in match.groups())


def _dose_times(match: re.Match[str]) -> str:
    """ "3x" -> "três vezes", "1x" -> "uma vez", "1,5x" -> "uma vírgula cinco vezes"."""
    times = match.group(1)
    return f"{number_words(times, True)} {'vez' if times == '1' else 'vezes'}"


def _power(match: re.Match[str]) -> str:
    """ "50 x 10³" -> "cinquenta mil", "1 x 10^6" -> "um milhão", "2 x 10⁵" -> "dois vezes dez
    elevado a cinco"; before "mil" the number takes the gender of the noun after it."""
    number, caret, superscript = match.groups()
    power = int(caret or superscript.translate(_SUPERSCRIPTS))
    if power == 3:
        return "mil" if number == "1" else f"{number_words(number, _before_feminine(match))} mil"
    if power in (6, 9, 12):
        singular, plural = _SCALES[power // 3 - 2]
        return f"{number_words(number)} {singular if number == '1' else plural}"
    return f"{number_words(number)} vezes dez elevado a {cardinal(power)}"


def _crosses(match: re.Match[str]) -> str:
    crosses, of = int(match.group(1)), match.group(2)
    said = f"{cardinal(crosses, True)} {'cruz' if crosses == 1 else 'cruzes'}"
    return said + (f" em {cardinal(int(of), True)}" if of else "")


def _lead(match: re.Match[str]) -> str:
    limb, chest, augmented = match.groups()
    if limb:
        said = f"dê {cardinal(len(limb))}"
    else:
        said = f"vê {cardinal(int(chest))}" if chest else f"a vê {_LEAD_LETTERS[augmented]}"
    return said + (" a " if match.group(0)[-1] in "-–" else "")


def _gesta(match: re.Match[str]) -> str:
    gesta, para, aborto = match.groups()
    said = [f"gesta {cardinal(int(gesta))}", f"para {cardinal(int(para))}"]
    return ", ".join(said + ([f"aborto {cardinal(int(aborto))}"] if aborto else []))


def _range(match: re.Match[str]) -> str:
    """ "10-20 mg" -> "dez a vinte miligramas"; "2 a 4 h" -> "duas a quatro horas"; "2-3
    vezes" -> "duas a três vezes" (the noun after a range without a unit sets its gender)."""
    first, second, unit, plain_first, plain_second = match.groups()
    if unit is None:
        words = (number_words(n, _before_feminine(match)) for n in (plain_first, plain_second))
        return " a ".join(words)
    return _pair(first, "a", second, unit)


def _before_feminine(match: re.Match[str]) -> bool:
    """Whether the noun after the number(s) `match` wrote ("vezes", "semanas"; see `_NOUN_AFTER`)
    makes them feminine."""
    after = _NOUN_AFTER.match(match.string, match.end())
    return after is not None and after.group(1).lower() in _FEMININE_NOUNS


def roman_value(numeral: str) -> int:
    """The value of a Roman numeral of I, V and X ("XIV": 14)."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0], strict=True))


def _roman(match: re.Match[str]) -> str:
    """The numerals after a noun that numbers with them ("classe IIb e III": "classe dois bê e
    três"; "século V": "século quinto"), each joined as written, "-" as "a" and "/" as "ou"."""
    noun, numerals = match.groups()
    by_ordinal = noun.lower() in _ROMAN_ORDINAL_AFTER

    def part(piece: re.Match[str]) -> str:
        if piece.group(1) is None:
            join = piece.group(0).strip()
            return {"-": " a ", "–": " a ", "/": " ou ", ",": ", "}.get(join, f" {join} ")
        letter = piece.group(1)[-1] if piece.group(1)[-1].lower() in _LETTER_NAMES else ""
        n = roman_value(piece.group(1).removesuffix(letter))
        words = ordinal(n) if by_ordinal and n <= 10 else cardinal(n)
        return words + (f" {_LETTER_NAMES[letter.lower()]}" if letter else "")

    return f"{noun} " + _ROMAN_PART.sub(part, numerals)


def _greek(match: re.Match[str]) -> str:
    """A Greek letter by name, a space before a letter or digit that follows ("βHCG")."""
    letter, after = match.groups()
    return _GREEK[letter] + (f" {after}" if after else "")


def _bare(match: re.Match[str]) -> str:
    """A number alone, in the gender of the noun after it or after the number it is paired with:
    "2 semanas" and "2 a 4 semanas" both say "duas"."""
    sign, number = match.groups()
    return ("menos " if sign else "") + number_words(number, _before_feminine(match))


_PT_BR: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_ABBREVIATION, lambda m: _ABBREVIATIONS[m.group(1)]),
    (_GREEK_LETTER, _greek),
    (_CROSSES, _crosses),
    (_DECIMAL_POINT, lambda m: f"{m.group(1)},{m.group(2)}"),
    (_MONEY_SCALE, _money_scale),
    (_MONEY, _money),
    (_FRACTION_SIGN, _fraction_sign),
    (_ISO_DATE, _iso_date),
    (_INTERVAL, lambda m: f"de {_hours(m)} em {_hours(m)} horas"),
    (_CLOCK, _clock),
    (_HEIGHT, _height),
    (_COMPARISON, lambda m: _COMPARISONS[m.group(1)] + " "),
    (_COLON, _colon),
    (_SLASH, _slash),
    (_POWER, _power),
    (_TIMES, _times),
    (_DOSE_TIMES, _dose_times),
    (_RANGE, _range),
    (_SLASH_NUMBER, lambda m: " por "),
    (_WITH_UNIT, _with_unit),
    (_PER_ALONE, lambda m: f" por {_PER_WORDS[m.group(1)]}"),
    (_ORDINAL, lambda m: ordinal(int(m.group(1)), m.group(2) == "ª")),
    (_BARE, _bare),
    (_GESTA, _gesta),
    (_LEAD, _lead),
    (_PLUS, lambda m: " mais "),
)
# Read before the glossary's terms are: pictographs go first (what they stood between is read
# as it then stands), and a numeral is known by the noun before it, which the glossary may say
# otherwise ("NYHA III" with NYHA said "nía": "nía três").
_PT_BR_FIRST = ((_PICTOGRAPHS, lambda m: ""), (_ROMAN, _roman))
_RULES = {"pt-BR": (_PT_BR_FIRST, _PT_BR)}


def with_glossary(text: str, glossary: Mapping[str, str]) -> str:
    """`text` with each whole-word occurrence of a glossary's term replaced by how it is said
    ("PA" -> "pressão arterial"; "PAS" is another word). Case-sensitive, longest term first, in
    one pass: a replacement is never replaced again."""
    if not glossary:
        return text
    terms = "|".join(re.escape(t) for t in sorted(glossary, key=len, reverse=True))
    return re.sub(rf"(?<!\w)(?:{terms})(?!\w)", lambda m: glossary[m.group(0)], text)


def said(text: str, language: str, glossary: Mapping[str, str] | None = None) -> str:
    """`text` as the voice says it in `language`: Roman numerals by the noun before them, the
    glossary's terms as it says them, then figures, units and abbreviations in words."""
    first, rules = _RULES[language]
    for pattern, words in first:
        text = pattern.sub(words, text)
    text = with_glossary(text, glossary or {})
    for pattern, words in rules:
        text = pattern.sub(words, text)
    return text


# What the voice has no word for, left as written: symbols ("→", "+", "|"), signs no figure
# follows ("≥", "%"), markup ("*", "#", "_"), bullets, slashes between words and number signs
# no rule reads ("²" alone, "⅛").
_UNREAD_CATEGORIES = frozenset({"Sm", "Sc", "Sk", "So", "No"})
_UNREAD_MARKS = frozenset("#*@&/\\_%•§")


def unread(reading: str) -> list[str]:
    """What a reading (`said`'s) still holds that the voice has no word for, in order of first
    appearance: web and e-mail addresses, then each symbol once. A voice engine says these as it
    guesses (or not at all); the producer writes them in words, or gives the shot's `say`."""
    addresses = _ADDRESS.findall(reading)
    rest = _ADDRESS.sub(" ", reading)
    symbols = [
        c
        for c in dict.fromkeys(rest)
        if c in _UNREAD_MARKS or unicodedata.category(c) in _UNREAD_CATEGORIES
    ]
    return list(dict.fromkeys(addresses)) + symbols
