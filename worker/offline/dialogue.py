"""A message in its conversation: a yes to an offered change, the answer to a question back ("which one
do you mean?", "what should the task say?"), or "and eggs" after an add. Otherwise the message alone."""

import dataclasses
import re
from datetime import date

from dateutil.parser import parserinfo

from worker.offline import replies
from worker.offline.conversation import ConversationContext
from worker.offline.intents import SUGGEST, Intent, Ref
from worker.offline.language import understand
from worker.offline.references import parse_ref
from worker.offline.resolve import by_title
from worker.offline.text import Text, clean, strip_polite

ACTIONS = ("complete", "delete", "update", "reschedule")
BULK = ("complete_all", "delete_all")

_YES = re.compile(
    r"^(?:(?:yes|yeah|yea|yep|yup|ya|y|sure|ok|okay|k|alright|all right|go ahead|go for it|do it|please do|"
    r"please|confirm(?:ed)?|absolutely|definitely|of course|correct|right|that'?s right|exactly|affirmative|"
    r"proceed|sounds good|fine|why not|let'?s do it|you bet|i'?m sure|i am sure|do that|that'?s fine|"
    r"yes please|that one|this one|👍|✅)\b[\s,.!]*)+(?:(?:delete|remove|clear|mark|complete|check off|"
    r"tick off|add|rename)\s+(?:them|it|all|everything|both|those|all of them|that|"
    r"the lot)(?:\s+(?:as\s+)?(?:done|complete|completed))?)?[\s,.!]*$",
    re.I,
)
_NO = re.compile(
    r"^\W*(?:no|nope|nah|n|cancel|don'?t|do not|stop|wait|never ?mind|forget it|not now|not yet|no thanks|"
    r"hold on|hold off|leave it|leave them|keep (?:them|it|everything)|abort|negative|no way)\b",
    re.I,
)


_YES_WORD = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|alright|please|go ahead)\b[\s,.!]*", re.I)


def is_yes(message: str) -> bool:
    return bool(_YES.match(clean(message).strip(" .!")))


def _agrees(message: str, context: ConversationContext) -> bool:
    """A yes, or a yes that says the offered change again: "yes, delete them all"."""
    if is_yes(message):
        return True
    if not (m := _YES_WORD.match(message)):
        return False
    waiting = {i.kind for i in understand(context.previous_user) if held(i)}
    same = {
        "delete": "delete_all",
        "complete": "complete_all",
        "delete_all": "delete",
        "complete_all": "complete",
    }
    said = understand(message[m.end() :])
    return all(
        (i.kind in waiting or same.get(i.kind) in waiting) and (i.ref.plural or i.ref.pronoun or i.ref.empty)
        for i in said
    )


def interpret(message: str, context: ConversationContext) -> list[Intent]:
    if replies.offers(context.previous_answer):
        if _agrees(message, context):
            return _confirmed(context)
        if _NO.match(message) or _NO.match(strip_polite(message)):
            return [Intent("cancel")]
    if context.previous_answer.startswith(replies.ASK_DATE) and (chosen := _answer_to_date(message, context)):
        return chosen
    intents = understand(message)
    answer = _answer_to_question(message, intents, context) or _answer_to_ask(message, intents, context)
    if answer:
        return answer
    # "add milk" … "and eggs": more of the same
    more = re.match(r"^\W*(?:and|also|plus|oh and|and also)\s+(.+)$", clean(message), re.I)
    adding = context.last_actions and all(name == "add_task" for name, _, _ in context.last_actions)
    if more and adding and all(i.kind == "chat" or i.guessed for i in intents):
        return understand("add " + more.group(1))
    return intents


def held(intent: Intent) -> bool:
    """Whether an intent waited for a yes: a bulk change, several tasks at once, or a hedged request."""
    if intent.mood == SUGGEST:
        return True
    if not intent.mood and intent.remind:  # a reminder for a time that had passed
        return True
    return not intent.mood and (intent.kind in BULK or (intent.kind in ACTIONS and intent.ref.plural))


def _confirmed(context: ConversationContext) -> list[Intent]:
    """The yes to an offer: the requests of the message before that waited for it, now to be done."""
    waiting = [i for i in understand(context.previous_user) if held(i)]
    return [dataclasses.replace(i, mood="", confirmed=True) for i in waiting] or [Intent("chat")]


