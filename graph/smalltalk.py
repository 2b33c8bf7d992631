"""Recognises messages that are only a greeting, thanks or goodbye, so they never reach staff."""

from __future__ import annotations

import re
import unicodedata

GREETING, THANKS, GOODBYE = "greeting", "thanks", "goodbye"

# Phrases per kind, several languages (en, es, de, fr, pt); matched on folded text (no accents).
_PHRASES: dict[str, tuple[str, ...]] = {
    THANKS: (
        "thank you so much",
        "thank you very much",
        "thanks a lot",
        "thanks so much",
        "many thanks",
        "thank you",
        "thanks",
        "thankyou",
        "thx",
        "ty",
        "cheers",
        "much appreciated",
        "appreciate it",
        "i appreciate it",
        "that worked",
        "that works",
        "it worked",
        "it works",
        "it works now",
        "that fixed it",
        "that did it",
        "that did the trick",
        "that helped",
        "that helps",
        "this helped",
        "problem solved",
        "all sorted",
        "sorted",
        "solved",
        "fixed it",
        "got it working",
        "all good now",
        "all good",
        "got it",
        "gracias",
        "muchas gracias",
        "funciono",
        "ya funciona",
        "danke",
        "danke schon",
        "vielen dank",
        "es hat funktioniert",
        "funktioniert",
        "merci",
        "merci beaucoup",
        "ca marche",
        "ca a marche",
        "obrigado",
        "obrigada",
        "muito obrigado",
        "muito obrigada",
        "funcionou",
    ),
    GOODBYE: (
        "goodbye",
        "good bye",
        "bye",
        "bye bye",
        "see you",
        "see ya",
        "see you later",
        "have a nice day",
        "have a good day",
        "have a great day",
        "good night",
        "goodnight",
        "adios",
        "hasta luego",
        "tschuss",
        "auf wiedersehen",
        "au revoir",
        "a bientot",
        "tchau",
        "ate logo",
    ),
    GREETING: (
        "hello",
        "hi",
        "hey",
        "heya",
        "hiya",
        "howdy",
        "yo",
        "greetings",
        "good morning",
        "good afternoon",
        "good evening",
        "morning",
        "hey there",
        "hi there",
        "hello there",
        "how are you",
        "how are you doing",
        "how is it going",
        "hows it going",
        "how are things",
        "whats up",
        "sup",
        "anyone there",
        "is anyone there",
        "anybody there",
        "hola",
        "buenos dias",
        "buenas tardes",
        "buenas noches",
        "que tal",
        "como estas",
        "hallo",
        "guten morgen",
        "guten tag",
        "guten abend",
        "servus",
        "moin",
        "wie gehts",
        "bonjour",
        "bonsoir",
        "salut",
        "coucou",
        "ca va",
        "ola",
        "oi",
        "bom dia",
        "boa tarde",
        "boa noite",
        "tudo bem",
    ),
}
# Words that may sit around the phrases without making it a question ("hi team", "thanks again!").
_FILLER = frozenset(
    "bot deskhand there everyone all team folks guys again so much very a lot lots ok okay "  # noqa: SIM905
    "great awesome perfect nice cool brilliant excellent wonderful amazing super now oh ah "
    "yes yeah yep that it this was for the help your you and just really me to todos equipo "
    "genial perfecto vale alle super toll prima tout le monde parfait genial tudo otimo "
    "perfeito".split()
)
# "thanks, but it still doesn't work" is not a resolution.
_NEGATION = re.compile(
    r"\b(but|still|not|no|didn'?t|doesn'?t|don'?t|isn'?t|won'?t|can'?t|cannot|never|however|"
    r"pero|aber|mais|mas|nicht|pas)\b"
)
_ORDER = (THANKS, GOODBYE, GREETING)


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces ("¡Qué tal!" -> "que tal")."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("'", "").replace("\u2019", "")
    return re.sub(r"[^\w]+", " ", text).strip()


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b")


_PATTERNS = {kind: _pattern(phrases) for kind, phrases in _PHRASES.items()}


def small_talk_kind(text: str) -> str:
    """'greeting', 'thanks', 'goodbye', or '' when the message carries anything more."""
    folded = fold(text)
    if not folded or len(folded.split()) > 12 or _NEGATION.search(folded):
        return ""
    found: list[str] = []
    rest = folded
    for kind in _ORDER:
        rest, hits = _PATTERNS[kind].subn(" ", rest)
        if hits:
            found.append(kind)
    if not found:
        return ""
    leftover = [w for w in rest.split() if w not in _FILLER]
    return "" if leftover else found[0]
