"""Where two engines' NER entities differ, document by document, and why (as far as the spans and our
own sentences and words tell): what the benchmark shows beside the speed of each engine."""

from __future__ import annotations


def _reason(
    side: str, ent, overlapping, word_starts, word_ends, sentences, name: str = "the pipeline", own: str = "ours"
) -> str:
    """Why an entity found by one side only (``ours``, called ``own``, or ``theirs``, called ``name``)
    differs, as far as the spans and our own sentences and words tell."""
    label, a, b = ent

    def inside_word(e):
        return e[1] not in word_starts or e[2] not in word_ends

    def sentence_of(pos):
        return next((i for i, (start, end) in enumerate(sentences) if start <= pos < end), None)

    if any(o[1:] == ent[1:] for o in overlapping):
        return "same span, different label"
    if side == "theirs" and sentence_of(a) != sentence_of(b - 1):
        return f"sentence boundary: {name}'s entity runs across our sentence split"
    if side == "ours" and len(overlapping) > 1:
        cuts = [o[1] for o in overlapping[1:]]
        return (
            f"{name} split a word into two entities"
            if any(c not in word_starts for c in cuts)
            else f"{name} split one entity into several at word boundaries"
        )
    if side == "theirs" and len(overlapping) > 1:
        return f"{name} merged entities that {own} keeps apart"
    if (side == "theirs" and inside_word(ent)) or any(inside_word(o) for o in overlapping if side == "ours"):
        return f"subword label disagreement: a boundary of {name} inside one of our words"
    if overlapping:
        return "boundaries differ at word level" if label == overlapping[0][0] else "boundaries and label differ"
    return f"only {own if side == 'ours' else name} found it"


def diff_entities(text: str, ours, theirs, name: str = "the pipeline", own: str = "ours") -> dict:
    """Equal / only ours / only theirs entities ``(label, start, end)`` of one document, each
    difference with the other side's overlapping entities and a reason class."""
    from ie.data.text import split_sentences

    sents = split_sentences(text)
    starts = {t.start for s in sents for t in s.tokens}
    ends = {t.end for s in sents for t in s.tokens}
    bounds = [(s.start, s.end) for s in sents]
    ours, theirs = (sorted(set(map(tuple, x)), key=lambda e: e[1:]) for x in (ours, theirs))
    diffs = []
    for side, mine, other in (("ours", ours, theirs), ("theirs", theirs, ours)):
        for ent in sorted(set(mine) - set(other), key=lambda e: e[1:]):
            overlapping = [o for o in other if o[1] < ent[2] and ent[1] < o[2]]
            diffs.append(
                {
                    "side": side,
                    "entity": list(ent),
                    "text": text[ent[1] : ent[2]],
                    "other_side": [list(o) for o in overlapping],
                    "reason": _reason(side, ent, overlapping, starts, ends, bounds, name, own),
                }
            )
    equal = len(set(ours) & set(theirs))
    return {"equal": equal, "only_ours": len(ours) - equal, "only_theirs": len(theirs) - equal, "diffs": diffs}


def agreement(texts, ours, theirs, name: str = "the pipeline", own: str = "ours") -> dict:
    """:func:`diff_entities` over documents, added up, with the count of each reason."""
    total = {"equal": 0, "only_ours": 0, "only_theirs": 0, "reasons": {}, "diffs": []}
    for d, (text, mine, other) in enumerate(zip(texts, ours, theirs)):
        one = diff_entities(text, mine, other, name, own)
        for key in ("equal", "only_ours", "only_theirs"):
            total[key] += one[key]
        for diff in one["diffs"]:
            total["reasons"][diff["reason"]] = total["reasons"].get(diff["reason"], 0) + 1
            total["diffs"].append({"doc": d, **diff})
    return total


def diff_lines(agree: dict, cap: int | None) -> list[str]:
    lines = []
    for key, a in agree.items():
        lines.append(
            f"{key}: {a['equal']} equal, {a['only_ours']} only ours, {a['only_theirs']} only theirs; "
            + ", ".join(f"{reason}: {n}" for reason, n in sorted(a["reasons"].items(), key=lambda x: -x[1]))
        )
        for d in a["diffs"][:cap]:
            other = "; ".join(f"{o[0]} [{o[1]},{o[2]})" for o in d["other_side"]) or "nothing"
            lines.append(
                f"  doc {d['doc']}: only {d['side']} {d['entity'][0]} [{d['entity'][1]},{d['entity'][2]}) "
                f"{d['text']!r} (other side: {other}) - {d['reason']}"
            )
        if cap is not None and len(a["diffs"]) > cap:
            lines.append(f"  ... and {len(a['diffs']) - cap} more (all in the JSON)")
    return lines
