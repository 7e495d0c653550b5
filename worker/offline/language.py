"""Intent recognition and slot extraction: one user message -> a list of intents.

A message is prepared first: quoted text is masked (so that a quoted title never reads as a command
and comes back verbatim), polite openings and closings are dropped. The message is then split into
clauses when it holds several commands ("delete X and add Y"), and each clause is matched against a
small grammar per intent, tried in a fixed order (help, updates, adds, bulk changes, deletions, a single
task's details, listing, completion). Slots keep the user's own words; matching them against the
tasks is `resolve`'s job.
"""

import dataclasses
import re
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------
# Vocabulary

ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1, "latest": -1, "final": -1, "top": 1,
    "bottom": -1, "second to last": -2, "second-to-last": -2, "penultimate": -2,
}  # fmt: skip
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, **{str(n): n for n in range(2, 10)}}
ORDINAL_WORDS = "|".join(sorted((re.escape(w) for w in ORDINALS), key=len, reverse=True))

# Verbs that start an everyday task ("buy milk", "call mom"): used to tell "buy milk and walk the dog"
# (two tasks) from "buy bread and butter" (one), and to take a bare "call mom" as a task to add.
TASK_VERBS = set(
    """
    apply arrange ask attend back bake bathe book bring brush build buy call cancel celebrate change charge
    check clean clear collect compare confirm cook cut declutter deliver do donate download draft drink
    drive drop dust eat email empty exercise feed fetch file fill finalize find finish fix fold follow get
    give go grab grill hang help hire hoover host install invite iron join learn leave mail make meet mend
    message mop move mow order organise organize pack paint pay phone pick plan plant polish post practice
    practise prep prepare print prune publish put rake read recycle refill register remember renew rent
    repair replace reply reschedule research reserve respond return review ring rinse run scan schedule see
    sell send set sew shop shovel sign sort start study submit sweep take talk tell text thank tidy trim
    unpack update upload vacuum visit vote walk wash watch water weed work wrap write
    """.split()
)

# Past tenses and participles that do not end in -ed: "I fed the cat", "the letter is written".
IRREGULAR = {
    "ate": "eat", "eaten": "eat", "began": "begin", "begun": "begin", "bought": "buy", "brought": "bring",
    "built": "build", "caught": "catch", "chose": "choose", "chosen": "choose", "did": "do", "done": "do",
    "drew": "draw", "drawn": "draw", "drank": "drink", "drove": "drive", "driven": "drive", "fed": "feed",
    "felt": "feel", "fought": "fight", "found": "find", "flew": "fly", "flown": "fly", "forgot": "forget",
    "froze": "freeze", "gave": "give", "given": "give", "got": "get", "gotten": "get", "went": "go",
    "gone": "go", "grew": "grow", "grown": "grow", "had": "have", "heard": "hear", "held": "hold",
    "hid": "hide", "hung": "hang", "kept": "keep", "knew": "know", "laid": "lay", "led": "lead",
    "left": "leave", "lent": "lend", "lost": "lose", "made": "make", "met": "meet", "mown": "mow",
    "paid": "pay", "ran": "run", "rang": "ring", "rode": "ride", "said": "say", "sang": "sing", "sat": "sit",
    "saw": "see", "seen": "see", "sent": "send", "sewn": "sew", "shook": "shake", "shot": "shoot",
    "shown": "show", "slept": "sleep", "sold": "sell", "sought": "seek", "spent": "spend", "spoke": "speak",
    "spoken": "speak", "stood": "stand", "stuck": "stick", "swam": "swim", "swept": "sweep",
    "taught": "teach", "took": "take", "taken": "take", "thought": "think", "threw": "throw",
    "thrown": "throw", "told": "tell", "tore": "tear", "torn": "tear", "understood": "understand",
    "woke": "wake", "wore": "wear", "worn": "wear", "won": "win", "wrote": "write", "written": "write",
}  # fmt: skip
# Words ending in -ed that are not past tenses.
NOT_PAST = {"need", "feed", "seed", "speed", "weed", "bleed", "breed", "bed", "red", "shed", "wed", "embed"}
# Taken as already past when they follow "I": "I read chapter 3", "I put the bins out".
SAME_PAST = {"read", "put", "set", "cut", "hit", "let", "shut", "quit", "cost", "spread", "split"}

STATUS_DONE = (
    r"(?:done|complete|completed|finished|checked(?: off)?|ticked(?: off)?|crossed off|accomplished)"
)

# --------------------------------------------------------------------------------------------
# Data


@dataclass
class Ref:
    """A reference to tasks: by id, by position in the last list, by pronoun, or by title words."""

    task_id: int | None = None
    ordinal: int | None = None
    pronoun: bool = False  # "it", "that one": the task the conversation last touched
    plural: bool = False  # "them", "both": the tasks the conversation last showed or touched
    newest: bool = False  # "the last task I added"
    query: str = ""

    @property
    def empty(self) -> bool:
        return self == Ref()


@dataclass
class Intent:
    # add | list | show | complete | delete | update | reopen | complete_all | delete_all | undo | help | chat
    kind: str
    title: str | None = None
    description: str | None = None
    status: str = "all"
    ref: Ref = field(default_factory=Ref)
    keep: list[Ref] = field(default_factory=list)  # "all … except the first one"
    guessed: bool = False  # read from a bare phrase ("call dad"): may instead answer a question back


# --------------------------------------------------------------------------------------------
# Preparing the text: quotes, polite openings


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“", "‘": "’", "'": "'", "«": "»", "「": "」", "『": "』", "`": "`"}  # fmt: skip
_OPEN = re.compile(r"(?:(?<=^)|(?<=[\s(\[{:,;—–-]))([" + "".join(_QUOTES) + r"])")
_MASK = re.compile(r"\ue000(\d+)\ue001")


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
        return _MASK.sub(lambda m: self.quotes[int(m.group(1))], fragment)

    def only_quote(self, fragment: str) -> str | None:
        """The quoted text when the fragment is nothing but one quote (titles keep their exact text)."""
        m = _MASK.fullmatch(fragment.strip(" .!?,;:"))
        return self.quotes[int(m.group(1))] if m else None


_OPENING = re.compile(
    r"^(?:(?:(?:hey|hi|hello|yo|ok|okay|oh|oops|so|also|and|then|actually|alright|all right|now|please|pls|plz|yes|yeah|yep|"
    r"kindly|btw|fyi|by the way|one more thing|hey there|good (?:morning|afternoon|evening)|quick update|"
    r"(?:i\s+)?(?:just\s+)?(?:wanted|want) to (?:let you know|tell you|say)(?: that)?|just so you know(?: that)?|"
    r"guess what)\b[,!.:]*"
    r"|(?:well|right|great|cool|perfect|nice|thanks|thank you|sorry|hmm|um|uh|wait|no|sure|"
    r"quick one|ah|whoops)[,!.:]+)\s*)+",
    re.I,
)
_ASKING = re.compile(
    r"^(?:(?:can|could|would|will) (?:you|u)(?: please| kindly| just)?|please|kindly|just|i'?d like you to|"
    r"i want you to|i need you to|go ahead and|let'?s|quickly|also)\s+",
    re.I,
)
_CLOSING = re.compile(
    r"(?:[\s,.!]+(?:please|pls|thanks|thank you|thx|for me|asap|right now|now|ok|okay|real quick|if you can|"
    r"if possible|when you can|cheers|:\)|🙏|🙂|😊)(?!\w))+[\s.!?]*$",
    re.I,
)


