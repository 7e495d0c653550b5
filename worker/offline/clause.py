"""One clause -> its intents: the grammars tried in a fixed order (help, descriptions, adds, bulk
changes, renames, deletions, a single task's details, listing, completion), then a bare errand."""

import dataclasses
import re

from worker.offline import dates
from worker.offline.adding import ADD_LEAD, NEED_TO, parse_add, starts_with_verb
from worker.offline.attributes import leading_priority, parse_attribute_change
from worker.offline.changes import (
    CLEAR_DESCRIPTION,
    COMPLETE,
    COMPLETE_COMMAND,
    DELETE,
    DONE_PRONOUN,
    DONE_WORDS,
    NOT_DONE,
    REF,
    RENAME,
    RENAME_HERE,
    UPDATE_DESCRIPTION,
    UPDATE_DESCRIPTION_HERE,
    is_past,
    past_tense,
)
from worker.offline.intents import ASK, REFUSE, SUGGEST, Intent, Ref
from worker.offline.listing import HELP, SMALL_TALK, is_list, list_filters, list_status, parse_bulk
from worker.offline.moods import frame
from worker.offline.references import PLURAL, parse_ref, parse_refs, topic, trim_ref
from worker.offline.reminders import parse_reminder_change, take_repeat
from worker.offline.scheduling import has_deadline, is_when, parse_reschedule
from worker.offline.text import Text, slot_text, strip_polite, title_text

STARTER = re.compile(
    r"^(?:(?:also|then|please|and|now)\s+)*(?:add|create|put|remind me|don'?t let me forget|delete|remove|"
    r"cancel|mark|tick|check|cross|complete|rename|change|update|edit|set|show|list|display|what|tell me|"
    r"give me|clear|don'?t|do not|never)\b",
    re.I,
)


PREAMBLE_WITHIN = 300
_WH = re.compile(r"^(?:what|which|who|whom|whose|where|when|why|how)\b", re.I)
_NEGATED = re.compile(r"\b(?:not|never|no longer|nope)\b|n't\b|\bnot yet\b", re.I)


def parse_clause(text: Text, clause: str, *, asked: bool = False) -> list[Intent]:
    """asked: the sentence is a question (not a polite request like "can you …?")."""
    question = asked or clause.rstrip().endswith("?")
    clause = strip_polite(clause).rstrip(" .!?")
    mood, request = frame(clause)
    if mood:
        inner = _parse(text, request, question=False)
        if mood == ASK and re.match(r"(?i)(?:did|have|has|had)\b", clause):
            # "did I call mom?": whether the errand is done, not whether it is on the list
            inner = [
                Intent("complete", ref=Ref(query=i.title)) if i.guessed and i.title else i for i in inner
            ]
        if any(i.changes for i in inner):
            return _with_mood(inner, mood)
        if mood == REFUSE:
            return [Intent("chat", mood=REFUSE)]  # "don't touch anything"
    intents = _parse(text, clause, question=question)
    if asked and any(i.changes and not i.mood for i in intents):
        # "delete the milk task?" offers to; "when did I finish the report?" only looks
        intents = _with_mood(intents, ASK if _WH.match(clause) else SUGGEST)
    return intents


def _with_mood(intents: list[Intent], mood: str) -> list[Intent]:
    out = []
    for i in intents:
        if not i.changes or i.mood:
            out.append(i)
        elif mood == ASK and i.kind in ("complete_all", "delete_all"):  # "have I finished everything?"
            out.append(Intent("list", status="pending" if i.kind == "complete_all" else "all"))
        else:
            out.append(dataclasses.replace(i, mood=mood, guessed=False))
    return out


