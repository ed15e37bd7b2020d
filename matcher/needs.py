"""The needs vocabulary shared by scenario files, the API, CSV, pages and drills (close to C-MIST).

C-MIST is the framework emergency managers use for access and functional needs: Communication,
Maintaining health, Independence, Support and safety, Transportation. A need is one of the words of
``Need``; anything else a household registers is kept as free text and shown to the driver, never
dropped. A word within a small edit distance of a known need (``oxigen``) is refused with the right
word suggested, because a misspelt ``oxygen`` silently kept as free text would send an oxygen user
to a shelter without power.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from matcher.errors import InputError


class Need(StrEnum):
    """A need the plan acts on (or, for communication needs, tells the driver and messages about)."""

    OXYGEN = "oxygen"
    POWER_DEPENDENT = "power_dependent"
    DIALYSIS = "dialysis"
    ATTENDANT = "attendant"
    SERVICE_ANIMAL = "service_animal"
    CANNOT_SHARE = "cannot_share"
    STRETCHER = "stretcher"
    HEARING = "hearing"
    VISION = "vision"
    COGNITIVE = "cognitive"


@dataclass(frozen=True)
class NeedInfo:
    """What a need means, its C-MIST category, and what the plan does about it."""

    label: str
    category: str
    rule: str


NEEDS: dict[Need, NeedInfo] = {
    Need.OXYGEN: NeedInfo("uses oxygen", "Maintaining health",
                          "only to shelters with medical support; shorter time on board"),
    Need.POWER_DEPENDENT: NeedInfo("medical device on mains power", "Maintaining health",
                                   "only to shelters with medical support; shorter time on board"),
    Need.DIALYSIS: NeedInfo("on dialysis", "Maintaining health",
                            "only to shelters with medical support; shorter time on board"),
    Need.ATTENDANT: NeedInfo("a caregiver rides along (counted in people)", "Independence",
                             "the caregiver takes a seat like anyone in the household"),
    Need.SERVICE_ANIMAL: NeedInfo("has a service animal", "Independence",
                                  "goes in any car and to any shelter; takes no pet seat"),
    Need.CANNOT_SHARE: NeedInfo("must ride without other households", "Support and safety",
                                "never pooled with another household"),
    Need.STRETCHER: NeedInfo("cannot sit: needs a stretcher", "Transportation",
                             "not routed: a volunteer car cannot carry a stretcher; call an ambulance"),
    Need.HEARING: NeedInfo("deaf or hard of hearing", "Communication",
                           "shown to the driver; messages by text"),
    Need.VISION: NeedInfo("blind or low vision", "Communication",
                          "shown to the driver: come to the door"),
    Need.COGNITIVE: NeedInfo("cognitive disability or dementia", "Communication",
                             "shown to the driver: explain calmly, one step at a time"),
}

#: Needs that require a shelter with medical support (power and staff) and a shorter time on board.
MEDICAL: frozenset[Need] = frozenset({Need.OXYGEN, Need.POWER_DEPENDENT, Need.DIALYSIS})

#: A word this close (edit distance) to a known need is taken for a misspelling and refused.
NEAR_MISS_DISTANCE = 2
#: Words shorter than this are compared with distance 1 only: two edits turn most short words into others.
SHORT_WORD = 6


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count once): ``oxigen`` -> ``oxygen`` is 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _normal(word: str) -> str:
    """``Power dependent`` and ``power-dependent`` are ``power_dependent``."""
    return "_".join(word.strip().lower().replace("-", " ").split())


def suggestion(word: str) -> Need | None:
    """The known need a word is a near miss of, or ``None`` when it is known or free text."""
    normal = _normal(word)
    if normal in Need.__members__.values():
        return None
    best: tuple[int, Need] | None = None
    for need in Need:
        limit = NEAR_MISS_DISTANCE if min(len(normal), len(need.value)) >= SHORT_WORD else 1
        distance = edit_distance(normal, need.value)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, need)
    return None if best is None else best[1]


def parse_needs(values: Iterable[str], record: str, field: str = "needs") -> tuple[str, ...]:
    """Known needs in their canonical spelling, free text as given (trimmed), duplicates dropped.

    Raises ``InputError(record, field, ...)`` for a word that is a near miss of a known need, with the
    right word in the message, and for anything that is not text.
    """
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InputError(record, field, f"{value!r} is not a word (needs are text, e.g. {Need.OXYGEN.value!r})")
        text = value.strip()
        if not text:
            continue
        normal = _normal(text)
        if normal in Need.__members__.values():
            text = normal
        else:
            near = suggestion(text)
            if near is not None:
                raise InputError(record, field, f"unknown need {value!r}: did you mean {near.value!r}? "
                                 f"Known needs: {', '.join(n.value for n in Need)}; other needs are kept as "
                                 "free text when they are not a near miss of these")
        if text not in out:
            out.append(text)
    return tuple(out)


#: The vocabulary by value, built once: ``known`` runs for every household in every solve (400,000 calls when a
#: 10,000-household region splits shelter room), and iterating the enum each time cost seconds.
_BY_VALUE: dict[str, Need] = {n.value: n for n in Need}


def known(needs: Iterable[str]) -> frozenset[Need]:
    """The needs of the vocabulary among ``needs`` (already parsed)."""
    return frozenset(_BY_VALUE[n] for n in needs if n in _BY_VALUE)


def other(needs: Iterable[str]) -> tuple[str, ...]:
    """Free-text needs: shown to the driver as given."""
    return tuple(n for n in needs if n not in _BY_VALUE)


#: How a registration form asks for each need: grouped by C-MIST category, in the asker's words.
FORM_WORDS: dict[Need, str] = {
    Need.OXYGEN: "Uses oxygen",
    Need.POWER_DEPENDENT: "Depends on a medical device that needs mains power",
    Need.DIALYSIS: "Needs dialysis",
    Need.STRETCHER: "Cannot sit: must lie down (needs an ambulance)",
    Need.ATTENDANT: "A caregiver comes along (count them in people)",
    Need.SERVICE_ANIMAL: "Has a service animal, such as a guide dog (not counted as a pet)",
    Need.CANNOT_SHARE: "Must ride without other households",
    Need.HEARING: "Deaf or hard of hearing",
    Need.VISION: "Blind or partially sighted",
    Need.COGNITIVE: "Memory or understanding difficulties (for example dementia)",
}


def need_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """``(category, [(need, form words), ...])`` in C-MIST order, for forms."""
    order = ["Maintaining health", "Transportation", "Independence", "Support and safety", "Communication"]
    groups: dict[str, list[tuple[str, str]]] = {c: [] for c in order}
    for need in Need:
        groups[NEEDS[need].category].append((need.value, FORM_WORDS[need]))
    return [(c, items) for c, items in groups.items() if items]


def describe(needs: Iterable[str]) -> list[str]:
    """Each need in words a driver understands (free text as given)."""
    values = {n.value: n for n in Need}
    return [NEEDS[values[n]].label if n in values else n for n in needs]


# --- languages ----------------------------------------------------------------------------------------------


def parse_language(code: str, record: str, field: str = "language") -> str:
    """An ISO 639 language code (``fi``, ``sv``, ``fin``; a region such as ``en-GB`` is kept), lower-cased.

    Empty stays empty (not known). Raises ``InputError`` naming the record and field when it is not a code.
    """
    import pycountry  # a data package: loaded on first use, not at import

    if not isinstance(code, str):
        raise InputError(record, field, f"{code!r} is not a language code")
    text = code.strip()
    if not text:
        return ""
    base, _, region = text.replace("_", "-").partition("-")
    base = base.lower()
    found = None
    if len(base) == 2:
        found = pycountry.languages.get(alpha_2=base)
    elif len(base) == 3:
        found = pycountry.languages.get(alpha_3=base)
    if found is None or (region and not (region.isalpha() and len(region) == 2)):
        raise InputError(record, field, f"{code!r} is not a language code: use ISO 639 codes such as 'fi', 'sv', "
                         "'en' (a region is optional: 'en-GB')")
    return base + (f"-{region.upper()}" if region else "")


def parse_languages(codes: Iterable[str], record: str, field: str = "languages") -> tuple[str, ...]:
    """Each code checked by ``parse_language``; duplicates and empties dropped."""
    if isinstance(codes, str):
        raise InputError(record, field, "must be a list of language codes, e.g. ['fi', 'sv']")
    out: list[str] = []
    for code in codes:
        parsed = parse_language(code, record, field)
        if parsed and parsed not in out:
            out.append(parsed)
    return tuple(out)


def speaks(languages: Iterable[str], language: str) -> bool:
    """Whether someone speaking ``languages`` speaks ``language`` (regions ignored: ``en-GB`` speaks ``en``)."""
    want = language.split("-")[0]
    return bool(want) and any(lang.split("-")[0] == want for lang in languages)
