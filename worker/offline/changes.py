"""The grammars of changes to one task: descriptions, renames, completions (also told in the past
tense: "I fed the cat") and deletions. The patterns capture the reference and the new text."""

import re

from worker.offline.intents import Intent, Ref
from worker.offline.references import topic
from worker.offline.text import Text
from worker.offline.vocabulary import IRREGULAR, NOT_PAST, SAME_PAST, STATUS_DONE

REF = r"(.+?)"


def sep(*words: str) -> str:
    """A separator after a task reference: whole words ("to", "as") or a colon, dash or equals sign."""
    spoken = "|".join(w.replace(" ", r"\s+") for w in words)
    return rf"(?:\s+(?:{spoken})(?=\s|$|\ue000)|\s*(?:[:=→]|->|=>)|\s+[-–—])\s*"


DONE_WORDS = re.compile(rf"^(?:as\s+)?{STATUS_DONE}$", re.I)

UPDATE_DESCRIPTION = [
    rf"^(?:the\s+)?(?:description|desc|details|notes?)\s+(?:of|for|on)\s+{REF}\s+(?:should be|should say|is|"
    rf"must be|="
    r"|:)\s*(.+)$",
    # set the description of X to Y / change the notes on task 3: Y
    rf"^(?:set|change|update|edit|modify|make|replace|put|write|rewrite)\s+(?:the\s+)?(?:description|desc|"
    rf"details|notes?|comment)\s+(?:of|for|on|in|"
    rf"to)\s+{REF}{sep('to say', 'to read', 'so it says', 'to', 'as', 'with')}(.+)$",
    # set X's description to Y
    rf"^(?:set|change|update|edit|modify|make)\s+{REF}(?:'s|’s)\s+(?:description|desc|details|"
    rf"notes?){sep('to', 'as')}(.+)$",
    rf"^(?:set|change|update|edit|modify)\s+(?!(?:the|a|an|its)\s+(?:description|desc|details|"
    rf"notes?)\b){REF}\s+(?:description|desc|details|notes?){sep('to', 'as')}(.+)$",
    # add a description to X: Y / add the note Y to X
    rf"^(?:add|attach|put|give|write|append)\s+(?:a\s+|the\s+|this\s+|some\s+)?(?:description|desc|details?|"
    rf"notes?|comment)\s+(?:to|for|on)\s+{REF}{sep('saying', 'that says', 'reading')}(.+)$",
    r"^(?:add|attach|put|give|write|append)\s+(?:a\s+|the\s+)?(?:description|desc|details?|notes?|"
    r"comment)\s*(?::|saying|that says|reading)?\s*(\ue000\d+\ue001|.+?)\s+(?:to|for|on)\s+(the .+|task .+|"
    r"it|that|this|#\d+)$",
    rf"^(?:update|edit|change)\s+{REF}\s+with\s+(?:the\s+|a\s+)?(?:description|desc|details|"
    rf"notes?)\s*:?\s*(.+)$",
    rf"^(?:add|put|attach)\s+(\ue000\d+\ue001)\s+as\s+(?:a\s+|the\s+)?(?:description|note|details)\s+(?:to|"
    rf"for|of|on)\s+{REF}$",
    # describe X as Y / give X the description Y
    rf"^describe\s+{REF}\s+as\s+(.+)$",
    rf"^give\s+{REF}\s+(?:the|a)\s+(?:description|note|details)\s*(?::|of|saying)?\s*(.+)$",
    # for X, set the description to Y
    rf"^(?:for|on|in)\s+{REF},?\s+(?:set|change|update|add|make)\s+(?:the\s+|a\s+)?(?:description|notes?|"
    rf"details)(?:{sep('to', 'as')}|\s+)(.+)$",
    # X's description should be Y
    rf"^{REF}(?:'s|’s)?\s+(?:description|notes?|details)\s+(?:should be|should say|is|=|:)\s*(.+)$",
]
UPDATE_DESCRIPTION_HERE = [  # no task named: the one the conversation is about
    r"^(?:set|change|update|add|give it|put)\s+(?:the\s+|a\s+|its\s+|it\s+a\s+)?(?:description|desc|details?)"
    rf"(?:\s+(?:to|on|for)\s+(?:it|that|this|the task))?(?:{sep('to', 'as', 'saying')}|\s+)(.+)$",
    r"^(?:set|change|update|add|give it|put)\s+(?:the\s+|a\s+|its\s+|it\s+a\s+)?(?:notes?|comment)"
    rf"\s+(?:to|on|for)\s+(?:it|that|this|the task)(?:{sep('to', 'as', 'saying')}|\s+)(.+)$",
    r"^describe\s+(?:it|that|this)\s+as\s+(.+)$",
]
CLEAR_DESCRIPTION = (
    r"^(?:clear|remove|delete|erase|drop|empty|wipe)\s+(?:the\s+)?(?:description|desc|details|notes?)\s+"
    rf"(?:of|from|for|on|in)\s+{REF}$"
)
RENAME = [
    rf"^(?:rename|retitle|relabel)\s+{REF}{sep('to', 'as', 'into')}(.+)$",
    r"^(?:rename|retitle|relabel)\s+(\ue000\d+\ue001|(?:task|item|#)\s*#?\d+|it|that|this)\s*(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|fix|set)\s+(?:the\s+)?(?:title|name|text|"
    rf"wording)\s+(?:of|for|on)\s+{REF}{sep('to', 'as', 'into')}(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|switch|set|make)\s+{REF}(?:'s|’s)\s+(?:title|"
    rf"name)\s+(?:to|as|:)\s*(.+)$",
    rf"^(?:change|update|edit|modify|alter|amend|correct|switch|turn|set)\s+{REF}"
    rf"{sep('to say', 'to read', 'so that it says', 'so it says', 'so it reads', 'to', 'into')}(.+)$",
    r"^(?:make)\s+(task\s*#?\d+|#\d+|\ue000\d+\ue001|it|that)\s+(?:say\s+|read\s+)?(.+)$",
    rf"^(?:replace|swap)\s+{REF}\s+with\s+(.+)$",
    rf"^{REF}\s+should\s+(?:now\s+)?(?:be\s+(?:called|named|titled|renamed(?:\s+to)?)|say|read|become|"
    rf"be)\s+(.+)$",
    rf"^call\s+{REF}\s+(\ue000\d+\ue001)(?:\s+instead)?$",
]
RENAME_HERE = [  # "actually, make it Saturday", "I meant 'Pay water bill'"
    r"^(?:change|update|set|edit)\s+(?:the\s+)?(?:title|name)\s+(?:to|as|:)\s*(.+)$",
    r"^(?:i\s+meant|i\s+mean|meant|correction:?|make (?:that|it)|call it|change it to|"
    r"rename it to)\s+(.+?)(?:\s+instead)?$",
]