def strip_polite(text: str) -> str:
    text = text.strip()
    while True:
        before = text
        text = _OPENING.sub("", text)
        text = _ASKING.sub("", text)
        text = _CLOSING.sub("", text).strip()
        if text == before:
            return text.strip(" ,")


def _sentence_case(title: str) -> str:
    title = clean(title).strip(" ,;:")
    title = re.sub(r"[.!?]+$", "", title).strip()
    if title[:1].isascii() and title[:1].islower():
        title = title[:1].upper() + title[1:]
    return title


def _slot(text: Text, fragment: str) -> str:
    """A description or new title: verbatim when quoted, otherwise the words as written."""
    quoted = text.only_quote(fragment)
    if quoted is not None:
        return quoted
    return clean(text.unmask(fragment)).strip(" ,;:").rstrip(".!?").strip()


def _title(text: Text, fragment: str) -> str:
    quoted = text.only_quote(fragment)
    if quoted is not None:
        return quoted
    return _sentence_case(text.unmask(fragment))


# --------------------------------------------------------------------------------------------
# Task references


_PRONOUN = re.compile(
    r"(?:it|its|that|this|that one|this one|the one|that task|this task|the task|that item|this item|that todo|"
    r"the same(?: one| task)?|the (?:new|latest|last|newest) (?:one|task)|(?:the )?(?:one|task|thing) (?:i|you|we) "
    r"just (?:added|created|made|mentioned|did|finished|completed|changed|renamed|updated)|what i just added|"
    r"the above|said task)",
    re.I,
)
_PLURAL = re.compile(
    r"(?:them|those|these|both|both of them|all of them|them all|them both|all three|all those|all these|"
    r"those (?:tasks|ones|items)|these (?:tasks|ones|items)|the two|the three|all (?:of )?(?:those|these))",
    re.I,
)
_IDS = re.compile(
    r"(?:\b(?:tasks?|items?|to-?dos?|numbers?|nos?\.?|ids?)\s*#?\s*|#\s*)(\d+)\b"
    r"((?:\s*(?:,|and|&|or)\s*(?:(?:tasks?|items?|numbers?|nos?\.?|ids?)\s*)?#?\s*\d+\b)*)",
    re.I,
)


def parse_refs(text: Text, phrase: str) -> list[Ref]:
    """One reference, or several for "tasks 3 and 5"."""
    phrase = clean(phrase).strip(" .!?,;:")
    if m := _IDS.search(phrase):
        return [Ref(task_id=int(n)) for n in re.findall(r"\d+", m.group(1) + " " + m.group(2))]
    if re.fullmatch(r"#?\d+(?:\s*(?:,|and|&)\s*#?\d+)*", phrase):
        return [Ref(task_id=int(n)) for n in re.findall(r"\d+", phrase)]
    if re.fullmatch(r"\ue000\d+\ue001(?:\s*(?:,|and|&)\s*\ue000\d+\ue001)+", phrase):  # 'a' and 'b'
        return [Ref(query=text.quotes[int(n)]) for n in _MASK.findall(phrase)]
    low = phrase.lower()
    if m := re.fullmatch(
        r"(?:the\s+)?(first|last|top|bottom)\s+(two|three|four|five|[2-9])(?:\s+(?:ones|tasks|items|todos))?",
        low,
    ):
        count = NUMBERS[m.group(2)]
        positions = range(1, count + 1) if m.group(1) in ("first", "top") else range(-count, 0)
        return [Ref(ordinal=n) for n in positions]
    parts = re.split(r"\s*(?:,|\band\b|&)\s*", phrase)
    if len(parts) > 1:  # "the first and the third one"
        refs = [parse_ref(text, p) for p in parts if p.strip()]
        if refs and all(r.ordinal is not None for r in refs):
            return refs
    return [parse_ref(text, phrase)]


def parse_ref(text: Text, phrase: str) -> Ref:
    phrase = clean(phrase).strip(" .!?,;:")
    if m := _IDS.search(phrase):
        return Ref(task_id=int(m.group(1)))
    if re.fullmatch(r"#?\d+", phrase):
        return Ref(task_id=int(phrase.lstrip("#")))
    if m := _MASK.search(phrase):
        return Ref(query=text.quotes[int(m.group(1))])
    low = phrase.lower()
    low = (
        re.sub(r"^(?:the|my|a|an|that|this|those|these)\s+(?=.)", "", low)
        if not _PRONOUN.fullmatch(low)
        else low
    )
    low = re.sub(r"\s+(?:as well|too|also|again|for me|for now)$", "", low)
    if m := re.fullmatch(
        rf"(?:the\s+)?({ORDINAL_WORDS})(?:\s+(?:one|task|item|todo|thing|entry)s?)?"
        r"(?:\s+(?:on|in|from|of)\s+(?:the|my|that|this)\s+(?:list|tasks|todos))?",
        low,
    ):
        return Ref(ordinal=ORDINALS[m.group(1)])
    if _PLURAL.fullmatch(low):
        return Ref(plural=True)
    if re.fullmatch(
        r"(?:the\s+)?(?:last|latest|newest|most recent|new)\s+(?:one|task|item|todo|thing)?\s*(?:(?:that\s+)?(?:i|you|we)\s+"
        r"(?:just\s+)?(?:added|created|made|put in))?|(?:the\s+)?(?:one|task|item|thing)\s+(?:i|you|we)\s+(?:added|created)"
        r"(?:\s+last)?",
        low,
    ) and re.search(r"\b(?:added|created|made|put in|newest|most recent)\b", low):
        return Ref(newest=True)
    if not low or _PRONOUN.fullmatch(low) or low in {"one", "task", "item"}:
        return Ref(pronoun=True)
    return Ref(query=_topic(text.unmask(phrase)))


def _topic(phrase: str) -> str:
    """'the task about skydiving' -> 'skydiving'; 'the gym task' -> 'gym'; 'the one for mom' -> 'mom'."""
    phrase = clean(phrase).strip(" .!?,;:")
    phrase = re.sub(r"^(?:the|my|a|an|that|this)\s+", "", phrase, flags=re.I)
    if m := re.match(
        r"^(?:(?:task|todo|to-do|item|one|reminder|entry|thing)s?\s+)?(?:about|for|called|named|titled|regarding|"
        r"re|on|that says|saying|with|to)\s+(.+)$",
        phrase,
        re.I,
    ):
        if m.group(0).lower() != phrase.lower() or re.match(
            r"^(?:task|todo|to-do|item|one|reminder)", phrase, re.I
        ):
            phrase = m.group(1)
    phrase = re.sub(r"^(?:the|my|a|an)\s+", "", phrase, flags=re.I)
    phrase = re.sub(r"\s+(?:task|todo|to-do|item|one|reminder|entry|thing)s?$", "", phrase, flags=re.I)
    return phrase.strip() or phrase


# --------------------------------------------------------------------------------------------
# Adding


