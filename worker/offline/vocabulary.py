"""Word lists the grammar shares: positions, task verbs, past tenses."""

import re

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