def _parse(text: Text, clause: str, *, question: bool) -> list[Intent]:
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
        rest = _parse(text, clause[m.end() :], question=question)
        return rest if rest[0].kind != "chat" else [Intent("chat")]

    if HELP.search(low) and not re.match(r"^help me remember\b", low):
        return [Intent("help")]

    # Descriptions (before adds: "add a note to task 3: ...")
    if m := re.match(CLEAR_DESCRIPTION, clause, re.I):
        return [Intent("update", description="", ref=parse_ref(text, m.group(1)))]
    for pattern in UPDATE_DESCRIPTION:
        if m := re.match(pattern, clause, re.I):
            return [
                Intent("update", description=slot_text(text, m.group(2)), ref=parse_ref(text, m.group(1)))
            ]
    for pattern in UPDATE_DESCRIPTION_HERE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", description=slot_text(text, m.group(1)), ref=Ref(pronoun=True))]

    if re.match(
        r"^(?:undo|revert|undo (?:that|it|this|the last (?:change|one|thing))|take (?:that|it) back)$", low
    ):
        return [Intent("undo")]

    if change := parse_attribute_change(text, clause):  # before adds: "add the work tag to the report"
        return change
    if change := parse_reminder_change(text, clause):  # "remind me about the report an hour before it's due"
        return change

    # Adds
    if ADD_LEAD.match(clause):
        need = re.match(NEED_TO + r"\s+(.+)$", clause, re.I)
        if (
            need
            and re.match(
                r"^(?:delete|remove|mark|complete|rename|update|change|check off|tick off|see|view|list|"
                r"show|clear)\b",
                need.group(1),
                re.I,
            )
            and re.search(r"\b(?:tasks?|todos?|list|items?|#?\d+|it|that|them)\b|\ue000", need.group(1), re.I)
        ):
            return _parse(text, need.group(1), question=question)  # "I need to delete task 3"
        return parse_add(text, clause)

    if bulk := parse_bulk(text, low):
        return [bulk]
    if repeating := _repeating_errand(text, clause):  # "every Monday take out the bins", "gym on Mondays"
        return repeating

    if due := parse_reschedule(text, clause):
        return due
    # Renames (also "change task 3 to done", which is a completion, and "make it Saturday", a date)
    for pattern in RENAME:
        if m := re.match(pattern, clause, re.I):
            new, ref = m.group(2).strip(), m.group(1)
            if DONE_WORDS.match(new):
                return [Intent("complete", ref=r) for r in parse_refs(text, ref)]
            if is_when(new) and text.only_quote(new) is None:
                return [Intent("reschedule", when=new, ref=parse_ref(text, ref))]
            description = None
            if d := re.search(
                r"\s*(?:,|\band\b)\s*(?:set\s+|change\s+|update\s+|with\s+|give it\s+)?(?:its|the|"
                r"a)\s+(?:description|notes?|details)\s*(?:to|as|:|of)?\s*(.+)$",
                new,
                re.I,
            ):
                new, description = new[: d.start()], slot_text(text, d.group(1))
            return [
                Intent(
                    "update", title=title_text(text, new), description=description, ref=parse_ref(text, ref)
                )
            ]
    if m := re.match(r"^(?:rename|retitle|edit|update|change|modify)\s+(.+?)$", clause, re.I):
        if not re.search(r"\b(?:to|as|into)\b|[:=]", m.group(1)):
            return [Intent("update", ref=parse_ref(text, m.group(1)))]  # asks what to change it to
    for pattern in RENAME_HERE:
        if m := re.match(pattern, clause, re.I):
            if is_when(m.group(1)) and text.only_quote(m.group(1)) is None:
                return [Intent("reschedule", when=m.group(1), ref=Ref(pronoun=True))]
            return [Intent("update", title=title_text(text, m.group(1)), ref=Ref(pronoun=True))]

    for pattern in DELETE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("delete", ref=r) for r in parse_refs(text, trim_ref(m.group(1)))]
    if re.fullmatch(
        r"(?:delete|remove|cancel|drop|scrap|scratch|trash|forget|lose|ditch|bin)(?: it| that|"
        r" this)?(?: one)?",
        low,
    ):
        return [Intent("delete", ref=Ref(pronoun=True))]
    if re.fullmatch(
        r"(?:delete|remove|cancel|drop|scrap|trash|ditch)\s+(?:them|those|these|both|all of them)", low
    ):
        return [Intent("delete_all", ref=Ref(plural=True))]

    # One task's details: "show task 3", "what's the description of the report task?"
    if m := re.match(
        r"^(?:show|display|view|open|describe|get|fetch|what(?:'s| is)|tell me about|details (?:of|for|on)|"
        r"status of)\s+(?:me\s+)?(?:the\s+)?(?:(?:details|description|title|name|status|info)\s+(?:of|for|"
        r"on)\s+)?(.+)$",
        clause,
        re.I,
    ):
        refs = parse_refs(text, m.group(1))
        about = re.search(r"\b(?:details|description|title|name|status|info)\s+(?:of|for|on)\b", low)
        if len(refs) == 1 and (refs[0].task_id is not None or (about and refs[0].query)):
            return [Intent("show", ref=refs[0])]
    if m := re.match(
        r"^(?:find|search(?: for)?|look up|look for|locate)\s+(?:(?:my|the|a)\s+)?(?:tasks?\s+)?(?:about|"
        r"for|with|called|named|containing)?\s*(.+)$",
        clause,
        re.I,
    ):
        return [Intent("show", ref=parse_ref(text, m.group(1)))]
    if m := _SEARCH.match(clause):  # "do I have a task about the gym?": is it there?
        return [Intent("add", title=topic(text.unmask(m.group(1))), mood=ASK)]
    if asking := _state_question(text, clause):
        return asking

    if m := _WHEN_DUE.match(clause):  # "when is the report due?"
        return [Intent("show", ref=parse_ref(text, next(g for g in m.groups() if g)))]
    if is_list(low):
        filters = list_filters(low)
        status = list_status(low)
        if (
            filters
            and status == "all"
            and not re.search(r"\b(?:all|every|everything|completed|done|finished)\b", low)
        ):
            status = "pending"  # "show my urgent tasks": the ones still to do
        return [Intent("list", status=status, filters=filters)]

    if m := re.match(
        rf"^(?:(?:mark|set|flag|make)\s+{REF}\s+(?:as\s+)?(?:not done|not complete|not completed|"
        rf"not finished|undone|incomplete|unfinished|pending|open|to ?do)|(?:uncheck|untick|reopen|re-open|"
        rf"uncomplete|un-complete|restore)\s+{REF})$",
        clause,
        re.I,
    ):
        return [Intent("reopen", ref=parse_ref(text, m.group(1) or m.group(2)))]
    for pattern in COMPLETE:
        if m := re.match(pattern, clause, re.I):
            phrase = trim_ref(m.group(1), done_words=True)
            more = re.match(
                r"^\s*(?:,|and|&)\s+(?:also\s+)?(.+?)(?:\s+(?:too|as well))?$", clause[m.end() :], re.I
            )
            if more and not STARTER.match(more.group(1)):
                phrase = f"{phrase} and {more.group(1)}"  # "mark call mom as done and pay rent too"
            if re.fullmatch(r"(?:all|everything|every task|all (?:my )?(?:tasks|todos))", phrase.lower()):
                return [Intent("complete_all", status="pending", ref=Ref())]
            if PLURAL.fullmatch(phrase.lower()):
                return _unless_negated(clause, [Intent("complete", ref=Ref(plural=True))])
            if pattern == COMPLETE_COMMAND and has_deadline(phrase):
                return parse_add(text, clause, bare=True)  # "finish the report by Friday": a task to do
            return _unless_negated(clause, [Intent("complete", ref=r) for r in parse_refs(text, phrase)])
    for pattern in NOT_DONE:  # "I haven't paid rent", "the report isn't finished"
        if (m := re.match(pattern, clause, re.I)) and (m.lastindex == 1 or _finished(m.group(2))):
            return [Intent("complete", ref=Ref(query=topic(text.unmask(m.group(1)))), mood=REFUSE)]
    if DONE_PRONOUN.match(low):
        return _unless_negated(clause, [Intent("complete", ref=Ref(pronoun=True))])
    if done := past_tense(text, clause):
        return _unless_negated(clause, [done])

    if SMALL_TALK.match(low):
        return [Intent("chat")]
    if (first := dates.PHRASE.match(clause)) and (rest := clause[first.end() :].lstrip(" ,:")):
        ahead = _parse(text, rest, question=question)  # "tomorrow morning I have to call the bank"
        if ahead[0].kind == "add" and all(i.when is None for i in ahead):
            return [dataclasses.replace(i, when=first.group(0)) for i in ahead]
    if (labelled := leading_priority(clause)) and (rest := _parse(text, labelled[0], question=question)):
        if rest[0].kind == "add":  # "urgent: fix the sink"
            return [dataclasses.replace(i, priority=labelled[1], guessed=False) for i in rest]
    # "So I was thinking, could you add …": what follows a preamble may be the request. Not in a long
    # clause: each comma would start another reading of the rest (quadratic in a pasted list).
    if len(clause) <= PREAMBLE_WITHIN and (m := re.match(r"^[^,:;]{3,60}[,:;]\s+(.+)$", clause)):
        rest = parse_clause(text, m.group(1))
        if rest[0].kind != "chat" and not rest[0].guessed:
            return rest
    # A bare errand ("buy milk", "call the vet tomorrow") is a task to add; a question is not
    if (
        starts_with_verb(low)
        and len(low.split()) >= 2
        and not question
        and not re.match(r"^\w+ (?:me|us|it|that|this)\b", low)
    ):
        return [dataclasses.replace(i, guessed=True) for i in parse_add(text, clause, bare=True)]
    # "dentist next Tuesday 3:30", "lunch with Ann tomorrow": a few words and a date make a task
    rest, when = dates.strip(clause)
    if when and (m := _HAVE.match(clause)):  # "I have a meeting with Jane tomorrow at 2"
        return [dataclasses.replace(i, guessed=True) for i in parse_add(text, m.group(1), bare=True)]
    if when and not question and 1 <= len(rest.split()) <= 6 and not _NOT_A_TASK.match(rest):
        return [dataclasses.replace(i, guessed=True) for i in parse_add(text, clause, bare=True)]
    return [Intent("chat")]


