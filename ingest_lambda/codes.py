"""What a file's own codes say: the quality of a read and the direction of energy.

Quality codes (the ``quality`` column role), compared case-insensitively after trimming:

| code in the file | quality |
|---|---|
| ``R``, ``A``, ``M``, ``L1``, measured, actual, real, read, valid, Messwert, gemessen, wahrer Wert, abgelesen, real/lectura real, misurato, gemeten | measured |
| ``E``, ``S``, ``L2``, ``L3``, estimated, estimate, substituted, substitute, calculated, interpolated, Ersatzwert, geschätzt, vorläufig(er Wert), Vorschlagswert, Prognosewert, estimada, estimado, stimato, stimata, geschat | estimated |
| missing, no data, fehlt, Fehlwert, nicht verwendbar, faltante, mancante, ontbreekt | missing |

The German words are the meter-value statuses of the market communication (wahrer Wert,
Ersatzwert, Vorschlagswert, vorläufiger Wert, nicht verwendbar). Any other code (a
portal's one-letter ``W``, say) is unknown until ``--quality-code W=measured`` (source
configuration: ``"quality_codes": {"W": "measured"}``) says what it means.

A column named for estimates (``Estimated``, ``Is estimated``, ``geschätzt``, ``Estimada``…)
often holds yes/no flags: there ``Y``/yes/true/1/J/Ja/Sí mean estimated and
``N``/no/false/0/Nein mean measured, and other codes read by the table. A bare ``N`` is
never read as missing: it is "no" far more often than "no data", and reading a measured
value as missing would drop its energy (a day of real readings landing as 0 kWh).

``R``/``E`` is the Spanish distributors' ``Metodo_obtencion`` (real/estimated), ``A``/``E``
the North American actual/estimated flag, and ``L1``/``L2``/``L3`` the Austrian smart-meter
portals' levels (L1 a measured value, L2 a substitute value, L3 a provisional one). A
code outside the table quarantines its row with the code quoted: a wrong guess would
let estimates trigger anomaly flags, or hide real ones.

Direction words (the ``flow`` column role): a cell is import when it holds one of the
import words and none of the export words, and the other way round; tariff registers
(day/night, peak/off-peak, T1/T2) of one direction add up into that direction.
"""

from __future__ import annotations

import re
import unicodedata

MEASURED = (
    "r",
    "a",
    "m",
    "l1",
    "measured",
    "actual",
    "real",
    "read",
    "valid",
    "messwert",
    "gemessen",
    "wahrer wert",
    "abgelesen",
    "lectura real",
    "misurato",
    "misurata",
    "gemeten",
    "mesure",
    "mesuree",
)
ESTIMATED = (
    "e",
    "s",
    "l2",
    "l3",
    "estimated",
    "estimate",
    "substituted",
    "substitute",
    "calculated",
    "interpolated",
    "ersatzwert",
    "geschatzt",
    "geschaetzt",
    "vorlaufig",
    "vorlaeufig",
    "vorlaufiger wert",
    "vorlaeufiger wert",
    "vorschlagswert",
    "prognosewert",
    "estimada",
    "estimado",
    "stimato",
    "stimata",
    "geschat",
    "estime",
    "estimee",
)
MISSING = ("missing", "no data", "fehlt", "fehlwert", "nicht verwendbar", "faltante", "mancante", "ontbreekt", "manquant")
QUALITY_BY_CODE = {**{c: "measured" for c in MEASURED}, **{c: "estimated" for c in ESTIMATED}, **{c: "missing" for c in MISSING}}

IMPORT_WORDS = (
    "offtake",
    "consumption",
    "delivered",
    "import",
    "bezug",
    "netzbezug",
    "verbrauch",
    "prelevement",
    "consumo",
    "afname",
    "levering",
    "prelievo",
    "from grid",
    "purchased",
)
EXPORT_WORDS = (
    "injection",
    "injectie",
    "feed-in",
    "feed in",
    "feedin",
    "received",
    "export",
    "einspeisung",
    "produccion",
    "immissione",
    "teruglevering",
    "to grid",
    "generation",
    "surplus",
    "returned",
)


def fold(text: str) -> str:
    """Lower case with accents removed, spaces collapsed."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", plain).strip()


# yes/no flags, in a column named for estimates (estimate_flag_of)
YES = ("y", "yes", "true", "t", "1", "j", "ja", "si", "oui")
NO = ("n", "no", "false", "f", "0", "nein", "non")
# header words of an estimate flag column, folded (accents removed)
ESTIMATE_FLAG_HEADERS = ("estimat", "geschatzt", "geschaetzt", "geschat", "stimat", "estime", "substitut", "ersatz")


def quality_reader(header: str | None, given: dict[str, str] | None = None):
    """How the codes of the quality column named ``header`` read: first the codes the user
    gave (``--quality-code W=measured``, compared folded), then estimate_flag_of for a
    column named for estimates, else quality_of."""
    plain = fold(header or "")
    read = estimate_flag_of if any(word in plain for word in ESTIMATE_FLAG_HEADERS) else quality_of
    if not given:
        return read
    mapped = {fold(code): quality for code, quality in given.items()}

    def read_given(code: str | None) -> tuple[str | None, str | None]:
        quality = mapped.get(fold(code or ""))
        return (quality, None) if quality else read(code)

    return read_given


def estimate_flag_of(code: str | None) -> tuple[str | None, str | None]:
    """(quality, error) of one cell of an estimate flag column: yes is estimated, no is
    measured (a blank too); any other code reads as quality_of reads it."""
    plain = fold(code or "")
    if plain in YES:
        return "estimated", None
    if plain in NO:
        return "measured", None
    return quality_of(code)


def quality_of(code: str | None) -> tuple[str | None, str | None]:
    """(quality, error) of one quality code; a blank code is a measured read."""
    if code is None or not code.strip():
        return "measured", None
    quality = QUALITY_BY_CODE.get(fold(code))
    if quality is None:
        return None, (
            f"quality code '{code.strip()[:40]}' is unknown (known: R/A/M/L1 measured, E/S/L2/L3 estimated, missing; "
            "Y/N only in a column named for estimates): say what it means with --quality-code CODE=measured, estimated or missing"
        )
    return quality, None


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}", text) is not None


def flow_of(text: str | None) -> tuple[str | None, str | None]:
    """(flow, error) of one direction cell (``Offtake day``, ``Einspeisung HT``…)."""
    plain = fold(text or "")
    if not plain:
        return None, "missing energy direction"
    is_import = any(_has_word(plain, w) for w in IMPORT_WORDS)
    is_export = any(_has_word(plain, w) for w in EXPORT_WORDS)
    if is_import != is_export:
        return ("import" if is_import else "export"), None
    return None, (
        f"energy direction '{text.strip()[:40]}' is not recognised (import: offtake, consumption, "
        "delivered, Bezug…; export: injection, feed-in, received, Einspeisung…)"
    )
