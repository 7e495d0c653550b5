"""How a request is meant: asked about, hedged, supposed or refused, rather than asked for.

"Did I call mom?", "should I delete the milk task?", "what would happen if I deleted X?" and "don't
delete X" all hold a request ("call mom", "delete X") that must not be carried out. A frame is the
part around the request; `frame` returns the mood and the request in plain imperative words, so that
the ordinary grammar can read what it is about.
"""

import re

from worker.offline.intents import ASK, REFUSE, SUGGEST, SUPPOSE

# The verbs of the assistant's own actions, with their -ing and past forms.
_ACTIONS = {
    "add": "adding added", "create": "creating created", "put": "putting put", "delete": "deleting deleted",
    "remove": "removing removed", "erase": "erasing erased", "drop": "dropping dropped",
    "cancel": "cancelling canceling cancelled canceled", "scrap": "scrapping scrapped",
    "trash": "trashing trashed", "ditch": "ditching ditched", "clear": "clearing cleared",
    "wipe": "wiping wiped", "empty": "emptying emptied", "complete": "completing completed",
    "finish": "finishing finished", "mark": "marking marked", "check": "checking checked",
    "tick": "ticking ticked", "cross": "crossing crossed", "close": "closing closed",
    "rename": "renaming renamed", "change": "changing changed", "update": "updating updated",
    "edit": "editing edited", "move": "moving moved", "set": "setting set", "reset": "resetting reset",
    "reschedule": "rescheduling rescheduled", "postpone": "postponing postponed", "push": "pushing pushed",
    "touch": "touching touched", "undo": "undoing undid", "get_rid_of": "getting_rid_of got_rid_of",
}  # fmt: skip
_BASE = {
    form.replace("_", " "): base.replace("_", " ")
    for base, forms in _ACTIONS.items()
    for form in [base, *forms.split()]
}
_ACTION = "|".join(sorted((re.escape(f) for f in _BASE), key=len, reverse=True))
_GERUND = "|".join(
    sorted((re.escape(f) for f in _BASE if f.split()[0].endswith("ing")), key=len, reverse=True)
)
_SUBJECT = r"(?:i|we|you)"

_REFUSE = [
    r"^(?:no\W+)?(?:please\s+)?(?:do\s+not|don'?t|dont|never|not|stop|let'?s\s+not|better\s+not|"
    r"you\s+(?:don'?t|do\s+not)\s+(?:need|have)\s+to|(?:there'?s\s+|there\s+is\s+)?no\s+(?:need|"
    r"reason)\s+to|(?:i|we)\s+(?:don'?t|do\s+not)\s+(?:want|need)\s+(?:you\s+)?to|(?:i'?d|"
    r"i\s+would)\s+rather\s+(?:you\s+)?(?:not|didn'?t|did\s+not))\s+(?:bother(?:ing)?\s+(?:to\s+|with\s+)?|"
    r"go(?:ing)?\s+(?:and\s+)?|ever\s+|just\s+|yet\s+|actually\s+)*"
    rf"((?:{_ACTION})\b.*)$",
    rf"^(?:never\s?mind|forget(?:\s+about)?|skip|hold\s+off(?:\s+on)?|no)\s+((?:{_GERUND})\b.*)$",
]
_IF = r"(?:if|when|once|after|in\s+case)"
_SUPPOSE = [
    rf"^what\s+(?:would|will|could|might|'d|does|do)\s+happen\s+{_IF}\s+{_SUBJECT}\s+(.+)$",
    rf"^what\s+happens\s+{_IF}\s+{_SUBJECT}\s+(.+)$",
    rf"^what\s+if\s+{_SUBJECT}\s+(.+)$",
    r"^(?:hypothetically(?:\s+speaking)?\W*\s+)?(?:if|suppose|supposing|imagine|assuming|say|let'?s\s+say)\s+"
    rf"(?:that\s+)?{_SUBJECT}\s+(.+)$",
    rf"^would\s+((?:{_GERUND})\b.+?)\s+(?:also\s+)?(?:delete|remove|lose|erase|affect|change|break|mess)\b.*$",
    r"^(?:is\s+it|would\s+it\s+be)\s+(?:safe|dangerous|risky|bad|a\s+problem|reversible)\s+to\s+(.+)$",
    rf"^(?:can|could)\s+(?:i|you)\s+undo\s+(?:it\s+|that\s+)?(?:if|when|after)\s+{_SUBJECT}\s+(.+)$",
]
_SUGGEST = [
    r"^(?:i'?m\s+|i\s+am\s+)?not\s+sure\s+(?:if|whether)\s+(?:i|we)\s+should\s+(.+)$",
    r"^(?:should|shall|must)\s+(?:i|we)\s+(?:just\s+|really\s+|maybe\s+|probably\s+|still\s+|"
    r"go\s+ahead\s+and\s+)*(.+)$",
    r"^(?:maybe|perhaps|possibly|probably)\W*\s+(?:(?:i|we|you)\s+(?:should|could|can|will|'ll|need\s+to|"
    r"ought\s+to|might)\s+(?:just\s+)?|just\s+)?(.+)$",
    r"^(?:do\s+you\s+think|you\s+think|would\s+you\s+recommend|(?:would\s+it\s+be|"
    r"is\s+it)\s+(?:a\s+good\s+idea|better|wise|smart|ok|okay|fine|best)\s+to)\s+(?:that\s+)?(?:(?:i|"
    r"we)\s+(?:should|could|ought\s+to|need\s+to|can)\s+)?(.+)$",
    rf"^(?:how|what)\s+about\s+((?:{_GERUND})\b.*)$",
    r"^(?:i'm|i\s+am|i\s+was|we're|we\s+are)\s+(?:thinking\s+(?:of|about)|considering|not\s+sure\s+(?:if|"
    r"whether)\s+(?:i\s+should|to))\s+(.+)$",
    r"^(?:i|we)\s+(?:might|may|could|should\s+probably|probably\s+should|guess\s+(?:i|we)\s+(?:could|"
    r"should)|think\s+(?:i|we)(?:'ll|\s+will|\s+should|\s+might|\s+may|\s+could|\s+need\s+to)|"
    r"wonder\s+(?:if|whether)\s+(?:i|we)\s+should)\s+(.+)$",
    r"^i\s+(?:think|guess|believe|suppose|reckon)\s+(?:that\s+)?((?:i|we)\b.+)$",
]
_ASK = [
    r"^(?:when|why|how|where)\s+(?:did|have|had)\s+(?:i|we|you)\s+(?:already\s+|ever\s+|actually\s+)*(.+)$",
    r"^(?:did|have|has|had)\s+(?:i|we|you)\s+(?:already\s+|ever\s+|actually\s+|really\s+|even\s+|"
    r"just\s+)*(.+?)(?:\s+(?:already|yet|before|earlier|at\s+all))?$",
    r"^(?:do|does)\s+(?:i|we)\s+(?:still\s+|really\s+|even\s+|also\s+|actually\s+)*(?:need|have|want|"
    r"got)\s+to\s+(.+?)(?:\s+(?:still|anymore|any\s+more))?$",
    r"^(?:am|are)\s+(?:i|we)\s+(?:still\s+)?(?:supposed|meant|going)\s+to\s+(.+)$",
]
# Words between the frame and the request: "if I were to delete", "if I accidentally removed".
_FILLER = re.compile(
    r"^(?:(?:were|was)\s+to|accidentally|just|ever|actually|really|now|then|go\s+ahead\s+and|"
    r"went\s+ahead\s+and|decided?\s+to|want(?:ed)?\s+to|wanna|tried\s+to|try\s+to|had|have|did|do|(?:asked?|"
    r"told|tell)\s+you\s+to|(?:had|have)\s+you)\s+",
    re.I,
)
# What follows a hypothetical's condition: "if I delete X, what happens?"
_CONSEQUENCE = re.compile(
    r"\s*(?:,|\s)\s*(?:what|would|will|could|does|do|is|are|can|how|then|am|do\s+i|will\s+i|"
    r"is\s+it)\b(?:(?!\ue000).)*$",
    re.I,
)