def _repeating_errand(text: Text, clause: str) -> list[Intent] | None:
    rest, rule, hour = take_repeat(clause)
    if not rule or not rest or _NOT_A_TASK.match(rest) or _CHANGE.search(rest):
        return None
    if not starts_with_verb(rest) and not 1 <= len(dates.strip(rest)[0].split()) <= 6:
        return None
    when = f"at {hour}" if hour else None
    adds = parse_add(text, rest, bare=True)
    return [dataclasses.replace(i, repeat=rule, when=i.when or when) for i in adds]


# "rename task 3: Weekly groceries" is a change, whatever its words
_CHANGE = re.compile(
    r"^(?:rename|retitle|delete|remove|mark|tag|untag|complete|set|show|list|find)\b|\btask\s*#?\d+|#\d+|\ue000|:",
    re.I,
)
_WHEN_DUE = re.compile(
    r"^when\s+(?:will|are|do)\s+you\s+(?:going\s+to\s+)?remind\s+me\s+(?:about|of|to)\s+(.+)$|"
    r"^(?:when(?:\s+is|'s|\s+are|\s+was)|is|are)\s+(?!(?:any|some|every|no)(?:thing|one)\b|"
    r"there\b)(.+?)\s+(?:still\s+)?due\b.*$|^(?:when(?:\s+is|'s)|what(?:'s|\s+is)\s+the\s+(?:deadline|"
    r"due\s+date|due\s+time|date)\s+(?:for|of|on))\s+(.+)$",
    re.I,
)
_HAVE = re.compile(r"^(?:i|we)(?:\s+have|'ve\s+got|\s+have\s+got|\s+got)\s+(?:a|an|my|the|our)\s+(.+)$", re.I)
_NOT_A_TASK = re.compile(
    r"^(?:i|i'm|im|we|we're|you|it|it's|that|this|he|she|they|there|what|how|why|when|where|who|is|are|do|"
    r"does|see you|bye|good|thanks|thank you|ok|okay|no|yes)\b",
    re.I,
)