_NEED_TO = r"(?:i\s+)?(?:really\s+|still\s+|also\s+)?(?:need to|have to|'ve got to|ve got to|have got to|got to|gotta|must|should|ought to|'ll need to|will need to|'ll have to|will have to)"
_ADD_LEAD = re.compile(
    r"^(?:"
    r"(?:add|adding|create|jot(?: down)?|note down|put down|write down)\b(?!\s+(?:all|every))"
    r"|set\s+(?:a\s+|an\s+)?(?:new\s+)?reminder\b"
    r"|(?:make|put|stick|pop|throw|insert|enter|log|save|record|write down|note|set up|schedule|start)\s+"
    r"(?:(?:a|an|the|another|one|new|this|these|two|three|\d+)\s+)*(?:new\s+)?(?:tasks?|todos?|to-dos?|notes?|"
    r"reminders?|entry|entries|items?)\b"
    r"|(?:put|stick|pop|throw|write|log|save|enter|insert)\b(?=.*\b(?:on|onto|to|in|into)\s+(?:my|the)\s+"
    r"(?:[\w-]+\s+)?(?:list|tasks|todos)\b)"
    r"|new\s+(?:task|todo|to-do|item|reminder|entry)s?\b"
    r"|(?:task|todo|to-do|reminder|new)s?\s*[:\-–—]"
    r"|remind me\b|(?:please\s+)?remember(?: to| that)?\b|note that\b|don'?t (?:let me )?forget\b|make sure (?:i|to)\b|"
    r"help me remember\b|i (?:want|would like|'d like|d like) to remember\b"
    r"|" + _NEED_TO + r"(?:\s|:)"
    r")",
    re.I,
)
_ADD_FILLER = re.compile(
    r"^(?:(?:add|adding|create|make|put(?: down)?|stick|pop|throw|insert|enter|log|save|record|jot(?: down)?|write down|note(?: down)?|"
    r"write|set up|set|schedule|start)(?:\s*:\s*|\s+|$))?"
    r"(?:(?:a|an|one|the|another|new|some|two|three|four|five|six|several|few|couple of|these|following|"
    r"this|quick|\d+)\b\s*)*"
    r"(?:(?:new\s+)?(?:tasks?|to-?dos?|to do|items?|reminders?|entry|entries|things?|notes?)\b\s*){0,2}"
    r"(?:(?:to|on|onto|in|into|for)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?list\s*)?"
    r"(?:called|named|titled|that says|saying|reading|to|for|about|of|:|-|–|—)?\s*(?:me\s+to\s+)?",
    re.I,
)
_REMIND_FILLER = re.compile(
    r"^(?:remind me|(?:please\s+)?remember|don'?t (?:let me )?forget|make sure|help me remember|note that|"
    r"i (?:want|would like|'d like|d like) to remember)\s*(?:(?:to|that|about|of)\b|:)?\s*"
    r"(?:i\s+(?:need to|have to|must|should|gotta|'ve got to|ought to)\s+|i\s+|to\s+)?",
    re.I,
)
_LIST_TAIL = re.compile(
    r"\s*(?:(?:to|on|onto|in|into|for)\s+(?:my|the|our|your)\s+(?:(?:todo|to-do|to do|task|tasks|shopping|"
    r"reminders?|daily|weekly)\s+)*(?:[\w-]+\s+)?(?:list|tasks|todos|to-dos|reminders)|as\s+(?:a\s+)?(?:new\s+)?"
    r"(?:task|todo|to-do|reminder|item))(?=$|[\s,.;!?])",
    re.I,
)
_DESCRIPTION = [
    r"\s*(?:[,;.]\s*|\s+[-–—]\s*|\s+)(?:and\s+|plus\s+)?(?:with|having|incl(?:uding)?)\s+(?:a\s+|the\s+|some\s+)?"
    r"(?:description|desc|details?|notes?|comment)\s*(?::|of|saying|that says|reading|being|=|-|–|—)?\s*",
    r"\s*(?:[,;.(]\s*|\s+[-–—]\s*|\s+)(?:description|desc|details?|notes?|comment)\s*(?::|=|-|–|—)\s*",
    r"\s*(?:[,;.]\s*|\s+)(?:and\s+)?(?:describe(?:d)?|describing)\s+(?:it|this|that)?\s*as\s+",
    r"\s*(?:[,;.]\s*|\s+)(?:and\s+)?(?:set|add|give it|put)\s+(?:the\s+|a\s+|its\s+)?(?:description|details|notes?)"
    r"\s*(?:to|as|of|:|saying)?\s*",
]
_COUNT = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|several|multiple|some|few|couple of|these|the following|"
    r"\d+)\s+(?:new\s+)?(?:tasks|todos|to-dos|items|things|reminders|entries)\b|\b(?:tasks|todos|items|these|"
    r"following)\s*:",
    re.I,
)


def _split_description(text: Text, body: str) -> tuple[str, str | None]:
    for pattern in _DESCRIPTION:
        if m := re.search(pattern + r"(.+?)\)?$", body, re.I):
            if m.start() > 0:
                return body[: m.start()], _slot(text, m.group(1))
    # "add 'Gym': leg day", "add call mom (her birthday)": details after the title
    if m := re.search(r"(\ue000\d+\ue001)\s*[:\-–—]\s*([^\ue000]+)$|\S\s*(\(([^()]{2,})\))$", body):
        if m.group(1):
            return body[: m.end(1)], _slot(text, m.group(2))
        return body[: m.start(3)], _slot(text, m.group(4))
    return body, None


def _starts_with_verb(phrase: str) -> bool:
    words = re.findall(r"[a-z']+", phrase.lower())
    return bool(words) and words[0] in TASK_VERBS


def _split_titles(body: str, listed: bool) -> list[str]:
    """'milk, eggs and bread' -> three; 'buy bread and butter' -> one; 'buy milk and walk the dog' -> two."""
    parts = [p for p in re.split(r"\s*(?:;|\n)\s*", body) if p.strip()]
    if len(parts) > 1:
        return [t for p in parts for t in _split_titles(p, listed)]
    body = re.sub(
        r"\s*,?\s*\b(?:and|&|plus)\s+(?:also\s+)?(?:another|one more|a second|a task|a todo|one)\s+"
        r"(?:(?:task|todo|one|reminder)\s+)?(?:to|for|called|:)\s+",
        ", ",
        body,
        flags=re.I,
    )
    body = re.sub(r"\s*,?\s*\band also\s+", ", ", body, flags=re.I)
    if "," in body:
        items = [i for i in re.split(r"\s*,\s*(?:and\s+|&\s+)?|\s+(?:and|&)\s+(?=[^,]*$)", body) if i.strip()]
        # "buy milk, eggs and bread": one verb for a list of things is one errand
        if not listed and _starts_with_verb(items[0]) and not any(_starts_with_verb(i) for i in items[1:]):
            if all(len(i.split()) <= 2 for i in items[1:]):
                return [body]
        return items
    halves = re.split(r"\s+(?:and|&)\s+", body)
    if len(halves) > 1 and (
        listed
        or all(_starts_with_verb(h) and len(h.split()) >= 2 for h in halves)
        or all(_MASK.fullmatch(h) for h in halves)
    ):
        return halves
    return [body]


_WHEN_PHRASE = (
    r"(?:on\s+|this\s+|next\s+)?(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"weekend|week|morning|evening|later)(?:\s+(?:morning|afternoon|evening|night|at\s+[\w:]+))?"
)