def imperative(phrase: str) -> str:
    """'deleting the milk task' / 'deleted the milk task' -> 'delete the milk task'."""
    phrase = phrase.strip()
    while m := _FILLER.match(phrase):
        phrase = phrase[m.end() :]
    if m := re.match(rf"({_ACTION})\b", phrase, re.I):
        phrase = _BASE[m.group(1).lower()] + phrase[m.end() :]
    return phrase


# Hedges whose request must be spelled out: "I'm not sure I still need the dentist task" -> delete it;
# "should the report be marked done?" -> mark it done.
_SPELLED = [
    (r"^(?:i'?m\s+|i\s+am\s+)?not\s+sure\s+(?:if\s+|whether\s+|that\s+)?(?:i|we)\s+(?:still\s+|really\s+)*(?:need|want)\s+"
     r"(?:to\s+)?(.+?)(?:\s+any\s?more)?$", "delete {}"),
    (r"^(?:i|we)\s+(?:might|may)\s+not\s+(?:need|want)\s+(?:to\s+)?(.+?)(?:\s+any\s?more)?$", "delete {}"),
    (r"^(?:should|shall|can)\s+(.+?)\s+be\s+(?:marked\s+)?(?:as\s+)?(?:done|complete|completed|finished|ticked\s+off)$",
     "mark {} as done"),
    (r"^(?:should|shall|can)\s+(.+?)\s+be\s+(?:deleted|removed|dropped|cancelled|canceled)$", "delete {}"),
]  # fmt: skip


def frame(clause: str) -> tuple[str, str]:
    """(mood, the request in imperative words), or ("", clause) for a plain request."""
    for pattern, request in _SPELLED:
        if m := re.match(pattern, clause, re.I):
            return SUGGEST, request.format(m.group(1))
    for mood, patterns in ((REFUSE, _REFUSE), (SUPPOSE, _SUPPOSE), (SUGGEST, _SUGGEST), (ASK, _ASK)):
        for pattern in patterns:
            if m := re.match(pattern, clause, re.I):
                rest = m.group(1)
                if mood == SUPPOSE:
                    rest = _CONSEQUENCE.sub("", rest) or rest
                return mood, imperative(rest).strip(" ,")
    return "", clause