def _unless_negated(clause: str, intents: list[Intent]) -> list[Intent]:
    """'I haven't paid rent', 'I did not call mom': said about a task, but not that it is done."""
    if _NEGATED.search(clause):
        return [dataclasses.replace(i, mood=REFUSE) for i in intents]
    return intents


_SEARCH = re.compile(
    r"^(?:(?:do|did|have|had)\s+(?:i|we)\s+(?:still\s+|already\s+|ever\s+)*(?:have|got|add|added|make|made|"
    r"create|created|put|save|saved)\s+|(?:is|are)\s+there\s+|(?:i|we)\s+(?:have|had)\s+|any\s+|"
    r"anything\s+)(?:a|an|any|the|some)?\s*(?:tasks?|to-?dos?|items?|reminders?|entry|entries|anything|"
    r"something|things?)?\s*(?:about|for|to|called|named|titled|regarding|on|with|mentioning|like|"
    r"re)\s+(.+?)(?:\s+(?:on|in)\s+(?:my|the)\s+(?:\w+\s+)?(?:list|tasks))?(?:\s+(?:already|yet|still))?$",
    re.I,
)
_STATE = re.compile(
    r"^(?:is|was|are|were|has|have)\s+(.+?)\s+(?:already\s+|still\s+|really\s+|now\s+|"
    r"actually\s+)*(?:been\s+)?(\w+(?:\s+off)?|(?:on|in)\s+(?:my|the)\s+(?:\w+\s+)?(?:list|"
    r"tasks))(?:\s+(?:already|yet|now))?$",
    re.I,
)


def _finished(word: str) -> bool:
    return word.lower() in ("done", "finished", "complete", "ready", "sorted") or is_past(word)


_GONE = {"deleted", "removed", "gone", "cancelled", "canceled", "dropped", "erased"}


def _state_question(text: Text, clause: str) -> list[Intent] | None:
    """'is the report done?', 'was the dentist deleted?', 'is buying milk on my list?': only a look."""
    if not (m := _STATE.match(clause)):
        return None
    state, ref = m.group(2).lower(), parse_ref(text, m.group(1))
    if re.fullmatch(
        r"(?:all\s+)?(?:(?:of\s+)?my\s+)?(?:tasks|todos|things)|everything|all", m.group(1).lower()
    ):
        return [Intent("list", status="pending")]  # "are all my tasks done?": what is still open
    if state in _GONE:
        return [Intent("delete", ref=ref, mood=ASK)]
    if state in ("done", "complete", "finished") or is_past(state.split()[0]):
        return [Intent("complete", ref=ref, mood=ASK)]
    if state in ("repeating", "recurring", "due"):  # "is the bins task repeating?"
        return [Intent("show", ref=ref)]
    if re.match(r"(?:on|in)\b", state) or state in ("there", "pending", "open", "outstanding", "left"):
        return [Intent("add", title=ref.query, mood=ASK)] if ref.query else [Intent("show", ref=ref)]
    return None