def _drop_lead(body: str) -> str:
    """ "remind me to X", "I need to X", "add a task called X" -> "X"."""
    if _REMIND_FILLER.match(body):
        return _REMIND_FILLER.sub("", body, count=1)
    if m := re.match(
        _NEED_TO + r"[\s:;]+(?:really\s+|also\s+|definitely\s+|still\s+|probably\s+)*", body, re.I
    ):
        return re.sub(r"^(?:remember to|add|create|put)\s+", "", body[m.end() :], flags=re.I)
    body = re.sub(r"^(?:new|task|todo|to-do|reminder)s?\s*[:\-–—]\s*", "", body, flags=re.I)
    return _ADD_FILLER.sub("", body, count=1)


def _add(text: Text, clause: str, *, bare: bool = False) -> list[Intent]:
    """bare: the clause is the errand itself ("schedule a dentist appointment"), no "add" to drop."""
    body, description = _split_description(text, clause)
    listed = bool(_COUNT.search(body))
    when = re.match(rf"^(remind me)\s+({_WHEN_PHRASE})\s+(to\s+.+)$", body, re.I)
    if when:  # "remind me tomorrow to call mom": the time goes after the errand
        body = f"{when.group(1)} {when.group(3)} {when.group(2)}"
    spoken = not bare and re.match(
        r"(?i)remind|remember|don'?t|make sure|help me|note that|i\b|need|have|gotta|must", body
    )
    if not bare:
        body = _drop_lead(body)
    body = re.sub(r"^(?:to|that i need to|that i have to|i need to)\s+", "", body.lstrip(" ;:"), flags=re.I)
    body = _LIST_TAIL.sub("", body).strip(" ,.!?:;")
    body = re.sub(r"\s+(?:for me|please|too|as well|to it|to that)$", "", body, flags=re.I)
    # "call the bank: ask about the rate": a title of a few words, then its details
    if (
        description is None
        and not listed
        and (m := re.fullmatch(r"(\S+(?:\s+\S+){1,6}?):\s+(\S.*\s.*)", body))
    ):
        body, description = m.group(1), _slot(text, m.group(2))
    pieces = [body] if _ONE_TITLE.match(clause) else _split_titles(body, listed)
    titles = [_title(text, t) for t in pieces]
    titles = [t for t in titles if t]
    if spoken and (
        any(
            len(t.split()) < 2 and t.isascii() and not text.only_quote(p)
            for t, p in zip(titles, pieces, strict=False)
        )
        or re.search(r"(?i)\b(?:bye|goodbye|good night|see you|thanks|thank you)\b", clause)
    ):
        return [Intent("chat")]  # "I have to go, bye!", "remember me?": talk, not a task
    if not titles:
        return [Intent("add")]  # nothing to add yet: ask for a title
    return [Intent("add", title=t, description=description if len(titles) == 1 else None) for t in titles]


# --------------------------------------------------------------------------------------------
# Grammars for changes

_REF = r"(.+?)"


def _sep(*words: str) -> str:
    """A separator after a task reference: whole words ("to", "as") or a colon, dash or equals sign."""
    spoken = "|".join(w.replace(" ", r"\s+") for w in words)
    return rf"(?:\s+(?:{spoken})(?=\s|$|\ue000)|\s*(?:[:=→]|->|=>)|\s+[-–—])\s*"


_DONE_WORDS = re.compile(rf"^(?:as\s+)?{STATUS_DONE}$", re.I)

_UPDATE_DESCRIPTION = [
    rf"^(?:the\s+)?(?:description|desc|details|notes?)\s+(?:of|for|on)\s+{_REF}\s+(?:should be|should say|is|must be|="
    r"|:)\s*(.+)$",
    # set the description of X to Y / change the notes on task 3: Y
    rf"^(?:set|change|update|edit|modify|make|replace|put|write|rewrite)\s+(?:the\s+)?(?:description|desc|details|notes?|comment)\s+"
    rf"(?:of|for|on|in|to)\s+{_REF}{_sep('to say', 'to read', 'so it says', 'to', 'as', 'with')}(.+)$",
    # set X's description to Y
    rf"^(?:set|change|update|edit|modify|make)\s+{_REF}(?:'s|’s)\s+(?:description|desc|details|notes?){_sep('to', 'as')}(.+)$",
    rf"^(?:set|change|update|edit|modify)\s+(?!(?:the|a|an|its)\s+(?:description|desc|details|notes?)\b){_REF}\s+"
    rf"(?:description|desc|details|notes?){_sep('to', 'as')}(.+)$",
    # add a description to X: Y / add the note Y to X
    rf"^(?:add|attach|put|give|write|append)\s+(?:a\s+|the\s+|this\s+|some\s+)?(?:description|desc|details?|notes?|comment)\s+"
    rf"(?:to|for|on)\s+{_REF}{_sep('saying', 'that says', 'reading')}(.+)$",
    r"^(?:add|attach|put|give|write|append)\s+(?:a\s+|the\s+)?(?:description|desc|details?|notes?|comment)\s*(?::|saying|that says|reading)?\s*"
    r"(\ue000\d+\ue001|.+?)\s+(?:to|for|on)\s+(the .+|task .+|it|that|this|#\d+)$",
    rf"^(?:update|edit|change)\s+{_REF}\s+with\s+(?:the\s+|a\s+)?(?:description|desc|details|notes?)\s*:?\s*(.+)$",
    rf"^(?:add|put|attach)\s+(\ue000\d+\ue001)\s+as\s+(?:a\s+|the\s+)?(?:description|note|details)\s+(?:to|for|of|on)\s+{_REF}$",
    # describe X as Y / give X the description Y
    rf"^describe\s+{_REF}\s+as\s+(.+)$",
    rf"^give\s+{_REF}\s+(?:the|a)\s+(?:description|note|details)\s*(?::|of|saying)?\s*(.+)$",
    # for X, set the description to Y
    rf"^(?:for|on|in)\s+{_REF},?\s+(?:set|change|update|add|make)\s+(?:the\s+|a\s+)?(?:description|notes?|details)(?:{_sep('to', 'as')}|\s+)(.+)$",
    # X's description should be Y
    rf"^{_REF}(?:'s|’s)?\s+(?:description|notes?|details)\s+(?:should be|should say|is|=|:)\s*(.+)$",
]
_UPDATE_DESCRIPTION_HERE = [  # no task named: the one the conversation is about
    r"^(?:set|change|update|add|give it|put)\s+(?:the\s+|a\s+|its\s+|it\s+a\s+)?(?:description|desc|details?)"
    rf"(?:\s+(?:to|on|for)\s+(?:it|that|this|the task))?(?:{_sep('to', 'as', 'saying')}|\s+)(.+)$",
    r"^(?:set|change|update|add|give it|put)\s+(?:the\s+|a\s+|its\s+|it\s+a\s+)?(?:notes?|comment)"
    rf"\s+(?:to|on|for)\s+(?:it|that|this|the task)(?:{_sep('to', 'as', 'saying')}|\s+)(.+)$",
    r"^describe\s+(?:it|that|this)\s+as\s+(.+)$",
]
_CLEAR_DESCRIPTION = rf"^(?:clear|remove|delete|erase|drop|empty|wipe)\s+(?:the\s+)?(?:description|desc|details|notes?)\s+(?:of|from|for|on|in)\s+{_REF}$"
_RENAME = [
    rf"^(?:rename|retitle|relabel)\s+{_REF}{_sep('to', 'as', 'into')}(.+)$",
    r"^(?:rename|retitle|relabel)\s+(\ue000\d+\ue001|(?:task|item|#)\s*#?\d+|it|that|this)\s*(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|fix|set)\s+(?:the\s+)?(?:title|name|text|wording)\s+(?:of|for|on)\s+{_REF}"
    rf"{_sep('to', 'as', 'into')}(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|switch|set|make)\s+{_REF}(?:'s|’s)\s+(?:title|name)\s+(?:to|as|:)\s*(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|switch|turn|set)\s+{_REF}"
    rf"{_sep('to say', 'to read', 'so that it says', 'so it says', 'so it reads', 'to', 'into')}(.+)$",
    r"^(?:make)\s+(task\s*#?\d+|#\d+|\ue000\d+\ue001|it|that)\s+(?:say\s+|read\s+)?(.+)$",
    rf"^(?:replace|swap)\s+{_REF}\s+with\s+(.+)$",
    rf"^{_REF}\s+should\s+(?:now\s+)?(?:be\s+(?:called|named|titled|renamed(?:\s+to)?)|say|read|become|be)\s+(.+)$",
    rf"^call\s+{_REF}\s+(\ue000\d+\ue001)(?:\s+instead)?$",
]
_RENAME_HERE = [  # "actually, make it Saturday", "I meant 'Pay water bill'"
    r"^(?:change|update|set|edit)\s+(?:the\s+)?(?:title|name)\s+(?:to|as|:)\s*(.+)$",
    r"^(?:i\s+meant|i\s+mean|meant|correction:?|make (?:that|it)|call it|change it to|rename it to)\s+(.+?)(?:\s+instead)?$",
]