COMPLETE_COMMAND = rf"^(?:complete|finish|close|finalize|resolve)\s+{REF}$"
COMPLETE = [
    r"^(?:mark|set|flag)\s+(?:it\s+|that\s+|this\s+)?(?:as\s+)?(?:done|complete|completed|finished)()$",
    rf"^(?:i(?:'m| am)\s+)?all set with\s+{REF}$",
    rf"^(?:i\s+)?(?:got|get)\s+{REF}\s+(?:done|finished|sorted|out of the way)$",
    rf"^(?:mark|set)\s+(?:as\s+)?(?:done|complete|completed|finished)\s*:\s*{REF}$",
    rf"^(?:mark|set|flag|make|put|move|count|consider)\s+{REF}\s+(?:as\s+|to\s+)?(?:being\s+)?(?:done|"
    rf"complete|completed|finished|checked|ticked|resolved|closed)\b",
    rf"^mark\s+{REF}\s+off\b",
    rf"^(?:check|tick|cross|strike|knock)\s+off\s+{REF}$",
    rf"^(?:check|tick|cross|strike|knock)\s+{REF}\s+off\b",
    COMPLETE_COMMAND,
    rf"^(?:i\s+|i've\s+|ive\s+|we\s+|we've\s+)?(?:have\s+|just\s+|already\s+|finally\s+|now\s+|"
    rf"totally\s+)*(?:finished|completed|done|did|accomplished|wrapped up|knocked out|took care of|"
    rf"taken care of|handled|sorted(?: out)?|dealt with|got through|crossed off|ticked off|"
    rf"checked off)\s+{REF}$",
    rf"^(?:i'?m|i am|we'?re|we are)\s+(?:all\s+|now\s+|finally\s+)?(?:done|finished|"
    rf"through)\s+(?:with\s+)?{REF}$",
    rf"^(?:all\s+)?done\s+(?:with\s+)?{REF}$",
    rf"^(?:all\s+)?(?:done|finished|completed|complete)\s*[:\-–—]\s*{REF}$",
    rf"^(?:✅|✔️?|☑️?)\s*{REF}$",
    rf"^{REF}(?:\s+(?:is|are|was|were|has been|have been|got|is now|are now|is all|are all|now)|"
    rf"'s(?: been)?)\s+"
    r"(?:all\s+|now\s+|finally\s+)?(?:done|finished|completed|complete|taken care of|sorted|handled|"
    r"dealt with|over|ticked off|checked off|crossed off|out of the way|good to go|clean)\b",
    rf"^{REF}\s*(?:[:\-–—]\s*)?(?:done|finished|complete|completed|✓|✅|✔️?|☑️?)$",
]
NOT_DONE = [  # the last group, when there is one, must say "done" for the clause to be about that
    r"^(?:i|we)\s+(?:still\s+)?(?:didn'?t|did\s+not|haven'?t|have\s+not|hasn'?t|never|couldn'?t|could\s+not|"
    r"wasn'?t\s+able\s+to)\s+(?:get\s+(?:to|around\s+to)\s+)?(?:yet\s+)?(.+?)(?:\s+yet)?$",
    r"^(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:still\s+)?not\s+(?:yet\s+)?(?:done|finished|"
    r"through)\s+(?:with\s+)?(.+?)(?:\s+yet)?$",
    r"^(.+?)\s+(?:isn'?t|is\s+not|wasn'?t|was\s+not|hasn'?t\s+been|has\s+not\s+been|aren'?t|are\s+not|"
    r"haven'?t\s+been|is\s+still\s+not|still\s+isn'?t)\s+(?:yet\s+)?(\w+)(?:\s+yet)?$",
]
DONE_PRONOUN = re.compile(
    r"^(?:(?:i(?:'ve| have)?\s+)?(?:just\s+)?(?:done|finished|completed|did)\s+(?:it|that|this)|(?:it|that|"
    r"this)(?:'s| is| was| has been)\s+(?:all\s+|now\s+)?(?:done|finished|completed|complete|taken care of|"
    r"sorted)|(?:all\s+)?(?:done|finished|completed)(?:\s+with\s+(?:it|that|this))?|mark (?:it|that|"
    r"this) off)(?:\s+(?:now|already|too))?$",
    re.I,
)
DELETE = [
    rf"^(?:i(?:'ve| have)?\s+)?changed my mind (?:about|on)\s+{REF}$",
    rf"^(?:delete|remove|erase|drop|cancel|scrap|scratch|trash|bin|ditch|discard|nuke|axe|purge|strike|"
    rf"get rid of|do away with|forget(?: about)?|never ?mind(?: about)?|nevermind|cross out|lose|kill|rm|"
    rf"del)\s+{REF}"
    r"(?:\s+(?:from|off|out of)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks|todos))?$",
    rf"^take\s+{REF}\s+(?:off|out of|from)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks|todos)$",
    rf"^(?:i|we)\s+(?:don'?t|do not|no longer|won'?t)\s+(?:need|have|want|"
    rf"plan)\s+to\s+{REF}(?:\s+any\s?more)?$",
    rf"^(?:i|we)\s+(?:don'?t|do not|no longer)\s+(?:need|want)\s+{REF}(?:\s+any\s?more)?$",
    rf"^no (?:need|reason) to\s+{REF}(?:\s+any\s?more)?$",
    rf"^{REF}\s+(?:is|was|has been|got|are|were)\s+(?:cancelled|canceled|called off|no longer needed|"
    rf"not needed|"
    r"irrelevant|obsolete)(?:\s*,?\s*(?:so\s+)?(?:remove|delete|drop|scrap)\s+(?:it|that))?$",
    rf"^{REF}\s+(?:can|should)\s+(?:go|be (?:deleted|removed|dropped))$",
]


