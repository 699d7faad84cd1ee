"""Direction of a tagged passage change: does it expand what the platform may do (or reduce the
user's rights/information), restrict it, or only clarify/reorganise?

Written rules (docs/classifier.md, "Direction"):
1. A removed passage in a *disclosure* category (privacy categories: what is collected, shared,
   kept, protected, who is a child …) → ``expands``: the user loses information or a stated
   protection. A removed passage in a *platform-power* category (licence, liability, disputes,
   termination) → ``restricts`` when it granted the platform a power, else ``expands``.
2. An added passage → ``expands`` if it grants the platform a power ("we may", "license",
   "share", "train", "without notice" …) more than it promises protections; ``restricts`` if it
   promises protections ("we do not", "you can opt out", "we will notify" …) or sets a rule for
   others ("Don't sell user data", "may not request access", "can only target adults"). With
   neither: a statement of what the platform does with data ("We engage service providers …")
   expands in the practice categories, a statement about rights or safeguards restricts in the
   rights categories, anything else is ``neutral``. A passage that only points elsewhere ("please
   refer to the … Guidelines", "Learn more about …") is ``neutral`` (``sev1.8``).
3. A reworded passage → compare the words inserted and deleted: inserted power words or deleted
   protection words → ``expands``; the reverse → ``restricts``; otherwise ``neutral``. Two more
   signals need no power word: a *list* of kinds of data or recipients that grows ("name and
   email" → "name, email, contacts and location" collects more) or shrinks, in the categories
   that list what the platform collects or shares; and a changed *period* (data kept longer, or
   less notice of changes, expands; the reverse restricts).
4. A heading ("2.2 Your Right to Opt Out of Sales", "Sensitive interest categories"), added,
   removed or reworded, is ``neutral``: it names a topic and grants or limits nothing.

Measured against 500 labelled directions of real recorded changes (``tools/direction_eval.py``,
docs/classifier.md "Direction").
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Literal

from policywatch_shared.events import DiffOp, Direction

from policywatch_classifier.text import split_sentences

POWER_CATEGORIES = {"content_license", "liability", "dispute_resolution", "account_termination"}
#: Categories whose passages state what the platform does with data: a newly added statement of
#: the practice expands what the document says it may do, even without "we may".
PRACTICE_CATEGORIES = {
    "first_party_collection", "third_party_sharing", "advertising", "sensitive_data", "ai_training",
    "profiling_inferences", "legal_basis", "international_transfer", "law_enforcement",
    "business_transfer", "data_retention",
}  # fmt: skip
#: Categories whose passages state users' rights, choices and safeguards.
RIGHTS_CATEGORIES = {
    "user_choice_control", "user_access_edit_deletion", "privacy_contact", "data_security", "do_not_track",
}  # fmt: skip

#: Powers the platform states for itself ("we may share", "reserve the right", "without notice").
_STATED = (
    r"we (may|can|might|will) (also )?(use|share|sell|disclose|collect|transfer|train|retain|keep|"
    r"combine|process|analy[sz]e|access|license|suspend|terminate|remove|change|modify)|"
    r"reserve the right|sole discretion|at any time|without (prior )?notice|without (your )?consent|"
    r"indefinitely|as long as we|not (be )?liable|as is"
)
#: Those and the words of a practice that widens what the platform may do ("third party",
#: "advertising", "biometric", "irrevocable").
_POWER = re.compile(
    rf"\b({_STATED}|"
    r"irrevocabl\w*|perpetual|royalty[- ]free|sublicens\w*|transferable|worldwide licen[cs]e|"
    r"train\w*|fine[- ]tun\w*|sell|sale|share|sharing|disclos\w*|third[- ]part\w*|partners?|advertis\w*|"
    r"waive\w*|arbitrat\w*|class action|indemnif\w*|"
    r"publicly available|biometric|precise location|infer\w*|profil\w*)\b",
    re.I,
)
_PROTECT = re.compile(
    r"\b(we (do not|don.t|will not|won.t|never|cannot|can.t)|not (be )?used to|"
    r"only (with|if|when|to|for|where)|"
    # Prohibitions and limits on anyone (developers, advertisers, sellers: "Don't sell user data",
    # "may not request access", "Ads can only target Pinners 18 or older") protect the user too.
    r"(?:(?:do|does|must|may|shall|should|will|can) not|(?:don|doesn|mustn|shouldn|won|can).t|cannot|never) "
    r"(?:\w+ )?(?:sell|share|transfer|send|disclose|use|collect|request|access|target|combine|track|allow|"
    r"permit|store|retain|bundle|process|discriminate)|not (?:be )?(?:allowed|permitted)|prohibit\w*|"
    r"forbid\w*|(?:can|may|must) only|(?:(?<=^)|(?<=[.|!?:] ))(?:do not|don.t) \w+|"
    r"opt[- ]?(out|in)|your consent|you (can|may) (delete|object|withdraw|opt|limit|disable|turn off|choose|"
    r"access|correct|export)|right to (access|delete|object|opt|know|correct|port)|we will (notify|inform|"
    r"ask)|prior notice|advance notice|\d+ days.? notice|encrypt\w*|safeguard\w*|protect\w*|delete\w*|"
    r"minimi[sz]\w*|limited|restrict\w*|anonymi[sz]\w*|de-identified|aggregate\w*|confidential\w*)\b",
    re.I,
)

#: Categories whose passages list what the platform collects or whom it shares with: a longer list
#: broadens the practice. (Rights categories are left out: there "photos, messages" lists what
#: *you* can delete, and purposes like "personalisation" name controls as often as practices.)
LIST_CATEGORIES = {"first_party_collection", "third_party_sharing", "sensitive_data", "ai_training"}

#: Kinds of personal data and kinds of recipients a policy lists; plural where the singular reads
#: as a verb ("contact us", "message us"); a plural "s" is dropped when lists are compared.
#: Unambiguous nouns only: "post", "video", "interest", "log" or purposes ("personalisation")
#: read as other things, and a corpus check of a wider list flipped mere rewordings
#: (docs/classifier.md, "Direction").
_SCOPE = re.compile(
    r"\b(e-?mail address|e-?mail|phone number|contact list|contacts|address book|"
    r"(?:precise |approximate )?location|gps|ip address|device (?:identifier|id)|advertising id|"
    r"browsing history|search history|purchase history|payment information|credit card|"
    r"date of birth|birthday|age|gender|photos|voice recordings?|audio recordings?|messages|"
    r"face|facial \w+|fingerprints?|biometric \w+|health \w+|genetic \w+|government id|passport|"
    r"social security number|income|"
    r"affiliates|subsidiaries|partners|advertisers|vendors|service providers|data brokers|researchers|"
    r"insurers|employers)\b",
    re.I,
)
_NUMBER = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "fourteen": 14, "fifteen": 15, "eighteen": 18, "twenty": 20,
    "twenty-four": 24, "thirty": 30, "sixty": 60, "ninety": 90,
}  # fmt: skip
_UNIT_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
_PERIOD = re.compile(
    r"\b(\d{1,4}|" + "|".join(sorted(_NUMBER, key=len, reverse=True)) + r")[\s-]*(?:\(\d+\)\s*)?"
    r"(hour|day|week|month|year)s?\b",
    re.I,
)

ChangeKindLit = Literal["added", "removed", "reworded"]


#: Negation words, "n't" as a word ending ("don't", "won't", "can’t"), for both scopes below.
_NEGATION = r"not|never|no|cannot|\w+n['’]t"
#: A negation and the few words it governs ("without your" consent: "without notice" is a power).
_NOT_A_NEGATION = re.compile(r"\b(?:not|without) limit(?:ed to|ation)\b", re.I)
_NEGATED = re.compile(
    rf"\b(?:{_NEGATION}|without your)\b.*?(?=\b(?:but|however|unless|except)\b|[.;:!?|]|$)", re.I | re.S
)


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group())


def _drop_negated(text: str) -> str:
    """``text`` with its negated clauses blanked ("we do not *sell your data*"; "including but
    not limited to …" and "not limitation" negate nothing); same length, so offsets hold."""
    return _NEGATED.sub(_blank, _NOT_A_NEGATION.sub(_blank, text))


def _count(rx: re.Pattern[str], text: str) -> int:
    if not text:
        return 0
    if '"' in text or "\u201c" in text:
        # A quoted term keeps its negation: 'TikTok will not "sell" or "share"' (a CCPA term).
        text = text.replace('"', "").replace("\u201c", "").replace("\u201d", "")
    if rx is _POWER or rx is _STATED_POWER:
        text = _drop_negated(text)  # "we do not sell" grants no power
    return len(rx.findall(text))


#: In a passage about users' rights and safeguards the nouns of a practice name who or what the
#: safeguard concerns ("a certificate … by a third party auditor", "we require our partners to
#: encrypt"), not a power: only a stated power counts there.
_STATED_POWER = re.compile(rf"\b({_STATED})\b", re.I)


def _lean(text: str, category: str = "") -> int:
    """+1 when the text grants the platform powers more than it promises protections, −1 the reverse."""
    rx = _STATED_POWER if category in RIGHTS_CATEGORIES else _POWER
    power, protect = _count(rx, text), _count(_PROTECT, text)
    if power > protect:
        return 1
    if protect > power:
        return -1
    return 0


#: A negated clause, up to the end of the sentence or a "but": "we do not collect your location,
#: contacts or photos, but we share …" names no collected data and one recipient. Wider than
#: ``_NEGATED`` (a few words after the negation, which the power counts use): a list runs on.
_NEGATED_CLAUSE = re.compile(rf"\b(?:{_NEGATION}|without)\b.*?(?=\bbut\b|\bhowever\b|[.;:]|$)", re.I | re.S)
#: Words that name the same thing (a reworded list is no broader for them).
_SAME = {
    "birthday": "date of birth",
    "email": "email address",
    "e-mail": "email address",
    "e-mail address": "email address",
}


def _term(match: re.Match[str]) -> str:
    t = match.group(1).casefold()
    t = t[:-1] if t.endswith("s") and not t.endswith("ss") else t
    return _SAME.get(t, t)


def _scope_spans(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) of each kind of data or recipient the text names outside a negated
    clause (blanked to spaces, so offsets stay those of ``text``)."""
    visible = _NEGATED_CLAUSE.sub(lambda m: " " * len(m.group(0)), text)
    return [(_term(m), m.start(), m.end()) for m in _SCOPE.finditer(visible)]


#: Longest passage (tokens) whose lists are compared: the word diff grows quadratically (20,000
#: tokens: ~2.5 s), and a list is a short paragraph; longer ones (tables, walls of text) get no
#: list signal.
MAX_LIST_TOKENS = 3000

#: Words and punctuation apart: "photos." → "photos, messages and comments." inserts a list tail.
_TOKEN = re.compile(r"\w[\w'’-]*|[^\w\s]")


def _pure_spans(before: str, after: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character spans of ``after`` that were purely inserted and of ``before`` that were purely
    deleted (word diff). Replacements are left out: "date of birth" → "birthday" or "post" → "mail"
    rewords; an insertion with nothing taken out ("…, contacts and location") broadens. Not the
    change event's own word diff: the differ keeps punctuation on its words, so "photos." →
    "photos, messages." reads there as a replacement."""
    bw = [(m.start(), m.end()) for m in _TOKEN.finditer(before)]
    aw = [(m.start(), m.end()) for m in _TOKEN.finditer(after)]
    if max(len(bw), len(aw)) > MAX_LIST_TOKENS:
        return [], []
    sm = difflib.SequenceMatcher(
        a=[before[i:j].casefold() for i, j in bw], b=[after[i:j].casefold() for i, j in aw], autojunk=False
    )
    inserted, deleted = [], []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "insert":
            inserted.append((aw[j1][0], aw[j2 - 1][1]))
        elif tag == "delete":
            deleted.append((bw[i1][0], bw[i2 - 1][1]))
    return inserted, deleted


_SEP_BEFORE = re.compile(r"(?:,|\band|\bor)\s*$", re.I)  # "…email," / "…email and" ends here
_SEP_AFTER = re.compile(r"\s*(?:,|and\b|or\b)", re.I)  # ", …" / "and …" starts here
_SENTENCE_END = re.compile(r"[.!?]\s")


def _at_list_edge(text: str, start: int, end: int) -> bool:
    """Does the span ``text[start:end]`` sit at a list separator (just before or after it, or at
    its own edge) without holding a sentence end: a list that grew or shrank, not a sentence?"""
    span = text[start:end]
    if _SENTENCE_END.search(span):
        return False
    return bool(
        _SEP_BEFORE.search(text[:start])
        or _SEP_AFTER.match(span)
        or _SEP_BEFORE.search(span)
        or _SEP_AFTER.match(text[end:])
    )


@lru_cache(maxsize=64)  # one diff per reworded passage, not one per category tagged in it
def _scope_delta(before: str, after: str) -> int:
    """Kinds of data and recipients a reworded passage newly names in a list it extended (and did
    not name before) minus those a list lost (and it no longer names)."""
    inserted, deleted = _pure_spans(before, after)
    if not inserted and not deleted:
        return 0
    b_spans, a_spans = _scope_spans(before), _scope_spans(after)
    b_terms, a_terms = {t for t, _, _ in b_spans}, {t for t, _, _ in a_spans}

    def touched(spans: list[tuple[str, int, int]], pure: list[tuple[int, int]], text: str) -> set[str]:
        # Only a list growing or shrinking: the pure span begins or ends at a list separator
        # (", contacts and location" / "contacts, "), not a sentence added or taken out.
        listed = [(ps, pe) for ps, pe in pure if _at_list_edge(text, ps, pe)]
        return {t for t, s, e in spans if any(s < pe and ps < e for ps, pe in listed)}

    added = touched(a_spans, inserted, after) - b_terms
    dropped = touched(b_spans, deleted, before) - a_terms
    return len(added) - len(dropped)


def _longest_period(text: str) -> float | None:
    """The longest period the text states, in days (None: no period)."""
    days = [
        (int(m.group(1)) if m.group(1).isdigit() else _NUMBER[m.group(1).casefold()])
        * _UNIT_DAYS[m.group(2).casefold()]
        for m in _PERIOD.finditer(text)
    ]
    return max(days) if days else None


def _reworded_extra(category: str, before: str, after: str) -> int:
    """Scope and period signals of a reworded passage: > 0 expands, < 0 restricts."""
    score = 0
    if category in LIST_CATEGORIES:
        score += _scope_delta(before, after)
    if category in ("data_retention", "policy_change"):
        old, new = _longest_period(before), _longest_period(after)
        if old is not None and new is not None and old != new:
            longer = 1 if new > old else -1
            # Kept longer: more exposure. A longer notice period: more time to react.
            score += longer if category == "data_retention" else -longer
    return score


def _diff_sides(before: str, after: str, word_diff: list[DiffOp] | None) -> tuple[str, str]:
    if word_diff:
        ins = " ".join(op.text for op in word_diff if op.op == "insert")
        dele = " ".join(op.text for op in word_diff if op.op == "delete")
        return ins, dele
    # No word diff from the differ: compare word sets (order-insensitive approximation).
    bw, aw = before.split(), after.split()
    bs, as_ = set(bw), set(aw)
    return " ".join(w for w in aw if w not in bs), " ".join(w for w in bw if w not in as_)


def _outside_negation(word_diff: list[DiffOp], side: Literal["insert", "delete"]) -> str:
    """The inserted (or deleted) words of a word diff, blanked inside a negated clause of the new
    (or old) text they belong to (``_NEGATED``), as ``_count`` reads the powers of a whole text."""
    ops = [op for op in word_diff if op.op in ("equal", side)]
    # Joined by a space (a run may or may not carry its trailing space): one offset more per run.
    text = " ".join(op.text for op in ops)
    # Quotes blanked, not removed as in ``_count``, so that the offsets hold.
    text = _drop_negated(text.replace('"', " ").replace("\u201c", " ").replace("\u201d", " "))
    out: list[str] = []
    pos = 0
    for op in ops:
        if op.op == side:
            out.append(text[pos : pos + len(op.text)])
        pos += len(op.text) + 1
    return " ".join(out)


#: A heading or label, not a statement: "2.2 Your Right to Opt Out of Sales", "Licenses",
#: "> ### Sensitive interest categories". It names a topic and neither grants nor limits anything,
#: so adding, removing or rewording it alone is ``neutral``.
_HEADING_MARK = re.compile(r"^(?:>\s*)*#{1,6}\s")
_FINITE = re.compile(
    r"\b(?:may|might|can|could|will|would|must|shall|should|do|does|did|is|are|was|were|has|have|had|"
    r"\w+n['’]t|cannot)\b",
    re.I,
)
_STATEMENT_END = re.compile(r"[.!?][\"'”’)\]]*$")
_PURPOSE = re.compile(r"to [a-z]+\b", re.I)
_LIST_ITEM_END = re.compile(r"(?:[,;]|\b(?:and|or))$", re.I)
MAX_HEADING_WORDS = 16


def is_heading(text: str) -> bool:
    """Is ``text`` a heading: a marked one, or a few words with no sentence end and no verb form
    that states anything ("Sensitive interest categories", "Montana Consumer Data Privacy Act")?"""
    t = text.strip()
    if _HEADING_MARK.match(t):
        return True
    return (
        # "To create personalised ads profiles …": a purpose the platform states, not a title.
        not _PURPOSE.match(t)
        and len(t.split()) <= MAX_HEADING_WORDS
        and not _STATEMENT_END.search(t)
        and not _FINITE.search(t)
        # A list item is no heading: "encryption and pseudonymisation; and", "ads, marketing, or …".
        and not _LIST_ITEM_END.search(t)
        and t.count(",") < 2
    )


#: A statement about the platform's own handling of data ("We engage service providers …",
#: "Traffic data. Data about your use of …"), as opposed to a rule for advertisers or developers
#: ("Ads must not appeal to minors") or a definition ("'U.S. Data' means …").
_PRACTICE_SUBJECT = re.compile(r"\b(?:we|us|our|data|information)\b", re.I)
_DEFINITION = re.compile(r"^\W*[\w\s.'’-]{1,60}[\"”]?\s+(?:means|refers to|shall mean)\b", re.I)


def _states_practice(text: str) -> bool:
    return bool(_PRACTICE_SUBJECT.search(text)) and not _DEFINITION.match(text)


#: An item of a list of rules for someone else, cut from its lead-in ("Customer will not: … 19.3.2
#: use Grounded Output to train … models", "Using any Pinterest Materials to train …"): it starts
#: with a bare verb or gerund, after an optional clause number, and names no first-person actor.
_RULE_ITEM = re.compile(
    r"^\W*(?:(?:\d+(?:\.\d+)*[.)]?|[A-Za-z][.)]|\([A-Za-z]{1,4}\))\s+)?"
    r"(?:use|using|train|training|sell|selling|share|sharing|disclose|disclosing|collect|collecting|"
    r"access|accessing|scrape|scraping|copy|copying)\b",
    re.I,
)
_FIRST_PERSON = re.compile(r"\b(?:we|us|our)\b", re.I)


def _rule_for_others(text: str) -> bool:
    """A cut list item of rules for developers, advertisers or sellers, not the platform's practice."""
    return bool(_RULE_ITEM.match(text)) and not _FIRST_PERSON.search(text)


#: A sentence that only sends the reader elsewhere ("If your request relates to TikTok Shop data,
#: please refer to the … Guidelines", "Learn more about …"): it points at terms, it states none.
_POINTER = re.compile(
    r"\b(?:please (?:refer to|see|visit|review|read|consult|contact)|refer to (?:our|the)|"
    r"see (?:our|the)|learn more|for more (?:information|details)|more information (?:about|on|is)|"
    r"read (?:more|our|the)|can be found (?:at|in|here|on)|visit (?:our|the)|find (?:out )?more)\b",
    re.I,
)


#: A modal states what someone may or will do ("these Terms will change over time, so please check
#: periodically to see …"): such a sentence says more than where to look.
_MODAL = re.compile(r"\b(?:will|would|may|might|shall|must)\b", re.I)


def is_pointer(text: str) -> bool:
    """Is every sentence of ``text`` only a pointer to other terms or pages ("Learn more about …",
    "please refer to the … Guidelines")?"""
    sentences = split_sentences(text)  # stripped, none empty
    return bool(sentences) and all(_POINTER.search(s) and not _MODAL.search(s) for s in sentences)


def direction_of(
    change: ChangeKindLit,
    category: str,
    *,
    before: str | None = None,
    after: str | None = None,
    word_diff: list[DiffOp] | None = None,
) -> Direction:
    if is_heading(before or "") and is_heading(after or ""):
        return Direction.NEUTRAL
    if change == "removed":
        if category in POWER_CATEGORIES and _lean(before or "") > 0:
            return Direction.RESTRICTS
        return Direction.EXPANDS
    if change == "added":
        if category in PRACTICE_CATEGORIES and _rule_for_others(after or ""):
            # Such lists are mostly prohibitions ("will not", "must not"), which protect users as
            # the labelling guide counts them; the platform gains nothing from the item itself.
            return Direction.RESTRICTS
        if is_pointer(after or "") and not _STATED_POWER.search(after or ""):
            # Power words here name the document pointed at ("… Law Enforcement & Regulatory
            # Disclosure Guidelines"); a stated power ("we may share …") still counts.
            return Direction.NEUTRAL
        lean = _lean(after or "", category)
        if lean == 0:
            # No power or protection phrase either way: a new statement of a practice ("Traffic
            # data. Data about your use of …", "We engage service providers …") states something
            # the platform does; a new statement about users' rights or safeguards gives them one.
            if category in POWER_CATEGORIES:
                return Direction.EXPANDS
            if category in PRACTICE_CATEGORIES and _states_practice(after or ""):
                return Direction.EXPANDS
            if category in RIGHTS_CATEGORIES:
                return Direction.RESTRICTS
            return Direction.NEUTRAL
        if category in POWER_CATEGORIES and lean > 0:
            return Direction.EXPANDS
        return Direction.EXPANDS if lean > 0 else Direction.RESTRICTS
    inserted, deleted = _diff_sides(before or "", after or "", word_diff)
    if word_diff:
        # A power word inserted under a negation of its sentence is none ("You will not … (2) use
        # output … to train, fine-tune …", a rule for developers), as in an added passage.
        power_delta = _count(_POWER, _outside_negation(word_diff, "insert")) - _count(
            _POWER, _outside_negation(word_diff, "delete")
        )
    else:
        power_delta = _count(_POWER, inserted) - _count(_POWER, deleted)
    protect_delta = _count(_PROTECT, inserted) - _count(_PROTECT, deleted)
    score = power_delta - protect_delta + _reworded_extra(category, before or "", after or "")
    if score > 0:
        return Direction.EXPANDS
    if score < 0:
        return Direction.RESTRICTS
    return Direction.NEUTRAL


def has_opt_out(text: str) -> bool:
    """Does the text describe a way to opt out / object / turn the practice off?"""
    return bool(
        re.search(
            r"\b(opt[- ]?out|opt[- ]in|object|objection|turn (it )?off|disable|withdraw (your )?consent|"
            r"unless you (have )?(opted|objected|turned)|in your settings|choose not to|decline)\b",
            text,
            re.I,
        )
    )