_COMPLETE = [
    r"^(?:mark|set|flag)\s+(?:it\s+|that\s+|this\s+)?(?:as\s+)?(?:done|complete|completed|finished)()$",
    rf"^(?:i(?:'m| am)\s+)?all set with\s+{_REF}$",
    rf"^(?:i\s+)?(?:got|get)\s+{_REF}\s+(?:done|finished|sorted|out of the way)$",
    rf"^(?:mark|set)\s+(?:as\s+)?(?:done|complete|completed|finished)\s*:\s*{_REF}$",
    rf"^(?:mark|set|flag|make|put|move|count|consider)\s+{_REF}\s+(?:as\s+|to\s+)?(?:being\s+)?(?:done|complete|completed|finished|checked|ticked|resolved|closed)\b",
    rf"^mark\s+{_REF}\s+off\b",
    rf"^(?:check|tick|cross|strike|knock)\s+off\s+{_REF}$",
    rf"^(?:check|tick|cross|strike|knock)\s+{_REF}\s+off\b",
    rf"^(?:complete|finish|close|finalize|resolve)\s+{_REF}$",
    rf"^(?:i\s+|i've\s+|ive\s+|we\s+|we've\s+)?(?:have\s+|just\s+|already\s+|finally\s+|now\s+|totally\s+)*(?:finished|completed|done|did|accomplished|"
    rf"wrapped up|knocked out|took care of|taken care of|handled|sorted(?: out)?|dealt with|got through|crossed off|ticked off|checked off)\s+{_REF}$",
    rf"^(?:i'?m|i am|we'?re|we are)\s+(?:all\s+|now\s+|finally\s+)?(?:done|finished|through)\s+(?:with\s+)?{_REF}$",
    rf"^(?:all\s+)?done\s+(?:with\s+)?{_REF}$",
    rf"^(?:all\s+)?(?:done|finished|completed|complete)\s*[:\-–—]\s*{_REF}$",
    rf"^(?:✅|✔️?|☑️?)\s*{_REF}$",
    rf"^{_REF}(?:\s+(?:is|are|was|were|has been|have been|got|is now|are now|is all|are all|now)|'s(?: been)?)\s+"
    r"(?:all\s+|now\s+|finally\s+)?(?:done|finished|completed|complete|taken care of|sorted|handled|dealt with|"
    r"over|ticked off|checked off|crossed off|out of the way|good to go|clean)\b",
    rf"^{_REF}\s*(?:[:\-–—]\s*)?(?:done|finished|complete|completed|✓|✅|✔️?|☑️?)$",
]
_DONE_PRONOUN = re.compile(
    r"^(?:(?:i(?:'ve| have)?\s+)?(?:just\s+)?(?:done|finished|completed|did)\s+(?:it|that|this)|"
    r"(?:it|that|this)(?:'s| is| was| has been)\s+(?:all\s+|now\s+)?(?:done|finished|completed|complete|taken care of|sorted)|"
    r"(?:all\s+)?(?:done|finished|completed)(?:\s+with\s+(?:it|that|this))?|mark (?:it|that|this) off)"
    r"(?:\s+(?:now|already|too))?$",
    re.I,
)
_DELETE = [
    rf"^(?:i(?:'ve| have)?\s+)?changed my mind (?:about|on)\s+{_REF}$",
    rf"^(?:delete|remove|erase|drop|cancel|scrap|scratch|trash|bin|ditch|discard|nuke|axe|purge|strike|get rid of|"
    rf"do away with|forget(?: about)?|never ?mind(?: about)?|nevermind|cross out|lose|kill|rm|del)\s+{_REF}"
    r"(?:\s+(?:from|off|out of)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks|todos))?$",
    rf"^take\s+{_REF}\s+(?:off|out of|from)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks|todos)$",
    rf"^(?:i|we)\s+(?:don'?t|do not|no longer|won'?t)\s+(?:need|have|want|plan)\s+to\s+{_REF}(?:\s+any\s?more)?$",
    rf"^(?:i|we)\s+(?:don'?t|do not|no longer)\s+(?:need|want)\s+{_REF}(?:\s+any\s?more)?$",
    rf"^no (?:need|reason) to\s+{_REF}(?:\s+any\s?more)?$",
    rf"^{_REF}\s+(?:is|was|has been|got|are|were)\s+(?:cancelled|canceled|called off|no longer needed|not needed|"
    r"irrelevant|obsolete)(?:\s*,?\s*(?:so\s+)?(?:remove|delete|drop|scrap)\s+(?:it|that))?$",
    rf"^{_REF}\s+(?:can|should)\s+(?:go|be (?:deleted|removed|dropped))$",
]


# --------------------------------------------------------------------------------------------
# Listing


_LIST_WORDS = re.compile(
    r"\b(?:tasks?|to-?dos?|to do|list|agenda|plate|pending|left|remaining|outstanding|open|incomplete|unfinished|"
    r"completed|finished|finish|complete|done|accomplished|checked off|ticked off|everything|backlog|schedule|items|"
    r"due|next|should i do|should i work on)\b",
    re.I,
)
_LIST_START = re.compile(
    r"^(?:show|list|display|view|see|print|give|tell|pull up|bring up|fetch|check (?:my|what|the list)|what|what's|"
    r"whats|which|how many|how much|do i|did i|have i|is there|are there|anything|any|am i|where|everything|"
    r"all (?:my|the|of my)|my)\b",
    re.I,
)