_READING = re.compile(r"\w+day, (\w+) (\d{1,2})(?:, (\d{4}))?")


def _answer_to_date(message: str, context: ConversationContext) -> list[Intent] | None:
    """After "Is that May 12 or December 5?", the reply picks one; the request is read again with it."""
    names = parserinfo()
    readings = [
        date(int(y) if y else context.now.year, names.month(m) or 1, int(d))
        for m, d, y in _READING.findall(context.previous_answer)
    ]
    low = message.lower()
    chosen = None
    if re.search(r"\b(?:first|former|the 1st one)\b", low):
        chosen = readings[0]
    elif re.search(r"\b(?:second|latter|last|other)\b", low):
        chosen = readings[-1]
    else:
        said = [r for r in readings if re.search(rf"\b{r:%B}\b|\b{r:%b}\b", message, re.I)]
        chosen = said[0] if len(said) == 1 else None
    slashed = re.search(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b", context.previous_user)
    if chosen is None or slashed is None:
        return None
    again = (
        context.previous_user[: slashed.start()] + chosen.isoformat() + context.previous_user[slashed.end() :]
    )
    return understand(again)


def _answer_to_ask(message: str, intents: list[Intent], context: ConversationContext) -> list[Intent] | None:
    """After "what should the task say?" or "what should I change it to?", the reply is the text asked for."""
    if len(intents) != 1 or not (intents[0].kind == "chat" or intents[0].guessed):
        return None
    words = strip_polite(clean(message))
    words = re.sub(
        r"^(?:call it|name it|make it|rename it to|change it to|it should say|to)\s+", "", words, flags=re.I
    )
    if not words or replies.SMALL_TALK.match(words):
        return None
    text = Text(words)
    title = text.only_quote(text.masked) or words[:1].upper() + words[1:]
    if context.previous_answer == replies.ASK_TITLE:
        return [Intent("add", title=title)]
    earlier = understand(context.previous_user)
    if context.previous_answer == replies.ASK_CHANGE and len(earlier) == 1 and earlier[0].kind == "update":
        return [dataclasses.replace(earlier[0], title=title)]
    return None


def _answer_to_question(
    message: str, intents: list[Intent], context: ConversationContext
) -> list[Intent] | None:
    """After "Which one do you mean…?" or "I couldn't find…", a short reply names the task meant."""
    asked = context.previous_answer
    if not replies.asks_which(asked) and replies.NOT_FOUND_MARK not in asked:
        return None
    earlier = [i for i in understand(context.previous_user) if i.kind in (*ACTIONS, "show") and not i.mood]
    if not earlier:
        return None
    only = intents[0] if len(intents) == 1 else None
    candidates = replies.parse_candidates(asked)
    if len(candidates) == 1 and is_yes(message):  # "Do you mean “Buy milk”?" "yes"
        return [dataclasses.replace(earlier[0], ref=Ref(task_id=candidates[0]["id"]))]
    if only is None or re.match(
        r"^\W*(?:never ?mind|forget it|cancel|no|nope|nothing|neither|none|ok|okay|thanks?|thank you|stop)\b",
        message,
        re.I,
    ):
        return None
    if only.kind == "chat" or only.guessed:
        text = Text(message)
        ref = parse_ref(text, strip_polite(text.masked))
    elif (
        only.kind == "update"
        and only.title
        and only.ref.pronoun
        and re.match(r"^\W*(?:i\s+)?(?:meant|mean)\b", strip_polite(clean(message)), re.I)
    ):
        ref = Ref(query=only.title)
    else:
        return None
    if candidates:
        if ref.plural:
            chosen = candidates
        elif ref.ordinal is not None:
            index = ref.ordinal - 1 if ref.ordinal > 0 else ref.ordinal
            chosen = [candidates[index]] if -len(candidates) <= index < len(candidates) else []
        elif ref.query:
            chosen = by_title(ref.query, candidates).tasks
        else:
            chosen = []
        if chosen:
            return [dataclasses.replace(earlier[0], ref=Ref(task_id=t["id"])) for t in chosen]
    if ref.empty or ref.pronoun:
        return None
    return [dataclasses.replace(earlier[0], ref=ref)]
