"""Speech as data: speaking rate, lead-in and tail, subtitle cues, error rates. No audio here.

The one place a line's text becomes seconds before anything is synthesized (the brief's check
that a line fits its fixed shot, the quote) and after (the shot's length from its narration).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from resources.domain.spoken import said

# Languages the voice engine is asked to speak; the brief refuses any other.
LANGUAGES: tuple[str, ...] = ("pt-BR",)
DEFAULT_LANGUAGE = "pt-BR"
# A normal rate of Brazilian Portuguese read speech, in syllables per second. Published
# measurements of read Brazilian Portuguese put the articulation rate at about 5-6 syllables/s
# and the speech rate, pauses included, at about 4.5-5.5; 5.0 is the figure a line is checked
# against (a line that needs a faster rate than that is refused, not rushed).
SYLLABLES_PER_S: dict[str, float] = {"pt-BR": 5.0}
# Silence before a line starts in its shot and after it ends: a cut never clips a word.
LEAD_IN_S = 0.3
TAIL_S = 0.5
# Subtitles: at most two lines of 42 characters per cue (the common broadcast/web rule).
CUE_LINE_CHARS = 42
CUE_LINES = 2

_VOWEL_GROUP = re.compile(r"[aeiouyáàâãéêíóôõúü]+", re.IGNORECASE)


def syllables(text: str) -> int:
    """Syllables of `text`, counted as groups of vowels (a diphthong counts once), at least 1.

    An estimate on purpose: it only has to say whether a line fits a shot at a normal rate, and
    it errs short (a hiatus such as "dia" counts one), so a line it refuses is surely too long.
    """
    return max(1, len(_VOWEL_GROUP.findall(text)))


def speech_seconds(text: str, language: str) -> float:
    """How long `text`, as the voice says it (`Brief.spoken`, `spoken.said`: figures in words),
    takes at the language's normal rate, without lead-in or tail."""
    return syllables(text) / SYLLABLES_PER_S[language]


def shot_seconds(speech_s: float) -> float:
    """A shot timed by its line: the speech plus the lead-in and the tail."""
    return LEAD_IN_S + speech_s + TAIL_S


def line_limit_s(text: str, language: str, duration_s: float | None) -> float:
    """The longest a line may be spoken: what its fixed shot holds after lead-in and tail, or
    twice its normal length plus a second for a shot timed by its line. An engine that samples
    its own end (Qwen3-TTS) stops there at the latest instead of running on."""
    if duration_s is not None:
        return max(0.0, duration_s - LEAD_IN_S - TAIL_S)
    return 2 * speech_seconds(text, language) + 1.0


def syllables_that_fit(duration_s: float, language: str) -> int:
    """The most syllables a shot of `duration_s` holds at a normal rate after lead-in and tail."""
    return max(0, int((duration_s - LEAD_IN_S - TAIL_S) * SYLLABLES_PER_S[language]))


def wrap_cue(text: str, width: int = CUE_LINE_CHARS) -> list[list[str]]:
    """`text` as cues of at most CUE_LINES lines of `width` characters, words kept whole."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:  # a word longer than a line is cut (never in practice)
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}".strip()
        if len(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return [lines[i : i + CUE_LINES] for i in range(0, len(lines), CUE_LINES)] or [[""]]


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: when it shows, and its lines."""

    start_s: float
    end_s: float
    lines: tuple[str, ...]


def cues_for(shot_id: str, text: str, start_s: float, end_s: float) -> list[Cue]:
    """The cues of one line spoken from `start_s` to `end_s`: split by characters when long."""
    parts = wrap_cue(text)
    total = sum(len(" ".join(p)) for p in parts) or 1
    cues, at = [], start_s
    for part in parts:
        share = (end_s - start_s) * len(" ".join(part)) / total
        cues.append(Cue(round(at, 3), round(at + share, 3), tuple(part)))
        at += share
    return cues


def _stamp(seconds: float, sep: str) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _vtt_text(line: str) -> str:
    """A cue line as WebVTT cue text: `&`, `<` and `>` as character references.

    A player reads `<` as the start of a tag and `&` as the start of a reference, and ends the
    cue at a line holding `-->`: "PA < 90 mmHg" would lose its text, "A --> B" the cue's end.
    """
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(cues: list[Cue]) -> str:
    """WebVTT text of `cues` (UTF-8 when written)."""
    blocks = ["WEBVTT", ""]
    for cue in cues:
        stamps = f"{_stamp(cue.start_s, '.')} --> {_stamp(cue.end_s, '.')}"
        blocks += [stamps, *(_vtt_text(line) for line in cue.lines), ""]
    return "\n".join(blocks)


def srt(cues: list[Cue]) -> str:
    """SubRip text of `cues` (UTF-8 when written)."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        stamps = f"{_stamp(cue.start_s, ',')} --> {_stamp(cue.end_s, ',')}"
        blocks += [str(number), stamps, *cue.lines, ""]
    return "\n".join(blocks)


def normalise_for_cer(text: str) -> str:
    """Lower case, no punctuation, single spaces: what a character error rate compares."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(c if c.isalnum() or c.isspace() else " " for c in text)
    return " ".join(text.split())


def speakable(text: str) -> bool:
    """Whether `text` has a word to say: a letter or a digit, not punctuation or emoji alone
    (what remains of it for the character error rate is not empty)."""
    return bool(normalise_for_cer(text))


def line_error_rate(script: str, heard: str, language: str) -> float:
    """The character error rate of what was heard against the script, both as spoken: a
    transcript may write "quinhentos miligramas" as "500 mg" and still be right."""
    return character_error_rate(said(script, language), said(heard, language))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over the normalised reference's length (1.0 for an empty one)."""
    ref, hyp = normalise_for_cer(reference), normalise_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