def _list_status(low: str) -> str:
    low = re.sub(r"\b(?:to-?do|to do)\s+(?:list|items?|tasks?)\b|\bto-?dos\b|\btodo\b(?!\s+list)", " ", low)
    low = re.sub(r"\b(?:done|finished|completed)\s+or\s+not\b|\bor not\b", " both ", low)
    low = re.sub(
        r"\b(?:not|n't|never)\s+(?:yet\s+|been\s+|all\s+)*(?:done|finished|completed|complete|checked off)\b",
        " undone ",
        low,
    )
    pending = re.search(
        r"\b(?:incomplete|unfinished|undone|pending|left|remaining|"
        r"outstanding|open|still|to do|need to do|have to do|got to do|yet to|next|upcoming|plate|due|active|should i|"
        r"current|unchecked|haven'?t|not checked)\b",
        low,
    )
    done = re.search(
        r"\b(?:completed|complete|finished|finish|done|checked off|ticked off|crossed off|accomplished|achieved|closed|did i|"
        r"have i (?:done|finished|completed)|got done|already)\b",
        low,
    )
    if re.search(r"\b(?:today|tonight|this week)\b", low) and not done:
        return "pending"  # "what's on my list today?": what is still to do
    if pending and done:
        return "all"
    return "pending" if pending else "completed" if done else "all"


# --------------------------------------------------------------------------------------------
# Help, chat, bulk

_HELP = re.compile(
    r"\b(?:help|what can you do|what do you do|what are you able|how do (?:i|you) (?:use|add|delete|remove|"
    r"complete|mark|rename|change|update|list|see)|how does this work|commands|instructions|what can i (?:say|ask)|"
    r"how (?:can|should) i use)\b",
    re.I,
)
_ALL = r"(?:all|every|everything|both|the lot)"
_BULK_COMPLETE = [
    rf"^(?:mark|set|tick|check|cross|flag|make)\b.*\b{_ALL}\b.*\b(?:done|complete|completed|finished|off)\b",
    rf"^(?:complete|finish|tick off|check off|cross off|close)\s+(?:out\s+)?(?:of\s+)?{_ALL}\b",
    rf"^(?:i\s+|i've\s+|i'm\s+|i am\s+)?(?:have\s+|just\s+|all\s+)?(?:finished|completed|done|did|through)\s+(?:with\s+)?"
    rf"(?:it all|{_ALL}(?:\s+(?:of\s+(?:them|it|my \w+)|on (?:my|the) list))?|all (?:my|the) (?:tasks|todos|items|things))$",
    rf"^(?:{_ALL}(?:\s+(?:my|the|of my|of the|of them))?(?:\s+(?:tasks|todos|items|things))?)\s+(?:is|are)\s+(?:now\s+)?(?:done|finished|completed|complete)$",
]
_BULK_DELETE = [
    rf"^(?:delete|remove|clear|erase|wipe|get rid of|purge|trash|empty|reset|nuke|drop|scrap|bin|ditch|clean up|clean out|clear out)\b"
    rf"(?:\s+out)?\s+(?:of\s+)?{_ALL}\b(.*)$",
    r"^(?:clear|empty|wipe|reset|nuke|purge|clean)\s+(?:out\s+)?(?:off\s+)?(?:my|the)\s+(?:whole\s+|entire\s+)?"
    r"(?:(?:todo|to-do|to do|task)\s+)?(?:list|tasks|todos|to-dos)$",
    r"^(?:start (?:over|fresh|from scratch) with an empty list|wipe the slate clean)$",
    r"^(?:delete|remove|clear|erase|wipe|get rid of|purge|trash|clean up|clean out|clear out|archive|drop)\s+"
    r"(?:out\s+)?(?:all\s+)?(?:of\s+)?(?:the\s+|my\s+)?(completed|finished|done|checked off|ticked off|old|pending|"
    r"open|unfinished|incomplete)\s*(?:tasks|todos|to-dos|items|ones|stuff|things)?$",
]

_SMALL_TALK = re.compile(
    r"^(?:hi|hello|hey|yo|hiya|howdy|good (?:morning|afternoon|evening|night)|thanks?|thank you|thx|ty|cheers|"
    r"bye|goodbye|see you|ok|okay|k|cool|great|nice|awesome|perfect|yes|no|yep|nope|sure|lol|haha|wow|"
    r"how are you|who are you|what are you)\b",
    re.I,
)


def _bulk(text: Text, low: str) -> Intent | None:
    keep: list[Ref] = []
    if m := re.search(
        r"\s*,?\s+(?:except(?: for)?|but(?: not)?|other than|apart from|besides|save for)\s+(.+?)$", low
    ):
        keep = parse_refs(text, _trim_ref(m.group(1)))
        low = low[: m.start()] + (
            " done" if re.search(r"\b(?:done|complete|completed|finished)$", low) else ""
        )
    intent = _bulk_intent(text, low)
    return dataclasses.replace(intent, keep=keep) if intent else None


def _bulk_intent(text: Text, low: str) -> Intent | None:
    for pattern in _BULK_COMPLETE:
        if re.search(pattern, low):
            return Intent("complete_all", status="pending", ref=_bulk_scope(text, low))
    for pattern in _BULK_DELETE:
        if m := re.search(pattern, low):
            rest = m.group(1) if m.groups() else ""
            status = "all"
            if re.search(r"\b(?:completed|finished|done|checked off|ticked off|old)\b", rest or ""):
                status = "completed"
            elif re.search(r"\b(?:pending|open|unfinished|incomplete|not done)\b", rest or ""):
                status = "pending"
            return Intent("delete_all", status=status, ref=_bulk_scope(text, rest or ""))
    return None


def _bulk_scope(text: Text, rest: str) -> Ref:
    """'all of them' -> the tasks just shown; 'all the shopping tasks' -> the tasks about shopping."""
    if re.search(r"\b(?:them|those|these|of them|both)\b", rest):
        return Ref(plural=True)
    topic = re.sub(
        rf"\b(?:{_ALL}|my|the|of|from|on|in|off|out|list|to-?do|to do|tasks?|todos?|items?|things?|ones?|as|"
        r"done|complete|completed|finished|pending|open|unfinished|incomplete|checked|ticked|crossed|mark|set|"
        r"check|tick|cross|please|now|i|have|'ve|just|did|are|is|it|them|remaining|left|outstanding|other|rest|current|"
        r"existing|still|todo|open|active)\b",
        " ",
        rest,
    )
    topic = re.sub(r"\b(?:about|for|related to|regarding|with)\b|'\w+\b", " ", topic)
    topic = clean(re.sub(r"[^\w\s\ue000\ue001]|\b\w\b", " ", topic))
    return Ref(query=text.unmask(topic)) if topic else Ref()


# --------------------------------------------------------------------------------------------
# One clause


