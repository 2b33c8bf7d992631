"""Offline language guess for short chat messages (en, es, de, fr, pt) from common words and letters.

Chat questions are short, so a statistical detector has little to go on; function words and
accented letters settle most cases. Anything unclear counts as English, the knowledge base's
language, so a mis-guess never hides an answer.
"""

from __future__ import annotations

import re

SUPPORTED = ("en", "es", "de", "fr", "pt")
NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French", "pt": "Portuguese"}
_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the is are and to of my i you how what can do does it in on for with not "
        "this that have why where when please help thanks hi hello",
        "es": "el la los las es son y de mi mis yo tu como cómo qué que puedo puede hacer "
        "por para con no esto eso tengo hola gracias ayuda cuenta contraseña dónde cuándo "
        "está estoy necesito quiero una un del al pedido",
        "de": "der die das ist sind und zu von mein meine ich du wie was kann können "
        "nicht mit für auf ein eine einen habe hallo danke hilfe konto passwort warum wo "
        "wann bitte ich möchte mich mir bestellung",
        "fr": "le la les est sont et de du des mon ma mes je tu vous comment quoi peux "
        "pouvez faire pas avec pour sur un une ai bonjour merci aide compte mot passe "
        "pourquoi où quand s'il plaît commande",
        "pt": "o a os as é são e de do da meu minha eu você como que posso pode fazer "
        "não com para por um uma tenho olá obrigado obrigada ajuda conta senha onde quando "
        "está estou preciso quero pedido",
    }.items()
}
_LETTERS = {
    "es": re.compile(r"[ñ¿¡]"),
    "de": re.compile(r"[äöüß]"),
    "fr": re.compile(r"[èêëàâîôûç]|\b[cdjlmnst]'", re.IGNORECASE),
    "pt": re.compile(r"[ãõ]|ção\b"),
}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def detect_language(text: str) -> str:
    """ISO 639-1 code of the likeliest supported language; 'en' when unsure."""
    words = {w.lower() for w in _TOKEN.findall(text)}
    if not words:
        return "en"
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    needed = 1 if len(words) <= 2 else 2
    for lang, pattern in _LETTERS.items():
        scores[lang] += 2 * len(pattern.findall(text.lower()))
    best = max(SUPPORTED, key=lambda lang: (scores[lang], lang == "en"))
    if best == "en" or scores[best] < needed or scores[best] <= scores["en"]:
        return "en"
    return best