_PAST = re.compile(
    r"^(?:i|we|i've|we've|ive)?\s*(?:(?:have|just|already|finally|also|now|totally|"
    r"successfully)\s+)*(\w+)\s+(.+)$",
    re.I,
)
_PASSIVE = re.compile(
    r"^(.+?)(?:\s+(?:is|are|was|were|has been|have been|got|is now|are now|has now been|now)|"
    r"'s(?: been)?)\s+(?:all\s+|now\s+|finally\s+)?(\w+)(?:\s+(.*))?$",
    re.I,
)


def is_past(word: str) -> bool:
    word = word.lower()
    return word in IRREGULAR or (word.endswith("ed") and word not in NOT_PAST and len(word) > 3)


def past_tense(text: Text, clause: str) -> Intent | None:
    """'I fed the cat', 'bought the milk', 'the dog has been walked', 'kitchen's clean' -> a completion."""
    low = clause.lower()
    if m := _PASSIVE.match(clause):
        subject, verb, rest = m.group(1), m.group(2), m.group(3) or ""
        if (is_past(verb) or verb.lower() in {"clean", "tidy", "sorted", "ready"}) and not re.match(
            r"^(?:i|we|you|it|that|this)$", subject, re.I
        ):
            return Intent("complete", ref=Ref(query=topic(text.unmask(f"{verb} {subject} {rest}"))))
    if (
        (m := re.match(r"^(.+?)\s+(\w+)$", clause))
        and is_past(m.group(2))
        and not re.match(r"^(?:i|we|you)\b", low)
    ):
        return Intent("complete", ref=Ref(query=topic(text.unmask(f"{m.group(2)} {m.group(1)}"))))
    if m := _PAST.match(clause):
        verb = m.group(1)
        starts_with_i = bool(re.match(r"^(?:i|we)\b", low))
        if is_past(verb) or (starts_with_i and verb.lower() in SAME_PAST):
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
            return Intent("complete", ref=Ref(query=topic(text.unmask(f"{verb} {m.group(2)}"))))
    return None