def _clause(text: Text, clause: str) -> list[Intent]:
    question = clause.rstrip().endswith("?")
    clause = strip_polite(clause).rstrip(" .!?")
    low = clause.lower()
    if not low:
        return [Intent("chat")]

    # "I want to see my tasks", "I'd like to add a task": the rest is the request
    if m := re.match(
        r"^(?:i(?:\s+|'|’)(?:want|wanna|would like|d like|wish)\s+to|can i|could i|may i|can we|let me|"
        r"i (?:said|asked you to|told you to))\s+",
        clause,
        re.I,
    ):
        rest = _clause(text, clause[m.end() :])
        return rest if rest[0].kind != "chat" else [Intent("chat")]

    if _HELP.search(low) and not re.match(r"^help me remember\b", low):
        return [Intent("help")]

    # Descriptions (before adds: "add a note to task 3: ...")
    if m := re.match(_CLEAR_DESCRIPTION, clause, re.I):
        return [Intent("update", description="", ref=parse_ref(text, m.group(1)))]
    for pattern in _UPDATE_DESCRIPTION:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", description=_slot(text, m.group(2)), ref=parse_ref(text, m.group(1)))]
    for pattern in _UPDATE_DESCRIPTION_HERE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", description=_slot(text, m.group(1)), ref=Ref(pronoun=True))]

    if re.match(
        r"^(?:undo|revert|undo (?:that|it|this|the last (?:change|one|thing))|take (?:that|it) back)$", low
    ):
        return [Intent("undo")]

    # Adds
    if _ADD_LEAD.match(clause):
        need = re.match(_NEED_TO + r"\s+(.+)$", clause, re.I)
        if (
            need
            and re.match(
                r"^(?:delete|remove|mark|complete|rename|update|change|check off|tick off|see|view|list|show|clear)\b",
                need.group(1),
                re.I,
            )
            and re.search(r"\b(?:tasks?|todos?|list|items?|#?\d+|it|that|them)\b|\ue000", need.group(1), re.I)
        ):
            return _clause(text, need.group(1))  # "I need to delete task 3"
        return _add(text, clause)

    if bulk := _bulk(text, low):
        return [bulk]

    # Renames (also "change task 3 to done", which is a completion)
    for pattern in _RENAME:
        if m := re.match(pattern, clause, re.I):
            new, ref = m.group(2).strip(), m.group(1)
            if _DONE_WORDS.match(new):
                return [Intent("complete", ref=r) for r in parse_refs(text, ref)]
            description = None
            if d := re.search(
                r"\s*(?:,|\band\b)\s*(?:set\s+|change\s+|update\s+|with\s+|give it\s+)?(?:its|the|a)\s+(?:description|notes?|details)"
                r"\s*(?:to|as|:|of)?\s*(.+)$",
                new,
                re.I,
            ):
                new, description = new[: d.start()], _slot(text, d.group(1))
            return [
                Intent("update", title=_title(text, new), description=description, ref=parse_ref(text, ref))
            ]
    if m := re.match(r"^(?:rename|retitle|edit|update|change|modify)\s+(.+?)$", clause, re.I):
        if not re.search(r"\b(?:to|as|into)\b|[:=]", m.group(1)):
            return [Intent("update", ref=parse_ref(text, m.group(1)))]  # asks what to change it to
    for pattern in _RENAME_HERE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", title=_title(text, m.group(1)), ref=Ref(pronoun=True))]

    for pattern in _DELETE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("delete", ref=r) for r in parse_refs(text, _trim_ref(m.group(1)))]
    if re.fullmatch(
        r"(?:delete|remove|cancel|drop|scrap|scratch|trash|forget|lose|ditch|bin)(?: it| that| this)?(?: one)?",
        low,
    ):
        return [Intent("delete", ref=Ref(pronoun=True))]
    if re.fullmatch(
        r"(?:delete|remove|cancel|drop|scrap|trash|ditch)\s+(?:them|those|these|both|all of them)", low
    ):
        return [Intent("delete_all", ref=Ref(plural=True))]

    # One task's details: "show task 3", "what's the description of the report task?"
    if m := re.match(
        r"^(?:show|display|view|open|describe|get|fetch|what(?:'s| is)|tell me about|details (?:of|for|on)|status of)\s+(?:me\s+)?"
        r"(?:the\s+)?(?:(?:details|description|title|name|status|info)\s+(?:of|for|on)\s+)?(.+)$",
        clause,
        re.I,
    ):
        refs = parse_refs(text, m.group(1))
        about = re.search(r"\b(?:details|description|title|name|status|info)\s+(?:of|for|on)\b", low)
        if len(refs) == 1 and (refs[0].task_id is not None or (about and refs[0].query)):
            return [Intent("show", ref=refs[0])]
    if m := re.match(
        r"^(?:find|search(?: for)?|look up|look for|locate)\s+(?:(?:my|the|a)\s+)?(?:tasks?\s+)?"
        r"(?:about|for|with|called|named|containing)?\s*(.+)$",
        clause,
        re.I,
    ):
        return [Intent("show", ref=parse_ref(text, m.group(1)))]
    if m := re.match(r"^(?:is|was|are)\s+(.+?)\s+(?:done|finished|completed|complete)$", clause, re.I):
        return [Intent("show", ref=parse_ref(text, m.group(1)))]

    if _is_list(low):
        return [Intent("list", status=_list_status(low))]

    if m := re.match(
        rf"^(?:(?:mark|set|flag|make)\s+{_REF}\s+(?:as\s+)?(?:not done|not complete|not completed|not finished|undone|"
        rf"incomplete|unfinished|pending|open|to ?do)|(?:uncheck|untick|reopen|re-open|uncomplete|un-complete|restore)\s+{_REF})$",
        clause,
        re.I,
    ):
        return [Intent("reopen", ref=parse_ref(text, m.group(1) or m.group(2)))]
    for pattern in _COMPLETE:
        if m := re.match(pattern, clause, re.I):
            phrase = _trim_ref(m.group(1), done_words=True)
            more = re.match(
                r"^\s*(?:,|and|&)\s+(?:also\s+)?(.+?)(?:\s+(?:too|as well))?$", clause[m.end() :], re.I
            )
            if more and not _STARTER.match(more.group(1)):
                phrase = f"{phrase} and {more.group(1)}"  # "mark call mom as done and pay rent too"
            if re.fullmatch(r"(?:all|everything|every task|all (?:my )?(?:tasks|todos))", phrase.lower()):
                return [Intent("complete_all", status="pending", ref=Ref())]
            if _PLURAL.fullmatch(phrase.lower()):
                return [Intent("complete", ref=Ref(plural=True))]
            return [Intent("complete", ref=r) for r in parse_refs(text, phrase)]
    if _DONE_PRONOUN.match(low):
        return [Intent("complete", ref=Ref(pronoun=True))]
    if done := _past_tense(text, clause):
        return [done]

    if _SMALL_TALK.match(low):
        return [Intent("chat")]
    # "So I was thinking, could you add …": what follows a preamble may be the request
    if m := re.match(r"^[^,:;]{3,60}[,:;]\s+(.+)$", clause):
        rest = _clause(text, m.group(1))
        if rest[0].kind != "chat" and not rest[0].guessed:
            return rest
    # A bare errand ("buy milk", "call the vet tomorrow") is a task to add; a question is not
    if (
        _starts_with_verb(low)
        and len(low.split()) >= 2
        and not question
        and not re.match(r"^\w+ (?:me|us|it|that|this)\b", low)
    ):
        return [dataclasses.replace(i, guessed=True) for i in _add(text, clause, bare=True)]
    return [Intent("chat")]


