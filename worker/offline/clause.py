"""One clause -> its intents: the grammars tried in a fixed order (help, descriptions, adds, bulk
changes, renames, deletions, a single task's details, listing, completion), then a bare errand."""

import dataclasses
import re

from worker.offline.adding import ADD_LEAD, NEED_TO, parse_add, starts_with_verb
from worker.offline.changes import (
    CLEAR_DESCRIPTION,
    COMPLETE,
    DELETE,
    DONE_PRONOUN,
    DONE_WORDS,
    REF,
    RENAME,
    RENAME_HERE,
    UPDATE_DESCRIPTION,
    UPDATE_DESCRIPTION_HERE,
    past_tense,
)
from worker.offline.intents import Intent, Ref
from worker.offline.listing import HELP, SMALL_TALK, is_list, list_status, parse_bulk
from worker.offline.references import PLURAL, parse_ref, parse_refs, trim_ref
from worker.offline.text import Text, slot_text, strip_polite, title_text

STARTER = re.compile(
    r"^(?:(?:also|then|please|and|now)\s+)*(?:add|create|put|remind me|don'?t let me forget|delete|remove|"
    r"cancel|mark|"
    r"tick|check off|cross off|complete|rename|change|update|edit|set|show|list|display|what|tell me|give me|"
    r"clear)\b",
    re.I,
)


def parse_clause(text: Text, clause: str) -> list[Intent]:
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
        rest = parse_clause(text, clause[m.end() :])
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

    # Adds
    if ADD_LEAD.match(clause):
        need = re.match(NEED_TO + r"\s+(.+)$", clause, re.I)
        if (
            need
            and re.match(
                r"^(?:delete|remove|mark|complete|rename|update|change|check off|tick off|see|view|list|show|"
                r"clear)\b",
                need.group(1),
                re.I,
            )
            and re.search(r"\b(?:tasks?|todos?|list|items?|#?\d+|it|that|them)\b|\ue000", need.group(1), re.I)
        ):
            return parse_clause(text, need.group(1))  # "I need to delete task 3"
        return parse_add(text, clause)

    if bulk := parse_bulk(text, low):
        return [bulk]

    # Renames (also "change task 3 to done", which is a completion)
    for pattern in RENAME:
        if m := re.match(pattern, clause, re.I):
            new, ref = m.group(2).strip(), m.group(1)
            if DONE_WORDS.match(new):
                return [Intent("complete", ref=r) for r in parse_refs(text, ref)]
            description = None
            if d := re.search(
                r"\s*(?:,|\band\b)\s*(?:set\s+|change\s+|update\s+|with\s+|give it\s+)?(?:its|the|"
                r"a)\s+(?:description|notes?|details)"
                r"\s*(?:to|as|:|of)?\s*(.+)$",
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
        r"status of)\s+(?:me\s+)?"
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

    if is_list(low):
        return [Intent("list", status=list_status(low))]

    if m := re.match(
        rf"^(?:(?:mark|set|flag|make)\s+{REF}\s+(?:as\s+)?(?:not done|not complete|not completed|"
        rf"not finished|undone|"
        rf"incomplete|unfinished|pending|open|to ?do)|(?:uncheck|untick|reopen|re-open|uncomplete|"
        rf"un-complete|restore)\s+{REF})$",
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
                return [Intent("complete", ref=Ref(plural=True))]
            return [Intent("complete", ref=r) for r in parse_refs(text, phrase)]
    if DONE_PRONOUN.match(low):
        return [Intent("complete", ref=Ref(pronoun=True))]
    if done := past_tense(text, clause):
        return [done]

    if SMALL_TALK.match(low):
        return [Intent("chat")]
    # "So I was thinking, could you add …": what follows a preamble may be the request
    if m := re.match(r"^[^,:;]{3,60}[,:;]\s+(.+)$", clause):
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
    return [Intent("chat")]
