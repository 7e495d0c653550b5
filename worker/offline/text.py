"""Preparing a message: quoted text masked (a quoted title never reads as a command and comes back
verbatim), polite openings and closings dropped, slots and titles in the user's own words."""

import re


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


_QUOTES = {  # opening -> closing
    '"': '"', "“": "”", "”": "”", "„": "“", "‘": "’", "'": "'", "«": "»", "「": "」", "『": "』", "`": "`",
}  # fmt: skip
_OPEN = re.compile(r"(?:(?<=^)|(?<=[\s(\[{:,;—–-]))([" + "".join(_QUOTES) + r"])")
MASK = re.compile(r"\ue000(\d+)\ue001")


class Text:
    """A message with its quoted parts masked as \\ue000N\\ue001 placeholders."""

    def __init__(self, message: str) -> None:
        self.quotes: list[str] = []
        lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line) for line in message.splitlines()]
        message = "; ".join(line.strip() for line in lines if line.strip())
        text, out, pos = re.sub(r"(?<=\w)[’‘](?=\w)", "'", clean(message)), [], 0
        while m := _OPEN.search(text, pos):
            close = _QUOTES[m.group(1)]
            end = next(
                (
                    i
                    for i in range(m.end() + 1, len(text))
                    if text[i] == close and (i + 1 == len(text) or not text[i + 1].isalnum())
                ),
                None,
            )
            if end is None:
                break
            out.append(text[pos : m.start()])
            out.append(f"\ue000{len(self.quotes)}\ue001")
            self.quotes.append(text[m.end() : end].strip())
            pos = end + 1
        out.append(text[pos:])
        self.masked = "".join(out)

    def unmask(self, fragment: str) -> str:
        return MASK.sub(lambda m: self.quotes[int(m.group(1))], fragment)

    def only_quote(self, fragment: str) -> str | None:
        """The quoted text when the fragment is nothing but one quote (titles keep their exact text)."""
        m = MASK.fullmatch(fragment.strip(" .!?,;:"))
        return self.quotes[int(m.group(1))] if m else None


_OPENING = re.compile(
    r"^(?:(?:(?:hey|hi|hello|yo|ok|okay|oh|oops|so|also|and|then|actually|alright|all right|now|please|pls|"
    r"plz|yes|yeah|yep|kindly|btw|fyi|by the way|one more thing|hey there|good (?:morning|afternoon|"
    r"evening)|quick update|(?:i\s+)?(?:just\s+)?(?:wanted|want) to (?:let you know|tell you|say)(?: that)?|"
    r"just so you know(?: that)?|guess what)\b[,!.:]*|(?:well|right|great|cool|perfect|nice|thanks|"
    r"thank you|sorry|hmm|um|uh|wait|no|sure|quick one|ah|whoops)[,!.:]+)\s*)+",
    re.I,
)
POLITE_REQUEST = re.compile(
    r"^(?:(?:can|could|would|will) (?:you|u)(?: please| kindly| just)?|please|kindly|just|i'?d like you to|"
    r"i want you to|i need you to|go ahead and|let'?s|quickly|also|you can|you may|feel free to|i (?:was|"
    r"am) wondering if you could|i wonder if you could|would you mind|do you mind)\s+",
    re.I,
)
_CLOSING = re.compile(
    r"(?:[\s,.!]+(?:please|pls|thanks|thank you|thx|for me|right now|now|ok|okay|real quick|if you can|"
    r"if possible|when you can|cheers|:\)|🙏|🙂|😊)(?!\w)|,\s*(?:right|correct|isn't it|is it|aren't they|"
    r"didn't i|haven't i)\b)+[\s.!?]*$",
    re.I,
)


def strip_polite(text: str) -> str:
    text = text.strip()
    while True:
        before = text
        text = _OPENING.sub("", text)
        text = POLITE_REQUEST.sub("", text)
        text = _CLOSING.sub("", text).strip()
        if text == before:
            return text.strip(" ,")


def _sentence_case(title: str) -> str:
    title = clean(title).strip(" ,;:")
    title = re.sub(r"[.!?]+$", "", title).strip()
    if title[:1].isascii() and title[:1].islower():
        title = title[:1].upper() + title[1:]
    return title


def slot_text(text: Text, fragment: str) -> str:
    """A description or new title: verbatim when quoted, otherwise the words as written."""
    quoted = text.only_quote(fragment)
    if quoted is not None:
        return quoted
    return clean(text.unmask(fragment)).strip(" ,;:").rstrip(".!?").strip()


def title_text(text: Text, fragment: str) -> str:
    quoted = text.only_quote(fragment)
    if quoted is not None:
        return quoted
    return _sentence_case(text.unmask(fragment))