def _trim_ref(phrase: str, *, done_words: bool = False) -> str:
    """Drop what follows a task reference: "please", "off my list", a reason, and for completions "as done"."""
    phrase = re.sub(
        r"\s*(?:,\s*|\s+)(?:because|since|cause|cuz)\b.*$|,\s*(?:i|it|it's|that's|we|they)\b.*$",
        "",
        phrase,
        flags=re.I,
    )
    phrase = re.sub(
        r"(?:[,.!]?\s*(?:please|now|already|too|as well|today|yesterday|finally|at last|just now|this morning|"
        r"earlier|for good|yay|woohoo)(?!\w)|!+)+$",
        "",
        phrase.strip(),
        flags=re.I,
    )
    phrase = re.sub(
        r"\s+(?:off|from|out of)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks)$",
        "",
        phrase,
        flags=re.I,
    )
    if done_words:
        phrase = re.sub(r"\s+(?:as\s+)?(?:done|complete|completed|finished)$", "", phrase, flags=re.I)
    return phrase.strip(" ,.!?")


def _is_list(low: str) -> bool:
    if re.fullmatch(
        r"(?:(?:my|the|all|all my|all the|show|list)\s+)?(?:pending|completed|finished|open|remaining|outstanding|done|"
        r"unfinished|incomplete)?\s*(?:tasks|todos|to-dos|list|todo list|to-do list|to do list|items|ones|stuff|"
        r"everything|agenda)?",
        low,
    ) and low not in ("done", "finished", "completed"):
        return True
    if not _LIST_START.match(low) or not _LIST_WORDS.search(low):
        return False
    # "what's the weather like today?" is not about the list; "what's left?" is
    return not re.search(r"\b(?:weather|time|date|news|joke|score|capital|meaning|price)\b", low)


_PAST = re.compile(
    r"^(?:i|we|i've|we've|ive)?\s*(?:(?:have|just|already|finally|also|now|totally|successfully)\s+)*(\w+)\s+(.+)$",
    re.I,
)
_PASSIVE = re.compile(
    r"^(.+?)(?:\s+(?:is|are|was|were|has been|have been|got|is now|are now|has now been|now)|'s(?: been)?)\s+"
    r"(?:all\s+|now\s+|finally\s+)?(\w+)(?:\s+(.*))?$",
    re.I,
)


def _is_past(word: str) -> bool:
    word = word.lower()
    return word in IRREGULAR or (word.endswith("ed") and word not in NOT_PAST and len(word) > 3)


def _past_tense(text: Text, clause: str) -> Intent | None:
    """'I fed the cat', 'bought the milk', 'the dog has been walked', 'kitchen's clean' -> a completion."""
    low = clause.lower()
    if m := _PASSIVE.match(clause):
        subject, verb, rest = m.group(1), m.group(2), m.group(3) or ""
        if (_is_past(verb) or verb.lower() in {"clean", "tidy", "sorted", "ready"}) and not re.match(
            r"^(?:i|we|you|it|that|this)$", subject, re.I
        ):
            return Intent("complete", ref=Ref(query=_topic(text.unmask(f"{verb} {subject} {rest}"))))
    if (
        (m := re.match(r"^(.+?)\s+(\w+)$", clause))
        and _is_past(m.group(2))
        and not re.match(r"^(?:i|we|you)\b", low)
    ):
        return Intent("complete", ref=Ref(query=_topic(text.unmask(f"{m.group(2)} {m.group(1)}"))))
    if m := _PAST.match(clause):
        verb = m.group(1)
        starts_with_i = bool(re.match(r"^(?:i|we)\b", low))
        if _is_past(verb) or (starts_with_i and verb.lower() in SAME_PAST):
            if verb.lower() in {
                "wanted",
                "needed",
                "forgot",
                "used",
                "started",
                "tried",
                "decided",
                "added",
                "created",
            }:
                return None
            return Intent("complete", ref=Ref(query=_topic(text.unmask(f"{verb} {m.group(2)}"))))
    return None


# --------------------------------------------------------------------------------------------
# A whole message

_STARTER = re.compile(
    r"^(?:(?:also|then|please|and|now)\s+)*(?:add|create|put|remind me|don'?t let me forget|delete|remove|cancel|mark|"
    r"tick|check off|cross off|complete|rename|change|update|edit|set|show|list|display|what|tell me|give me|clear)\b",
    re.I,
)
_SEPARATOR = re.compile(
    r"\s*(?:;|[.!?](?=\s)|,?\s+and then\s+|,?\s+then\s+|,?\s+and\s+(?:also\s+)?|,\s+(?:also\s+)?)\s*", re.I
)
# "add a task: <anything>" takes the rest of the message as one title, whatever it holds
_ONE_TITLE = re.compile(
    r"^(?:\W*(?:please|pls|ok|okay|hey)\W+)?(?:add|create|new)(?:\s+(?:a|one|new))*\s+(?:task|todo|to-do|item)\s*:",
    re.I,
)


def _clauses(masked: str) -> list[tuple[int, int]]:
    """Where a new command starts: 'delete the dentist task and add call the plumber'."""
    if _ONE_TITLE.match(masked):
        return [(0, len(masked))]
    spans, start = [], 0
    for m in _SEPARATOR.finditer(masked):
        if _STARTER.match(_ASKING.sub("", masked[m.end() :])):  # "…, can you mark it done?"
            spans.append((start, m.start()))
            start = m.end()
    spans.append((start, len(masked)))
    return [(a, b) for a, b in spans if masked[a:b].strip(" .!?,;")]


def understand(message: str) -> list[Intent]:
    text = Text(message)
    if not text.masked.strip(" .!?"):
        return [Intent("chat")]
    groups: list[tuple[int, int, list[Intent]]] = []
    for a, b in _clauses(text.masked):
        parsed = _clause(text, text.masked[a:b])
        if groups and (
            parsed[0].kind in ("chat", "help") or parsed[0].guessed or _is_description_tail(text.masked[a:b])
        ):
            # not a command of its own after all: it belongs to the clause before
            start = groups[-1][0]
            groups[-1] = (start, b, _clause(text, text.masked[start:b]))
            continue
        if groups and parsed[0].ref.pronoun and parsed[0].kind == groups[-1][2][-1].kind:
            continue  # "the lunch got cancelled, remove it": the same request said twice
        before = strip_polite(text.masked[groups[-1][0] : groups[-1][1]]) if groups else ""
        if (
            groups
            and parsed[0].ref.pronoun
            and groups[-1][2] == [Intent("chat")]
            and len(before.split()) >= 2
            and not _SMALL_TALK.match(before)
            and not re.match(r"(?i)never ?mind|forget it|no\b|oops|wait", before)
        ):
            # "the bathroom is sparkling clean, mark it done": "it" is what the sentence before was about
            about = Ref(query=_topic(text.unmask(before)))
            groups[-1] = (groups[-1][0], b, [dataclasses.replace(i, ref=about) for i in parsed])
            continue
        groups.append((a, b, parsed))
    intents = [i for _, _, group in groups for i in group]
    if len(intents) > 1:
        intents = [i for i in intents if i.kind != "chat"] or [Intent("chat")]
    return intents


def _is_description_tail(piece: str) -> bool:
    return bool(
        re.match(
            r"^(?:also\s+)?(?:set|add|give it|with)\s+(?:its|the|a)\s+(?:description|notes?|details)",
            piece,
            re.I,
        )
    )
